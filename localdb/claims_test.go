package localdb

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"casefile/model"
)

// A second process opening the file (a CLI command beside the UI) leaves
// the ops the first has in flight as they are: they are being sent, not
// interrupted, and the journal says nothing of a stop.
func TestOpeningAgainLeavesAnotherHandlesSendsAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casefile.db")
	ui := openAt(t, path)
	m := syncedMatter(t, ui)
	n := mustCreate(t, ui, "note", model.Fields{"matter_id": m, "title": "in flight"})
	sent := nextBatch(t, ui, 10)
	if len(sent) != 1 {
		t.Fatalf("batch %+v", sent)
	}
	cli := openAt(t, path)
	mustCreate(t, cli, "note", model.Fields{"matter_id": m, "title": "from a script"})
	if err := cli.Close(); err != nil {
		t.Fatal(err)
	}
	for _, o := range outbox(t, ui) {
		if o.OpID == sent[0].OpID && o.State != OpSyncing {
			t.Fatalf("the op in flight is %s after another process opened the file, want syncing", o.State)
		}
	}
	wantState(t, ui, n.ID, model.StateSyncing)
	for _, e := range journalOf(t, ui, "") {
		if e.Kind == JournalRetry {
			t.Fatalf("the journal says %q", e.Summary)
		}
	}
}

// Ops a process that ended left in flight go back to the queue while
// another process keeps the file open: its next batch after
// claimSweepEvery takes them, as sent (their resend carries the head
// they were first sent after). A live sender's are never taken.
func TestOpsOfAnEndedSenderGoBackWhileAnotherStaysOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casefile.db")
	var mu sync.Mutex
	at := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return at }
	later := func(d time.Duration) { mu.Lock(); at = at.Add(d); mu.Unlock() }
	open := func() *DB {
		db, err := Open(bg, path, testSchema(t), append(testSealing(t), WithClock(clock))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	ui := open()
	m := syncedMatter(t, ui)
	n := mustCreate(t, ui, "note", model.Fields{"matter_id": m, "title": "sent by the script"})
	script := open()
	sent := nextBatch(t, script, 10)
	if len(sent) != 1 || sent[0].RecordID != n.ID {
		t.Fatalf("the script's batch %+v", sent)
	}
	lock := filepath.Join(path+claimsSuffix, script.claims.owner+claimLockSuffix)
	if _, err := os.Stat(lock); err != nil {
		t.Fatalf("the script holds no lock file: %v", err)
	}
	later(2 * claimSweepEvery)
	if got := nextBatch(t, ui, 10); len(got) != 0 {
		t.Fatalf("the UI took a live sender's op: %+v", got)
	}
	wantState(t, ui, n.ID, model.StateSyncing)

	// The script's process ends (kill -9): its lock goes with it, its
	// lock file and its op in syncing stay.
	script.Abandon()
	later(claimSweepEvery / 2)
	if got := nextBatch(t, ui, 10); len(got) != 0 {
		t.Fatalf("the UI swept before claimSweepEvery: %+v", got)
	}
	later(claimSweepEvery)
	got := nextBatch(t, ui, 10)
	if len(got) != 1 || got[0].OpID != sent[0].OpID || got[0].Attempts != 2 {
		t.Fatalf("the ended sender's op is not sent again under its id: %+v", got)
	}
	if !got[0].Resent {
		t.Fatalf("the op taken back is not counted as maybe sent: %+v", got[0])
	}
	if _, err := os.Stat(lock); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the ended sender's lock file is still there: %v", err)
	}
	var said bool
	for _, e := range journalOf(t, ui, "") {
		said = said || e.Kind == JournalRetry
	}
	if !said {
		t.Fatal("the journal does not say the interrupted send will be made again")
	}
}

// An op in syncing that names no owner was claimed before owners were:
// the next open takes it back, a handle's sweep does not.
func TestOwnerlessSendsGoBackAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casefile.db")
	db := openAt(t, path)
	m := syncedMatter(t, db)
	n := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "claimed by an older casefile"})
	sent := nextBatch(t, db, 10)
	if _, err := db.w.Exec("UPDATE outbox SET claimed_by = NULL"); err != nil {
		t.Fatal(err)
	}
	db.claims.lastSweep = time.Time{}
	if got := nextBatch(t, db, 10); len(got) != 0 {
		t.Fatalf("a sweep took an ownerless op: %+v", got)
	}
	again := openAt(t, path)
	wantState(t, again, n.ID, model.StateRetrying)
	if got := nextBatch(t, again, 10); len(got) != 1 || got[0].OpID != sent[0].OpID {
		t.Fatalf("the ownerless op is not sent again: %+v", got)
	}
}

// A lock file its maker never renamed (a process killed between making
// and locking it) is removed by the next open once it is a minute old;
// a younger one may be a process making it now, and stays.
func TestUnnamedSendersLocksAreSweptWhenOld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casefile.db")
	dir := ClaimsDir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	old, young := filepath.Join(dir, "0a"+claimNewSuffix), filepath.Join(dir, "0b"+claimNewSuffix)
	for _, p := range []string{old, young} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	then := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(old, then, then); err != nil {
		t.Fatal(err)
	}
	openAt(t, path)
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an unnamed lock file two minutes old is still there: %v", err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("a young unnamed lock file was removed: %v", err)
	}
}
