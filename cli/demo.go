package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"casefile/config"
	"casefile/protocol"
	"casefile/server"
	"casefile/vault"
)

// DefaultDemoPort is where the demo server listens on 127.0.0.1.
const DefaultDemoPort = 8750

// demoCommands are the commands of this file, for the command table.
func demoCommands() []Command {
	return []Command{
		{
			Name:    "demo",
			Usage:   "[--as alice|bob] [--dir DIR] [--port N] [--reset]",
			Summary: "Try Casefile: an embedded server, two users, a firm's matters, and the UI (what make run runs)",
			Run:     runDemo,
		},
	}
}

func runDemo(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	as := fs.String("as", "alice", "who to be: alice starts the demo server, bob joins a running one")
	dir := fs.String("dir", ".demo", "the demo's directory: server store and each user's data")
	port := fs.Int("port", DefaultDemoPort, "the demo server's port on 127.0.0.1")
	reset := fs.Bool("reset", false, "throw the demo's data away and seed it again (alice only)")
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("demo takes no arguments (got %q)", strings.Join(pos, " "))
	}
	if *as != "alice" && *as != "bob" {
		return usageError("--as must be alice or bob, not %q", *as)
	}
	if *port < 1 || *port > 65535 {
		return usageError("--port must be between 1 and 65535, not %d", *port)
	}
	if *reset && *as != "alice" {
		return usageError("--reset belongs to the demo's server side: run it as alice")
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return fmt.Errorf("demo directory %s: %w", *dir, err)
	}
	dirs := demoDirs(abs)
	base := fmt.Sprintf("http://127.0.0.1:%d", *port)
	if *as == "bob" {
		return joinDemo(ctx, env, dirs, base, *port)
	}
	return hostDemo(ctx, env, dirs, base, *port, *reset)
}

// hostDemo is alice's side: the server, the seed, then alice's UI.
func hostDemo(ctx context.Context, env *Env, dirs demoDirs, base string, port int, reset bool) error {
	// The port first: a demo already running keeps its directory untouched.
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("port %d is taken: a demo may already be running. Join it with 'casefile demo --as bob', or pick another port with --port", port)
	}
	if err != nil {
		return fmt.Errorf("listen on 127.0.0.1:%d: %w", port, err)
	}
	defer ln.Close() // after Serve took it, closing again is harmless
	if !reset && !dirs.seeded() {
		if _, err := os.Stat(dirs.server()); err == nil {
			fmt.Fprintln(env.Stderr, "casefile demo: the last demo setup did not finish; starting it again.")
			reset = true
		}
	}
	if reset {
		if err := dirs.reset(); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dirs.server(), 0o700); err != nil {
		return fmt.Errorf("create the demo directory: %w", err)
	}
	logFile, err := os.OpenFile(filepath.Join(dirs.server(), "server.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open the demo server's log: %w", err)
	}
	defer logFile.Close()
	s, err := schema()
	if err != nil {
		return err
	}
	srv, err := server.Open(ctx, server.Options{DataDir: dirs.server(), Schema: s,
		Logger: slog.New(slog.NewTextHandler(logFile, nil))})
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		<-served
		srv.Close()
	}()
	if !dirs.seeded() {
		fmt.Fprintln(env.Stderr, "casefile demo: creating alice and bob and a small firm's matters…")
		if err := seedDemo(ctx, srv, base, dirs, s); err != nil {
			return fmt.Errorf("%w (run 'casefile demo --reset' to start over)", err)
		}
	}
	printDemoIntro(env, dirs, base, "alice")
	return openDemoUI(ctx, env, dirs, base, "alice")
}

// joinDemo is bob's side: log in to the running demo server, open the UI.
func joinDemo(ctx context.Context, env *Env, dirs demoDirs, base string, port int) error {
	hctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(hctx, http.MethodGet, base+protocol.PathHealth, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("no demo server answers on port %d. Start it first in another terminal with 'make run' (or 'casefile demo')", port)
	}
	resp.Body.Close()
	printDemoIntro(env, dirs, base, "bob")
	return openDemoUI(ctx, env, dirs, base, "bob")
}

// openDemoUI logs user in when needed and runs the UI on the user's own
// data directory inside the demo directory.
func openDemoUI(ctx context.Context, env *Env, dirs demoDirs, base, user string) error {
	env.DataDir = dirs.client(user)
	env.storedKeyMeant, env.startDB = true, true
	if err := ensureGeneratedKey(env.DataDir); err != nil {
		return err
	}
	db, cfg, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	creds, err := config.LoadCredentials(cfg.DataDir)
	if err != nil || creds.Server != base || !creds.ExpiresAt.After(time.Now().Add(time.Minute)) {
		// First visit, another port, or an old token: log in again.
		if creds, err = demoLogin(ctx, base, user, cfg.DataDir); err != nil {
			return err
		}
	}
	return runUI(ctx, env, db, cfg, &creds, demoHint(user))
}

// demoHint is the line the UI's help shows during the demo.
func demoHint(user string) string {
	const key = " Demo data is encrypted with a key stored beside it (not protected)."
	if user == "bob" {
		return "Demo: you are bob. alice's window runs the server; edits in one appear in the other." + key
	}
	return "Demo: in a second terminal, 'casefile demo --as bob' (or make run AS=bob) opens bob's window." + key
}

func printDemoIntro(env *Env, dirs demoDirs, base, user string) {
	w := env.Stdout
	fmt.Fprintf(w, "\nCasefile demo\n\n")
	fmt.Fprintf(w, "  Server    %s (SQLite store in %s)\n", base, dirs.server())
	fmt.Fprintf(w, "  You are   %s (password %s); your data is in %s\n", user, demoPassword(user), dirs.client(user))
	fmt.Fprintf(w, "  Demo key  your data is encrypted with a key stored beside it (%s): no passphrase, no protection\n", vault.FileName)
	if user == "alice" {
		fmt.Fprintf(w, "\n  Second window: run 'casefile demo --as bob' (or 'make run AS=bob') to be bob.\n")
		fmt.Fprintf(w, "  On a fresh demo a conflict waits for you: bob and you both changed the caretaker's statement.\n")
		fmt.Fprintf(w, "  Press 2 to review it, o to work offline, s to sync now, ? for every key, q to quit.\n")
		fmt.Fprintf(w, "  Quitting stops the demo server; 'casefile demo --reset' starts over.\n\n")
	} else {
		fmt.Fprintf(w, "\n  Edit a note here and watch it appear in alice's window, or the other way round.\n")
		fmt.Fprintf(w, "  Press o to work offline, edit the same note in both windows, and review the conflict.\n\n")
	}
}
