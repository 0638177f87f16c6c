package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"casefile/config"
	"casefile/localdb"
	"casefile/model"
	"casefile/vault"
)

// harness runs casefile in-process against its own data directory and a
// config path that does not exist (so the user's own config never leaks in).
type harness struct {
	t      *testing.T
	data   string
	config string
	stdin  string
	// env is the whole environment commands see (nothing of the
	// process's own), so tests need no t.Setenv and can run in parallel.
	env   map[string]string
	hooks testHooks
	// passphrase is $CASEFILE_PASSPHRASE unless env sets it: the data
	// directory is encrypted with it.
	passphrase string
}

type result struct {
	stdout, stderr string
	code           int
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	// An empty config file: a named file must exist, and the tests that
	// need settings write theirs over it.
	cfgPath := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfgPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, data: t.TempDir(), config: cfgPath, passphrase: testPassphrase}
	withTestKey(t, h.data)
	return h
}

// testPassphrase encrypts the data directories of the CLI's tests.
const testPassphrase = "test passphrase"

// withTestKey gives dir a key wrapped by testPassphrase at the cheap test
// cost, and its database, as casefile init leaves them (a directory with a
// key and no database has lost it); the harness gives casefile the
// passphrase in $CASEFILE_PASSPHRASE, as a script would.
func withTestKey(t *testing.T, dir string) {
	t.Helper()
	k, err := vault.CreateWithCost(dir, []byte(testPassphrase), vault.TestCost)
	if err != nil {
		t.Fatal(err)
	}
	s, err := schema()
	if err != nil {
		t.Fatal(err)
	}
	db, err := localdb.Open(context.Background(), config.DBPath(dir), s, localdb.WithSealer(k))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// openTestDB opens the database of a data directory made by the CLI.
func openTestDB(t *testing.T, dir, passphrase string) *localdb.DB {
	t.Helper()
	s, err := schema()
	if err != nil {
		t.Fatal(err)
	}
	k, err := vault.Unlock(dir, []byte(passphrase))
	if err != nil {
		t.Fatal(err)
	}
	db, err := localdb.Open(context.Background(), config.DBPath(dir), s, localdb.WithSealer(k))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func (h *harness) run(args ...string) result {
	h.t.Helper()
	var out, errb bytes.Buffer
	full := append([]string{"--data", h.data, "--config", h.config}, args...)
	env := &Env{Stdin: strings.NewReader(h.stdin), Stdout: &out, Stderr: &errb, Getenv: h.getenv, LookupEnv: h.lookupEnv, hooks: h.hooks}
	code := run(context.Background(), env, full)
	return result{out.String(), errb.String(), code}
}

// getenv is the harness's environment: h.env, empty elsewhere.
func (h *harness) getenv(k string) string {
	if v, ok := h.env[k]; ok || k != EnvPassphrase {
		return v
	}
	return h.passphrase
}

// lookupEnv is getenv telling unset from empty: a variable is set when
// h.env holds it (even as ""), and $CASEFILE_PASSPHRASE when h.passphrase
// is not empty.
func (h *harness) lookupEnv(k string) (string, bool) {
	if v, ok := h.env[k]; ok {
		return v, true
	}
	if k == EnvPassphrase && h.passphrase != "" {
		return h.passphrase, true
	}
	return "", false
}

// ok runs a command that must succeed and returns its stdout.
func (h *harness) ok(args ...string) string {
	h.t.Helper()
	r := h.run(args...)
	if r.code != 0 {
		h.t.Fatalf("casefile %s: exit %d\nstderr: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// okJSON runs a command that must succeed and decodes its stdout into v.
func (h *harness) okJSON(v any, args ...string) {
	h.t.Helper()
	out := h.ok(args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		h.t.Fatalf("casefile %s: stdout is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// add creates a record and returns its id.
func (h *harness) add(collection string, assignments ...string) string {
	h.t.Helper()
	id := strings.TrimSpace(h.ok(append([]string{"add", collection}, assignments...)...))
	if !model.ValidID(id) {
		h.t.Fatalf("add printed %q, not an id", id)
	}
	return id
}

// db opens the harness's database directly (the CLI must have closed it).
func (h *harness) db() *localdb.DB {
	h.t.Helper()
	return openTestDB(h.t, h.data, h.getenv(EnvPassphrase))
}

// snapshot is everything a command could change: records (tombstones
// included), the outbox and the journal, as JSON.
func (h *harness) snapshot() string {
	h.t.Helper()
	db := h.db()
	defer db.Close()
	return h.snapshotOf(db)
}

// snapshotOf is snapshot through a database handle the caller keeps open.
func (h *harness) snapshotOf(db *localdb.DB) string {
	h.t.Helper()
	ctx := context.Background()
	var all struct {
		Records []model.Record
		Outbox  []localdb.OutboxOp
		Journal []localdb.JournalEntry
	}
	s, _ := schema()
	for _, name := range s.Names() {
		recs, err := db.List(ctx, localdb.ListQuery{Collection: name, IncludeDeleted: true})
		if err != nil {
			h.t.Fatal(err)
		}
		all.Records = append(all.Records, recs...)
	}
	slices.SortFunc(all.Records, func(a, b model.Record) int { return strings.Compare(a.ID, b.ID) })
	var err error
	if all.Outbox, err = db.Outbox(ctx); err != nil {
		h.t.Fatal(err)
	}
	if all.Journal, err = db.Journal(ctx, localdb.JournalQuery{}); err != nil {
		h.t.Fatal(err)
	}
	b, err := json.Marshal(all)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

// count returns how many live records a collection has.
func (h *harness) count(collection string) int {
	h.t.Helper()
	db := h.db()
	defer db.Close()
	n, err := db.Count(context.Background(), localdb.ListQuery{Collection: collection})
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// seed creates a matter with a note and returns their ids.
func (h *harness) seed() (matter, note string) {
	h.t.Helper()
	matter = h.add("matter", "title=Smith v Jones", "client=Ana Smith", "status=open")
	note = h.add("note", "matter_id="+matter, "title=First meeting", "tags=intake,urgent", "status=draft")
	return matter, note
}

// unknownID is a well-formed id that no test creates.
const unknownID = "0190f3a2-7c1e-7b3d-9f00-2a6c1d5e8b41"
