package cli

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"casefile/server/store/pgstore"
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
	if code, _, errs := runMain(t, "", "admin", "--data", dir, "move-to", pg); code == 0 || !strings.Contains(errs, "already holds a casefile store with data") {
		t.Errorf("second move-to: exit %d, %q", code, errs)
	}
}
