package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"

	"casefile/apiclient"
	"casefile/config"
	"casefile/dropfolder"
	"casefile/localdb"
	"casefile/model"
	"casefile/syncer"
	"casefile/transfer"
	"casefile/ui"
)

// tuiCommands are the commands of this file, for the command table.
func tuiCommands() []Command {
	return []Command{
		{
			Name:    "tui",
			Usage:   "",
			Summary: "Open the terminal UI (what casefile does with no command)",
			Run:     runTUI,
		},
	}
}

func runTUI(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("tui takes no arguments (got %q)", strings.Join(pos, " "))
	}
	db, cfg, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	creds, err := config.LoadCredentials(cfg.DataDir)
	switch {
	case errors.Is(err, config.ErrNoCredentials):
		return runUI(ctx, env, db, cfg, nil, "")
	case err != nil:
		return err
	}
	return runUI(ctx, env, db, cfg, &creds, "")
}

// runUI runs the terminal UI over db until the person quits: with a
// syncer when creds is set, in local mode otherwise. Logs go to the data
// directory's casefile.log, never to the terminal; the config file is
// watched so theme and key changes apply at once.
func runUI(ctx context.Context, env *Env, db *localdb.DB, cfg config.Config, creds *config.Credentials, hint string) error {
	logFile, err := os.OpenFile(config.LogPath(cfg.DataDir), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open the log: %w", err)
	}
	defer logFile.Close()
	logger := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: cfg.SlogLevel()}))
	// Anything that logs through the defaults while the UI owns the
	// terminal goes to the file too.
	prevSlog, prevLog := slog.Default(), log.Writer()
	slog.SetDefault(logger)
	log.SetOutput(logFile)
	defer func() {
		slog.SetDefault(prevSlog)
		log.SetOutput(prevLog)
	}()
	logger = logger.With("component", "ui")

	zone, err := cfg.Zone()
	if err != nil {
		return err
	}
	opts := ui.Options{
		DB:        db,
		Settings:  ui.Settings{Theme: cfg.Theme, Keys: cfg.Keys},
		Hint:      hint,
		Zone:      zone,
		DateOrder: cfg.DateOrder,
	}
	// The background work (sync, transfers, the drop folder) stops before
	// a wipe, and in any case when the UI ends, newest first.
	var background []func()
	var stopOnce sync.Once
	stopBackground := func() {
		stopOnce.Do(func() {
			for i := len(background) - 1; i >= 0; i-- {
				background[i]()
			}
		})
	}
	defer stopBackground()
	if creds != nil {
		so, err := uiSyncOptions(ctx, env, db, cfg, *creds)
		if err != nil {
			return err
		}
		s := syncer.New(db, so)
		s.Start(ctx)
		background = append(background, func() { s.Close() })
		opts.Syncer, opts.User, opts.Server = s, creds.User, hostOf(creds.Server)
	}
	files, err := openFiles(ctx, env, db, cfg)
	if err != nil {
		return err
	}
	openDir, releaseOpenDir, err := holdOpeningDir(cfg.DataDir, openingBase(env))
	if err != nil {
		return err
	}
	// The plaintext copies handed to the opener and the editor go when the
	// UI does; a UI killed leaves them to the next command (sweepDeadUIs).
	defer releaseOpenDir()
	opts.Files = ui.Files{Store: files, OpenDir: openDir}
	opts.TempDir = openDir
	if creds != nil {
		if api, err := apiclient.NewClient(creds.Server, creds.Token, nil, apiclient.WithRequestTimeout(cfg.RequestTimeout)); err == nil {
			// Files move beside the records: at once when one is attached
			// or asked for, and every sync interval.
			// Progress reports reach the UI when it keeps up; one it is
			// too busy for is dropped (the next comes within a chunk).
			progress := make(chan transfer.Progress, 16)
			report := func(p transfer.Progress) {
				select {
				case progress <- p:
				default:
				}
			}
			opts.Files.Progress = progress
			r := transfer.NewRunner(transfer.New(db, files, api, transfer.Options{Logger: logger, Progress: report}), cfg.SyncInterval)
			r.Start(ctx)
			background = append(background, r.Close)
			opts.Files.Kick = r.Kick
		}
	}
	if root := uiDropFolder(cfg); root != "" {
		w := dropfolder.New(db, files, dropfolder.Options{Root: root, KeepOriginals: cfg.DropKeepOriginals, Logger: logger,
			// A file imported goes up at once.
			Imported: opts.Files.Kick})
		if err := w.Start(ctx); err != nil {
			logger.Warn("the drop folder is not watched", "err", err)
		} else {
			background = append(background, func() { w.Close() })
		}
	}
	var wiped atomic.Pointer[ExitError]
	if creds != nil {
		opts.Wipe = func() (string, error) {
			stopBackground()
			err := wipeRevoked(context.WithoutCancel(ctx), env, db, cfg.DataDir)
			var ee *ExitError
			if errors.As(err, &ee) && ee.Code == exitLoggedOut {
				wiped.Store(ee)
				return ee.Err.Error(), nil
			}
			return "", err
		}
	}
	if cfg.Path != "" {
		if fw, err := ui.WatchFile(cfg.Path, logger); err == nil {
			defer fw.Close()
			path := cfg.Path
			opts.ConfigChanged = fw.C
			opts.Reload = func() (ui.Settings, error) {
				c, _, err := config.LoadEnv(path, env.Getenv)
				return ui.Settings{Theme: c.Theme, Keys: c.Keys}, err
			}
		} else {
			logger.Info("the config file is not watched", "err", err)
		}
	}
	lock, closeLock, err := lockOptions(env, cfg.DataDir)
	if err != nil {
		return err
	}
	defer closeLock()
	opts.Lock = lock
	logger.Info("start", "data", cfg.DataDir, "server", opts.Server, "user", opts.User)
	p := tea.NewProgram(ui.New(opts), tea.WithContext(ctx), tea.WithInput(inputOf(env)), tea.WithOutput(outputOf(env)))
	final, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		// Interrupted by a signal (or the terminal closed): a normal way
		// out, but what was being typed is kept, not dropped unseen.
		return keepUnsaved(env, opts.DB, final)
	}
	if err != nil {
		return fmt.Errorf("terminal UI: %w", err)
	}
	if ee := wiped.Load(); ee != nil {
		return ee // said again on the terminal, now the screen is back
	}
	return nil
}

// uiDropFolder is the drop folder the UI watches: the configured one, or
// the default one if it exists already (the UI does not make folders in
// a person's home unasked; casefile inbox does).
func uiDropFolder(cfg config.Config) string {
	root := cfg.ResolvedDropFolder()
	if root == "" || cfg.DropFolder != "" {
		return root
	}
	if st, err := os.Stat(root); err == nil && st.IsDir() {
		return root
	}
	return ""
}

// openingBase is where the UI makes its directory for the plaintext
// copies of the files a person opens (the opener needs a path) and the
// texts they edit: never the data directory, whose bytes are sealed, but
// the user's runtime directory ($XDG_RUNTIME_DIR, memory-backed and
// private on a systemd machine), else the system's temporary directory.
// The directory (holdOpeningDir) is readable by the user only.
func openingBase(env *Env) string {
	base := env.Getenv("XDG_RUNTIME_DIR")
	if st, err := os.Stat(base); base == "" || err != nil || !st.IsDir() {
		base = os.TempDir()
	}
	return base
}

// uiSyncOptions are the UI's syncer's options. Work offline, when the
// person left it on, holds from the start: the syncer makes no request
// until they switch it off.
func uiSyncOptions(ctx context.Context, env *Env, db *localdb.DB, cfg config.Config, creds config.Credentials) (syncer.Options, error) {
	offline, err := db.WorkOffline(ctx)
	if err != nil {
		return syncer.Options{}, err
	}
	o := syncOptions(env, cfg, creds)
	o.Logger, o.WorkOffline = slog.Default(), offline
	return o, nil
}

// inputOf is the terminal to read keys from: env.Stdin when it is the
// process's own (Bubble Tea opens the TTY itself), else what the test gave.
func inputOf(env *Env) io.Reader {
	if env.Stdin == nil {
		return os.Stdin
	}
	return env.Stdin
}

func outputOf(env *Env) io.Writer {
	if env.Stdout == nil {
		return os.Stdout
	}
	return env.Stdout
}

// hostOf shortens a server URL for the header: "https://a.b:8750/x" → "a.b:8750".
func hostOf(server string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	return s
}

// keepUnsaved keeps the form the UI had open with unsaved typing, when a
// signal ended it, in the journal (localdb.KeepDraft), and says so.
func keepUnsaved(env *Env, db *localdb.DB, final tea.Model) error {
	m, ok := final.(interface {
		UnsavedForm() (collection, recordID string, fields model.Fields, ok bool)
	})
	if !ok || db == nil {
		return nil
	}
	collection, id, fields, ok := m.UnsavedForm()
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.KeepDraft(ctx, collection, id, fields); err != nil {
		return fmt.Errorf("stopped with a form unsaved, which could not be kept: %w", err)
	}
	fmt.Fprintln(env.Stderr, "casefile: stopped with a form unsaved; what was typed is kept in the journal (casefile journal), and nothing of it was saved")
	return nil
}
