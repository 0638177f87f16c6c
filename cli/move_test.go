package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"casefile/model"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/server/store"
	"casefile/server/store/pgstore"
	"casefile/server/store/sqlitestore"
	"casefile/server/storetest"
)

// TestAdminMoveTo moves a data directory's store to PostgreSQL through
// the command line, after its refusals: a bad URL, a running server, and
// then a target that already holds the moved data.
func TestAdminMoveTo(t *testing.T) {
	pg := storetest.PostgresURL(t)
	dir := t.TempDir()
	if code, _, errs := runMain(t, "s3cret-enough\n", "admin", "--data", dir, "user", "add", "alice", "--role", "admin"); code != 0 {
		t.Fatalf("user add: %s", errs)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"admin", "--data", dir, "move-to", "mysql://db/casefile"}, "move-to takes a postgres:// URL"},
		{[]string{"admin", "--data", dir, "move-to", "postgres://casefile@db:port/casefile"}, "the database URL is not one PostgreSQL takes"},
		{[]string{"admin", "--data", dir, "move-to"}, "usage: casefile admin --data DIR move-to"},
		{[]string{"admin", "--database", pg, "move-to", pg}, "move-to moves the store of --data DIR"},
		{[]string{"admin", "--data", t.TempDir(), "move-to", pg}, "no server database in"},
	} {
		if code, _, errs := runMain(t, "", c.args...); code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %q", c.args, code, errs, c.want)
		}
	}

	// A running server holds the directory: the move waits for it to stop.
	ctx, cancel := context.WithCancel(context.Background())
	_, done, _ := startServe(t, ctx, regexp.MustCompile(`listening on`), "--config", os.DevNull, "serve", "--addr", "127.0.0.1:0", "--data", dir, "--log-level", "warn")
	code, _, errs := runMain(t, "", "admin", "--data", dir, "move-to", pg)
	cancel()
	<-done
	if code == 0 || !strings.Contains(errs, "a casefile serve is running on") || !strings.Contains(errs, "stop it first") {
		t.Errorf("move beside a running server: exit %d, %q", code, errs)
	}
	if found, err := pgstore.Exists(context.Background(), pg); err != nil || found {
		t.Errorf("a refused move left a store behind (%v, %v)", found, err)
	}

	code, out, errs := runMain(t, "", "admin", "--data", dir, "move-to", pg)
	if code != 0 {
		t.Fatalf("move-to: exit %d: %s", code, errs)
	}
	for _, want := range []string{"moved " + dir + " to postgres", "users", "chain verified", "devices need nothing"} {
		if !strings.Contains(out, want) {
			t.Errorf("move-to's summary lacks %q:\n%s", want, out)
		}
	}
	if code, out, errs := runMain(t, "", "admin", "--database", pg, "audit", "verify"); code != 0 || !strings.Contains(out, "audit log OK") {
		t.Errorf("audit verify after the move: %d %s %s", code, out, errs)
	}
	if code, out, _ := runMain(t, "", "admin", "--database", pg, "user", "list"); code != 0 || !strings.Contains(out, "alice") {
		t.Errorf("user list after the move: %s", out)
	}
	if code, _, errs := runMain(t, "", "admin", "--database", pg, "move-to", pg); code == 0 || !strings.Contains(errs, "move-to moves the store of --data DIR") {
		t.Errorf("move-to with --database: exit %d, %q", code, errs)
	}

	// The old copy is marked: a server or an admin write on it would part
	// it from the PostgreSQL store, which devices now sync with.
	refused := func(what string, args ...string) {
		t.Helper()
		// A command that does not refuse may serve: it is stopped, and
		// fails the test, after a while.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var out, errb bytes.Buffer
		code := Main(ctx, append([]string{"--config", os.DevNull}, args...), strings.NewReader("s3cret-enough\n"), &out, &errb)
		errs := errb.String()
		if code == 0 || !strings.Contains(errs, "was moved to postgres") || !strings.Contains(errs, "remove "+dir+"/MOVED") {
			t.Errorf("%s on the moved directory: exit %d, %q", what, code, errs)
		}
	}
	refused("serve", "serve", "--addr", "127.0.0.1:0", "--data", dir)
	refused("user add", "admin", "--data", dir, "user", "add", "bob")
	refused("user list", "admin", "--data", dir, "user", "list")
	refused("a second move", "admin", "--data", dir, "move-to", pg)
	if code, out, errs := runMain(t, "", "admin", "--data", dir, "audit", "verify"); code != 0 || !strings.Contains(out, "audit log OK") {
		t.Errorf("audit verify of the old copy (reads only): %d %s %s", code, out, errs)
	}
	if err := os.Remove(dir + "/MOVED"); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runMain(t, "", "admin", "--data", dir, "move-to", pg); code == 0 || !strings.Contains(errs, "already holds a casefile store with data") {
		t.Errorf("second move-to: exit %d, %q", code, errs)
	}
}

// TestAdminMoveToKilled kills the real binary in the middle of a move:
// PostgreSQL drops the open transaction with the connection, so the
// target holds nothing, and the next move succeeds.
func TestAdminMoveToKilled(t *testing.T) {
	pg := storetest.PostgresURL(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	srv := servertest.Start(t, func(o *server.Options) { o.DataDir = dir })
	alice := srv.NewUser(t, "alice", server.RoleMember)
	matter := alice.CreateMatter(t, "Smith v Jones")
	// The notes go in through the store, in one transaction: pushing
	// them took most of the test's time under the race detector.
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, sqlitestore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	const notes = 30000
	now := time.Now()
	err = st.Write(ctx, func(tx store.Tx) error {
		for i := range notes {
			seq, err := tx.NextSeq(ctx)
			if err != nil {
				return err
			}
			if err := tx.PutRecord(ctx, store.Record{ID: model.NewID(), Collection: "note", MatterID: matter.ID, Version: 1, Seq: seq,
				Fields: model.Fields{model.MatterField: matter.ID, "title": fmt.Sprint("note ", i)}, FieldVersions: map[string]int64{"title": 1},
				CreatedBy: "alice", CreatedAt: now, UpdatedBy: "alice", UpdatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "--config", os.DevNull, "admin", "--data", dir, "move-to", pg)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stderr)
	for lines.Scan() && !strings.Contains(lines.Text(), "copied access_events") {
	}
	// The records, thirty thousand of them, are being copied now.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("the move ended before it was killed: %v", err)
	}
	if found, err := pgstore.Exists(context.Background(), pg); err != nil || found {
		t.Fatalf("a killed move left a store behind (%v, %v)", found, err)
	}
	code, out, errs := runMain(t, "", "admin", "--data", dir, "move-to", pg)
	if code != 0 || !regexp.MustCompile(`(?m)^records +30001$`).MatchString(out) {
		t.Fatalf("move after a killed one: exit %d\n%s%s", code, out, errs)
	}
}

// TestMoveAndAdminExcludeEachOther: admin commands run beside a server,
// so the serve lock does not keep them off a move; the move lock does. An
// admin write during a move would be left behind in the old copy (a
// device revoked there and not in PostgreSQL), so each refuses while the
// other runs, changing nothing.
func TestMoveAndAdminExcludeEachOther(t *testing.T) {
	pg := storetest.PostgresURL(t)
	dir := t.TempDir()
	if code, _, errs := runMain(t, "s3cret-enough\n", "admin", "--data", dir, "user", "add", "alice"); code != 0 {
		t.Fatalf("user add: %s", errs)
	}
	moving, err := lockMoveDir(dir, true) // as a move under way holds it
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"user", "add", "bob"}, {"devices", "revoke", "alice", "laptop"}, {"user", "list"}} {
		code, _, errs := runMain(t, "s3cret-enough\n", append([]string{"admin", "--data", dir}, args...)...)
		if code == 0 || !strings.Contains(errs, "is being moved to PostgreSQL") {
			t.Errorf("admin %v during a move: exit %d, %q", args, code, errs)
		}
	}
	moving()

	using, err := lockMoveDir(dir, false) // as an admin command holds it
	if err != nil {
		t.Fatal(err)
	}
	code, _, errs := runMain(t, "", "admin", "--data", dir, "move-to", pg)
	if code == 0 || !strings.Contains(errs, "admin command is using") {
		t.Errorf("move-to beside an admin command: exit %d, %q", code, errs)
	}
	if found, err := pgstore.Exists(context.Background(), pg); err != nil || found {
		t.Errorf("a refused move left a store behind (%v, %v)", found, err)
	}
	using()
	if code, out, errs := runMain(t, "", "admin", "--data", dir, "move-to", pg); code != 0 || !regexp.MustCompile(`(?m)^users +1$`).MatchString(out) {
		t.Fatalf("move-to once alone: exit %d\n%s%s", code, out, errs)
	}
}
