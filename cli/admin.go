package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"casefile/protocol"
	"casefile/server"
	"casefile/server/store/pgstore"
	"casefile/server/store/sqlitestore"
)

// adminCommands are the commands of this file, for the command table.
func adminCommands() []Command {
	return []Command{
		{
			Name: "admin",
			Usage: "[--data DIR | --database URL] SUBCOMMAND\n\n" +
				"  user add NAME [--role admin|member|viewer]   password read from stdin (one line)\n" +
				"  user list\n" +
				"  grant NAME MATTER_ID\n" +
				"  revoke NAME MATTER_ID\n" +
				"  tokens revoke NAME [--device D]\n" +
				"  devices NAME                  the user's devices, last seen, revoked\n" +
				"  devices revoke NAME DEVICE    a lost device: its tokens never work again, it wipes itself\n" +
				"  audit verify\n" +
				"  move-to postgres://…          copy this --data store into an empty PostgreSQL store (stop the server first)",
			Summary: "Manage the server's users, access, tokens and audit log",
			Run:     runAdmin,
		},
	}
}

// adminSubcommands lists what admin does, for its usage sentences.
const adminSubcommands = "user add, user list, grant, revoke, tokens revoke, devices, devices revoke, audit verify, move-to"

func runAdmin(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	var sf storeFlags
	sf.define(fs)
	role := fs.String("role", string(server.RoleMember), "user add: the role (admin, member or viewer)")
	device := fs.String("device", "", "tokens revoke: only this device's tokens")
	rest, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return usageError("name a subcommand: %s", adminSubcommands)
	}
	sub := strings.Join(rest[:min(2, len(rest))], " ")
	want := func(n int, usage string) error {
		if len(rest) != n {
			return usageError("usage: casefile admin %s", usage)
		}
		return nil
	}
	var run func(*server.Server) error
	switch {
	case sub == "user add":
		if err := want(3, "user add NAME [--role ROLE]"); err != nil {
			return err
		}
		password, err := readPassword(env, "Password for "+rest[2])
		if err != nil {
			return err
		}
		run = func(s *server.Server) error {
			if err := s.AddUser(ctx, rest[2], password, protocol.Role(*role)); err != nil {
				return adminError(err)
			}
			fmt.Fprintf(env.Stdout, "added %s (%s)\n", rest[2], *role)
			return nil
		}
	case sub == "user list":
		if err := want(2, "user list"); err != nil {
			return err
		}
		run = func(s *server.Server) error {
			users, err := s.Users(ctx)
			if err != nil {
				return err
			}
			t := newTable(env.Stdout, "NAME", "ROLE", "ADDED")
			for _, u := range users {
				t.row(u.Name, string(u.Role), u.CreatedAt.Local().Format("2006-01-02 15:04"))
			}
			return t.flush()
		}
	case rest[0] == "grant" || rest[0] == "revoke":
		verb := rest[0]
		if err := want(3, verb+" NAME MATTER_ID"); err != nil {
			return err
		}
		run = func(s *server.Server) error {
			f := s.Grant
			if verb == "revoke" {
				f = s.Revoke
			}
			if err := f(ctx, rest[1], rest[2]); err != nil {
				return adminError(err)
			}
			if verb == "grant" {
				fmt.Fprintf(env.Stdout, "%s now has access to matter %s\n", rest[1], rest[2])
			} else {
				fmt.Fprintf(env.Stdout, "%s no longer has access to matter %s\n", rest[1], rest[2])
			}
			return nil
		}
	case sub == "tokens revoke":
		if err := want(3, "tokens revoke NAME [--device D]"); err != nil {
			return err
		}
		run = func(s *server.Server) error {
			n, err := s.RevokeTokens(ctx, rest[2], *device)
			if err != nil {
				return adminError(err)
			}
			fmt.Fprintf(env.Stdout, "revoked %d token(s) of %s\n", n, rest[2])
			return nil
		}
	case rest[0] == "devices" && len(rest) == 2:
		run = func(s *server.Server) error { return listDevices(ctx, env, s, rest[1]) }
	case rest[0] == "devices" && sub != "devices revoke":
		return usageError("usage: casefile admin devices NAME, or casefile admin devices revoke NAME DEVICE")
	case sub == "devices revoke":
		if err := want(4, "devices revoke NAME DEVICE"); err != nil {
			return err
		}
		run = func(s *server.Server) error {
			if err := s.RevokeDevice(ctx, rest[2], rest[3]); err != nil {
				return adminError(err)
			}
			fmt.Fprintf(env.Stdout, "revoked device %q of %s: its tokens never work again; at its next contact it deletes its copy and keeps unsent changes in an encrypted export\n", rest[3], rest[2])
			return nil
		}
	case rest[0] == "move-to":
		if err := want(2, "--data DIR move-to postgres://USER@HOST/DATABASE"); err != nil {
			return err
		}
		return runMoveTo(ctx, env, sf, rest[1])
	case sub == "audit verify":
		if err := want(2, "audit verify"); err != nil {
			return err
		}
		run = func(s *server.Server) error {
			rep, err := s.VerifyAudit(ctx)
			return auditReport(env, rep, err)
		}
	default:
		return usageError("unknown admin subcommand %q (subcommands: %s)", sub, adminSubcommands)
	}
	opts, err := sf.options(env)
	if err != nil {
		return err
	}
	// Only "user add" may create a server database; anything else on a
	// directory without one is a mistake in --data.
	if opts.DataDir != "" && sub != "user add" {
		if _, err := os.Stat(filepath.Join(opts.DataDir, sqlitestore.FileName)); err != nil {
			return fmt.Errorf("no server database in %s (give --data, or start with 'casefile admin user add')", opts.DataDir)
		}
	}
	if opts.DatabaseURL != "" && sub != "user add" {
		found, err := pgstore.Exists(ctx, opts.DatabaseURL)
		if err != nil {
			return err
		}
		if !found {
			return errors.New("no casefile server database at the --database URL (check its database name and search_path, or start with 'casefile admin user add')")
		}
	}
	if sub == "audit verify" && opts.DataDir != "" {
		// Verifying reads only: an auditor's copy, or a file they may
		// not write, is opened as it is.
		st, err := sqlitestore.OpenReadOnly(ctx, filepath.Join(opts.DataDir, sqlitestore.FileName))
		if err != nil {
			return err
		}
		defer st.Close()
		rep, err := server.VerifyAudit(ctx, st)
		return auditReport(env, rep, err)
	}
	if opts.DataDir != "" {
		// Shared with other admin commands, refused during a move: a
		// write now would be left behind by a move under way.
		release, err := lockMoveDir(opts.DataDir, false)
		if err != nil {
			return err
		}
		defer release()
		if err := notMoved(opts.DataDir); err != nil {
			return err
		}
	}
	opts.Logger = slog.New(slog.DiscardHandler)
	opts.CompactEvery = -1
	s, err := server.Open(ctx, opts)
	if err != nil {
		return err
	}
	defer s.Close()
	return run(s)
}

// auditReport prints what admin audit verify found.
func auditReport(env *Env, rep server.AuditReport, err error) error {
	if err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("audit log BROKEN at row %d: %s (%d rows checked)", rep.BrokenAt, rep.Problem, rep.Rows)
	}
	fmt.Fprintf(env.Stdout, "audit log OK (%d rows)\n", rep.Rows)
	return nil
}

// adminError turns the server's sentinel errors into one sentence.
func adminError(err error) error {
	for _, sentinel := range []error{server.ErrInvalid, server.ErrNoUser, server.ErrUserExists, server.ErrNoMatter} {
		if errors.Is(err, sentinel) {
			msg := err.Error()
			if i := strings.LastIndex(msg, ": "+sentinel.Error()); i >= 0 {
				msg = msg[i+2:]
			}
			return errors.New(strings.TrimPrefix(msg, server.ErrInvalid.Error()+": "))
		}
	}
	return err
}

// readPassword reads one line from stdin: without echo on a terminal where
// the platform allows it, and refuses an empty password.
func readPassword(env *Env, prompt string) (string, error) {
	f, isFile := env.Stdin.(*os.File)
	if isFile && isTTY(f) {
		line, echoed, err := readHidden(f, env.Stderr, prompt)
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		if echoed {
			fmt.Fprintln(env.Stderr, "(the password was shown as you typed: this terminal cannot hide it)")
		}
		return checkPasswordLine(line)
	}
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	return checkPasswordLine(line)
}

func checkPasswordLine(line string) (string, error) {
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("the password is empty: write it on stdin, one line")
	}
	return pw, nil
}

// listDevices prints a user's devices with when each was last seen.
func listDevices(ctx context.Context, env *Env, s *server.Server, user string) error {
	devs, err := s.Devices(ctx, user)
	if err != nil {
		return adminError(err)
	}
	t := newTable(env.Stdout, "DEVICE", "FIRST SEEN", "LAST SEEN", "REVOKED")
	for _, d := range devs {
		revoked := "-"
		if !d.RevokedAt.IsZero() {
			revoked = d.RevokedAt.Local().Format("2006-01-02 15:04")
		}
		t.row(d.Name, d.FirstSeen.Local().Format("2006-01-02 15:04"), d.LastSeen.Local().Format("2006-01-02 15:04"), revoked)
	}
	return t.flush()
}
