package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"casefile/config"
	"casefile/localdb"
	"casefile/model"
	"casefile/server"
	"casefile/syncer"
)

// demoServer runs the sync server the way the demo does, on a free port.
func demoServer(t *testing.T, dirs demoDirs) (*server.Server, string) {
	t.Helper()
	s, err := schema()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.Open(context.Background(), server.Options{DataDir: t.TempDir(), Schema: s, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-served
		srv.Close()
	})
	return srv, "http://" + ln.Addr().String()
}

// openClient opens a demo client's database: a demo directory carries
// its key, stored unprotected beside the data, so no passphrase is asked.
func openClient(t *testing.T, dir string) *localdb.DB {
	t.Helper()
	return openTestDB(t, dir, "")
}

// TestDemoSeedLeavesAliceOneConflictAndBobThreeMatters seeds the demo
// through the real server and checks what each person then has: alice's
// first sync meets bob's change of the caretaker note, and bob never sees
// the matter that is alice's alone.
func TestDemoSeedLeavesAliceOneConflictAndBobThreeMatters(t *testing.T) {
	dirs := demoDirs(t.TempDir())
	srv, base := demoServer(t, dirs)
	s, _ := schema()
	ctx := context.Background()
	if err := seedDemo(ctx, srv, base, dirs, s); err != nil {
		t.Fatal(err)
	}
	if !dirs.seeded() {
		t.Fatal("the seed did not leave its marker")
	}
	seed, err := loadDemoSeed()
	if err != nil {
		t.Fatal(err)
	}

	alice := openClient(t, dirs.client("alice"))
	creds, err := config.LoadCredentials(dirs.client("alice"))
	if err != nil {
		t.Fatal(err)
	}
	st, _ := alice.Status(ctx)
	if st.Counts[model.StatePending] != 1 || st.Conflicts != 0 {
		t.Fatalf("before alice syncs: %+v", st)
	}
	sy := syncer.New(alice, syncer.Options{Server: creds.Server, Token: creds.Token, Device: creds.Device})
	sum, err := sy.RunOnce(ctx)
	sy.Close()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Conflicts != 1 {
		t.Fatalf("alice's first sync: %+v, want one conflict", sum)
	}
	cs, _ := alice.Conflicts(ctx)
	if len(cs) != 1 || len(cs[0].Fields) != 1 || cs[0].Fields[0].Field != seed.Conflict.Field ||
		cs[0].Fields[0].Mine != seed.Conflict.Alice || cs[0].Fields[0].Theirs != seed.Conflict.Bob {
		t.Fatalf("conflict = %+v", cs)
	}
	counts, _ := alice.CollectionCounts(ctx)
	for _, name := range s.Names() {
		if counts[name] == 0 {
			t.Errorf("the demo seeds no %s", name)
		}
	}
	if counts[model.MatterCollection] != len(seed.Matters) {
		t.Errorf("alice has %d matters, want %d", counts[model.MatterCollection], len(seed.Matters))
	}

	bob := openClient(t, dirs.client("bob"))
	n, _ := bob.Count(ctx, localdb.ListQuery{Collection: model.MatterCollection})
	if n != 3 {
		t.Fatalf("bob has %d matters, want the 3 shared ones", n)
	}
	kestrel, _ := bob.Search(ctx, "Kestrel", 10)
	if len(kestrel) != 0 {
		t.Fatalf("bob sees alice's own matter: %v", kestrel)
	}
}

func TestDemoDates(t *testing.T) {
	today := time.Date(2026, 3, 10, 8, 0, 0, 0, time.Local)
	got, err := expandDates(model.Fields{"a": "@date+6", "b": "@date-41", "c": "@datetime+14 10:00", "d": "plain", "e": 3.0}, today)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 24, 10, 0, 0, 0, time.Local).Format(time.RFC3339)
	want := model.Fields{"a": "2026-03-16", "b": "2026-01-28", "c": at, "d": "plain", "e": 3.0}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if _, err := expandDates(model.Fields{"a": "@date+soon"}, today); err == nil {
		t.Fatal("a bad date was accepted")
	}
}

func TestDemoArguments(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"demo", "--as", "carol"}, 2, `--as must be alice or bob, not "carol"`},
		{[]string{"demo", "--port", "0"}, 2, "--port must be between 1 and 65535"},
		{[]string{"demo", "--as", "bob", "--reset"}, 2, "--reset belongs to the demo's server side"},
		{[]string{"demo", "extra"}, 2, "demo takes no arguments"},
	} {
		r := h.run(c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("casefile %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), r.code, r.stderr, c.code, c.want)
		}
	}
}

func TestDemoBobNeedsARunningServer(t *testing.T) {
	h := newHarness(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := h.run("demo", "--as", "bob", "--dir", t.TempDir(), "--port", fmt.Sprint(port))
	if r.code != 1 || !strings.Contains(r.stderr, "no demo server answers on port") || !strings.Contains(r.stderr, "make run") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestDemoPortTaken(t *testing.T) {
	h := newHarness(t)
	busy := &http.Server{ReadHeaderTimeout: time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go busy.Serve(ln)
	defer busy.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	r := h.run("demo", "--dir", dir, "--port", fmt.Sprint(port))
	if r.code != 1 || !strings.Contains(r.stderr, fmt.Sprintf("port %d is taken: a demo may already be running", port)) {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a refused demo wrote to its directory: %v", entries)
	}
}
