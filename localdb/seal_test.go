package localdb

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"casefile/model"
	"casefile/protocol"
	"casefile/vault"
)

// canary is a phrase no casefile file may hold in plaintext once sealed.
const canary = "Zanzibarcanary"

// openSealed opens a fresh encrypted database and returns it with its keys.
func openSealed(t *testing.T) (*DB, *vault.Keys, string) {
	t.Helper()
	k := mustKeys(t)
	path := filepath.Join(t.TempDir(), "casefile.db")
	db, err := Open(bg, path, testSchema(t), WithSealer(k))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, k, path
}

// rawFilesHold reports which files of dir hold needle, in any case.
func rawFilesHold(t *testing.T, dir, needle string) []string {
	t.Helper()
	var hits []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		for _, n := range []string{needle, strings.ToLower(needle), strings.ToUpper(needle)} {
			if bytes.Contains(b, []byte(n)) {
				hits = append(hits, e.Name())
				break
			}
		}
	}
	return hits
}

// A canary written every way the database takes text (create, update,
// import, a pull, a conflict, a refusal, the journal) is nowhere in the
// files: not in the database, its WAL, nor its shared memory.
func TestSealedCanaryNeverOnDisk(t *testing.T) {
	db, _, path := openSealed(t)
	m := syncedMatter(t, db)
	n := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "Call " + canary, "body": canary + " body"})
	mustUpdate(t, db, n.ID, model.Fields{"tags": []any{canary}})
	if err := db.Import(bg, "note", []ImportItem{{Fields: model.Fields{"matter_id": m, "title": "imported " + canary}}}); err != nil {
		t.Fatal(err)
	}
	pulled := syncedNote(t, db, m, 2, model.Fields{"title": "from the server " + canary})
	mustUpdate(t, db, pulled, model.Fields{"title": "mine " + canary})
	ops := nextBatch(t, db, 10)
	var conflictOp, refusedOp OutboxOp
	for _, o := range ops {
		switch o.RecordID {
		case pulled:
			conflictOp = o
		case n.ID:
			refusedOp = o
		}
	}
	conflictOn(t, db, conflictOp, &protocol.Record{ID: pulled, Collection: "note", Version: 3,
		Fields: model.Fields{"matter_id": m, "title": "theirs " + canary}}, "title")
	answer(t, db, protocol.OpResult{OpID: refusedOp.OpID, Result: model.ResultRejected, Code: "invalid", Message: "no"})
	if got, err := db.Search(bg, canary, 10); err != nil || len(got) < 2 {
		t.Fatalf("search for the canary found %d, %v", len(got), err)
	}
	if hits := rawFilesHold(t, filepath.Dir(path), canary); len(hits) > 0 {
		t.Fatalf("the canary is in plaintext in %v", hits)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if hits := rawFilesHold(t, filepath.Dir(path), canary); len(hits) > 0 {
		t.Fatalf("after close, the canary is in plaintext in %v", hits)
	}
}

// The same writes in a plaintext database do leave the canary in the file:
// the check above can see plaintext when there is some.
func TestPlaintextCanaryIsFound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casefile.db")
	db, err := Open(bg, path, testSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := syncedMatter(t, db)
	mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "Call " + canary})
	if hits := rawFilesHold(t, filepath.Dir(path), canary); len(hits) == 0 {
		t.Fatal("the plaintext canary was not found: the check is blind")
	}
}

// A database opens only with the key that sealed it, and a value moved,
// altered or replaced by plaintext is refused, never shown.
func TestSealedKeysAndTampering(t *testing.T) {
	db, k, path := openSealed(t)
	m := syncedMatter(t, db)
	a := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "alpha"})
	b := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "beta"})
	if !db.Encrypted() {
		t.Fatal("not encrypted")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(bg, path, testSchema(t)); !errors.Is(err, ErrLocked) {
		t.Fatalf("open without a key: %v", err)
	}
	if _, err := Open(bg, path, testSchema(t), WithSealer(mustKeys(t))); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("open with another key: %v", err)
	}
	db, err := Open(bg, path, testSchema(t), WithSealer(k))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := mustGet(t, db, a.ID); got.Fields["title"] != "alpha" {
		t.Fatalf("reopened: %v", got.Fields)
	}

	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.w.ExecContext(bg, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	// Swap two records' sealed fields: each is refused at its new place.
	exec(`UPDATE records SET fields = (SELECT fields FROM records WHERE id = ?) WHERE id = ?`, b.ID, a.ID)
	if _, err := db.Get(bg, a.ID); !errors.Is(err, ErrUnsealed) {
		t.Fatalf("a value moved from another record: %v", err)
	}
	if _, err := db.List(bg, ListQuery{Collection: "note"}); !errors.Is(err, ErrUnsealed) {
		t.Fatalf("a list holding a moved value: %v", err)
	}
	// Plaintext slipped in: refused too.
	exec(`UPDATE records SET fields = '{"title":"forged"}' WHERE id = ?`, a.ID)
	if _, err := db.Get(bg, a.ID); !errors.Is(err, ErrUnsealed) {
		t.Fatalf("plaintext in an encrypted database: %v", err)
	}
	// A create's fields are its journal entry's. Pointed at another
	// record's entry, they are refused; at an entry that is not there, the
	// op is not read as one without fields.
	var entry int64
	if err := db.w.QueryRowContext(bg, `SELECT fields_entry FROM outbox WHERE record_id = ? AND fields IS NULL`, b.ID).Scan(&entry); err != nil {
		t.Fatalf("b's create does not refer to its journal entry: %v", err)
	}
	exec(`UPDATE outbox SET fields_entry = (SELECT fields_entry FROM outbox WHERE record_id = ?) WHERE record_id = ?`, a.ID, b.ID)
	if _, err := db.Outbox(bg); !errors.Is(err, ErrUnsealed) {
		t.Fatalf("an op given another record's entry: %v", err)
	}
	exec(`UPDATE outbox SET fields_entry = ? WHERE record_id = ?`, entry+1000, b.ID)
	if _, err := db.Outbox(bg); !errors.Is(err, errNoFieldsEntry) {
		t.Fatalf("an op whose entry is missing: %v", err)
	}
	exec(`UPDATE outbox SET fields_entry = ? WHERE record_id = ?`, entry, b.ID)
	if ops, err := db.Outbox(bg); err != nil || len(ops) != 2 || ops[1].Fields["title"] != "beta" {
		t.Fatalf("restored: %+v %v", ops, err)
	}
	// An edit folded into the create gives the op its own copy. One
	// flipped bit of it: refused.
	mustUpdate(t, db, b.ID, model.Fields{"title": "beta 2"})
	var raw []byte
	if err := db.w.QueryRowContext(bg, `SELECT fields FROM outbox WHERE record_id = ? AND fields_entry IS NULL`, b.ID).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-1] ^= 1
	exec(`UPDATE outbox SET fields = ? WHERE record_id = ?`, raw, b.ID)
	if _, err := db.Outbox(bg); !errors.Is(err, ErrUnsealed) {
		t.Fatalf("an altered op: %v", err)
	}
	if _, err := db.Journal(bg, JournalQuery{}); err != nil {
		t.Fatalf("the journal, untouched, should still read: %v", err)
	}
}

// A plaintext database that holds data is not silently mixed with sealed
// values: opening it with a key asks for a conversion. An empty one simply
// becomes encrypted.
func TestPlaintextWithDataNeedsConversion(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "casefile.db")
	db, err := Open(bg, path, testSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	mustMatter(t, db, "Smith")
	db.Close()
	if _, err := Open(bg, path, testSchema(t), WithSealer(mustKeys(t))); !errors.Is(err, ErrPlaintext) {
		t.Fatalf("key on a plaintext database: %v", err)
	}
	empty := filepath.Join(dir, "empty.db")
	db, err = Open(bg, empty, testSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	k := mustKeys(t)
	db, err = Open(bg, empty, testSchema(t), WithSealer(k))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if !db.Encrypted() {
		t.Fatal("an empty database opened with a key is not encrypted")
	}
}

// Search in an encrypted database finds records by whole words of every
// searchable field, folding case and accents, and follows edits.
func TestSealedSearchWholeWords(t *testing.T) {
	db, _, _ := openSealed(t)
	m := syncedMatter(t, db)
	n := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "Call the Clerk", "body": "about the café", "tags": []any{"urgent"}})
	mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "Draft the motion"})
	for q, want := range map[string]int{"clerk": 1, "CLERK call": 1, "cafe": 1, "CAFÉ": 1, "urgent": 1, "the": 2, "motion": 1, "cle": 0, "clerk motion": 0} {
		got, err := db.Search(bg, q, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want {
			t.Errorf("search %q found %d, want %d", q, len(got), want)
		}
		if c, err := db.Count(bg, ListQuery{Text: q}); err != nil || c != want {
			t.Errorf("count %q = %d, %v; want %d", q, c, err, want)
		}
	}
	mustUpdate(t, db, n.ID, model.Fields{"title": "Email the registrar"})
	if got, _ := db.Search(bg, "clerk", 10); len(got) != 0 {
		t.Fatalf("the old word is still found")
	}
	if got, _ := db.Search(bg, "registrar", 10); len(got) != 1 {
		t.Fatalf("the new word is not found")
	}
}
