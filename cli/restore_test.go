package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casefile/localdb"
	"casefile/server"
	"casefile/server/servertest"
)

// TestRestoreBackupOnANewDeviceSyncsWithoutFailures exports a device's
// records, changes some on the server afterwards, imports the backup on a
// new device and syncs it: nothing fails and nothing conflicts; every
// record is the server's current state (a title changed since stays
// changed, a task deleted since stays deleted), and the journal says so.
func TestRestoreBackupOnANewDeviceSyncsWithoutFailures(t *testing.T) {
	t.Parallel()
	srv, alice, old := aliceLoggedIn(t)
	matter, note := old.seed()
	task := old.add("task", "matter_id="+matter, "title=File the claim", "due_on=2026-12-20")
	kept := old.add("note", "matter_id="+matter, "title=Unchanged since the backup")
	old.ok("sync")
	backup := filepath.Join(t.TempDir(), "backup.jsonl")
	old.ok("export", "--out", backup)

	// After the backup: a change and a delete reach the server.
	old.ok("edit", note, "title=Changed after the backup")
	old.ok("rm", task)
	old.ok("sync")

	laptop := newHarness(t)
	r := laptop.run("import", "--file", backup)
	if r.code != 0 || !strings.Contains(r.stderr, "Imported 4 records") {
		t.Fatalf("import of the backup: %+v", r)
	}
	laptop.login(srv.URL, alice)
	r = laptop.run("sync")
	if r.code != 0 || !strings.Contains(r.stdout, "conflicts 0, failed 0") {
		t.Fatalf("sync of the restored backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if title, _ := laptop.field(note, "title"); title != "Changed after the backup" {
		t.Errorf("the note changed after the backup shows %q", title)
	}
	if _, gone := laptop.field(task, "title"); !gone {
		t.Error("the task deleted after the backup came back")
	}
	if title, gone := laptop.field(kept, "title"); gone || title != "Unchanged since the backup" {
		t.Errorf("the unchanged note: %q gone=%v", title, gone)
	}
	var st statusReport
	laptop.okJSON(&st, "status", "--json")
	if st.Outbox != 0 || st.Failed != 0 || st.Conflicts != 0 {
		t.Errorf("status after the restore = %+v", st)
	}
	db := laptop.db()
	defer db.Close()
	js, err := db.Journal(context.Background(), localdb.JournalQuery{RecordID: note})
	if err != nil {
		t.Fatal(err)
	}
	if len(js) == 0 || !strings.Contains(js[0].Summary, "the server already had this record; its copy stands") || !strings.Contains(js[0].Summary, "title") {
		t.Errorf("the journal of the note changed since: %+v", js)
	}

	// The same backup imported again on the restored device: everything
	// is here already (what the server changed since differs, and says so).
	r = laptop.run("import", "--file", backup)
	if r.code != 1 || !strings.Contains(r.stderr, "is already here with other values of title") {
		t.Fatalf("a second import of the backup: %+v", r)
	}
}

// TestRestoreBackupAfterCompactionKeepsDeletesDeleted is the restore of a
// backup older than the server's retention: a task deleted after the
// backup, whose tombstone compaction has since removed, stays deleted when
// the backup is imported on a new device, as it does while its tombstone
// is kept. The server reads the task's grave; before it did, the task came
// back at version 1.
func TestRestoreBackupAfterCompactionKeepsDeletesDeleted(t *testing.T) {
	t.Parallel()
	srv, alice, old, b := backedUp(t)
	task, backup := b.task, b.path
	old.ok("rm", task)
	old.ok("sync")
	st, err := srv.Compact(context.Background(), time.Now().Add(server.DefaultRetention+time.Hour))
	if err != nil || st.Tombstones != 1 {
		t.Fatalf("compaction = %+v, %v; want the task's tombstone gone", st, err)
	}

	laptop := newHarness(t)
	if r := laptop.run("import", "--file", backup); r.code != 0 {
		t.Fatalf("import of the backup: %+v", r)
	}
	laptop.login(srv.URL, alice)
	r := laptop.run("sync")
	if r.code != 0 || !strings.Contains(r.stdout, "conflicts 0, failed 0") {
		t.Fatalf("sync of the restored backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, gone := laptop.field(task, "title"); !gone {
		t.Error("the task deleted after the backup, and compacted, came back")
	}
	var sr statusReport
	laptop.okJSON(&sr, "status", "--json")
	if sr.Outbox != 0 || sr.Failed != 0 || sr.Conflicts != 0 {
		t.Errorf("status after the restore = %+v", sr)
	}
	// The other device, pulling everything again, agrees.
	if r := old.run("sync"); r.code != 0 {
		t.Fatalf("the first device's sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, gone := old.field(task, "title"); !gone {
		t.Error("the first device shows the task again")
	}
}

// TestRestoreBackupThenChangeBeforeSync: on a device restored from a
// backup, a person edits one record and deletes another before the first
// sync. The import's creates reach a server that has both records, and
// answers each with its own copy: an edit folded into such a create, or a
// delete that cancelled it, would be lost. They queue behind the creates
// instead and reach the server: the edit applies, the delete deletes.
func TestRestoreBackupThenChangeBeforeSync(t *testing.T) {
	t.Parallel()
	srv, alice, old, b := backedUp(t)
	note, task, backup := b.note, b.task, b.path

	laptop := newHarness(t)
	if r := laptop.run("import", "--file", backup); r.code != 0 {
		t.Fatalf("import of the backup: %+v", r)
	}
	laptop.ok("edit", note, "title=Edited on the restored laptop")
	laptop.ok("rm", task)
	laptop.login(srv.URL, alice)
	r := laptop.run("sync")
	if r.code != 0 || !strings.Contains(r.stdout, "conflicts 0, failed 0") {
		t.Fatalf("sync of the restored backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var sr statusReport
	laptop.okJSON(&sr, "status", "--json")
	if sr.Outbox != 0 || sr.Failed != 0 || sr.Conflicts != 0 {
		t.Errorf("status after the restore = %+v", sr)
	}
	old.ok("sync")
	if title, _ := old.field(note, "title"); title != "Edited on the restored laptop" {
		t.Errorf("the edit made on the restored laptop reached the other device as %q", title)
	}
	if _, gone := old.field(task, "title"); !gone {
		t.Error("the delete made on the restored laptop did not reach the other device")
	}
}

// aBackup is a device's export: a matter, a note and a task, all synced.
type aBackup struct {
	note, task, path string
}

// backedUp logs alice in on a device that seeds a matter, a note and a
// task, syncs, and exports them.
func backedUp(t *testing.T) (*servertest.Server, *servertest.Client, *harness, aBackup) {
	t.Helper()
	srv, alice, old := aliceLoggedIn(t)
	matter, note := old.seed()
	b := aBackup{note: note, task: old.add("task", "matter_id="+matter, "title=File the claim", "due_on=2026-12-20"),
		path: filepath.Join(t.TempDir(), "backup.jsonl")}
	old.ok("sync")
	old.ok("export", "--out", b.path)
	return srv, alice, old, b
}

// TestBackupRestoredElsewhereBeforeItsCreateWasSent: two notes made on
// a laptop offline are in the laptop's backup; after it, one is edited
// and the other deleted there. The backup is restored on a new laptop,
// which syncs first: the server takes both notes with the backup's
// values. When the old laptop syncs, its creates meet the server's
// copies. Its edit and its delete were not folded into them (the export
// marked them): they reach the server behind the creates, with no
// conflict, and the new laptop shows them.
func TestBackupRestoredElsewhereBeforeItsCreateWasSent(t *testing.T) {
	t.Parallel()
	srv, alice, old := aliceLoggedIn(t)
	matter, _ := old.seed()
	old.ok("sync")
	draft := old.add("note", "matter_id="+matter, "title=Draft on the old laptop")
	dropped := old.add("note", "matter_id="+matter, "title=Dropped on the old laptop")
	backup := filepath.Join(t.TempDir(), "backup.jsonl")
	old.ok("export", "--out", backup)
	old.ok("edit", draft, "title=Final on the old laptop")
	old.ok("rm", dropped)

	laptop := newHarness(t)
	if r := laptop.run("import", "--file", backup); r.code != 0 {
		t.Fatalf("import of the backup: %+v", r)
	}
	laptop.login(srv.URL, alice)
	if r := laptop.run("sync"); r.code != 0 || !strings.Contains(r.stdout, "conflicts 0, failed 0") {
		t.Fatalf("sync of the restored backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, gone := laptop.field(dropped, "title"); gone {
		t.Fatal("the restored laptop does not hold the note its backup had")
	}

	if r := old.run("sync"); r.code != 0 || !strings.Contains(r.stdout, "conflicts 0, failed 0") {
		t.Fatalf("the old laptop's sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	laptop.ok("sync")
	if title, _ := laptop.field(draft, "title"); title != "Final on the old laptop" {
		t.Errorf("the edit made after the backup reached the new laptop as %q", title)
	}
	if _, gone := laptop.field(dropped, "title"); !gone {
		t.Error("the delete made after the backup did not reach the new laptop")
	}
	if title, _ := old.field(draft, "title"); title != "Final on the old laptop" {
		t.Errorf("the old laptop shows %q", title)
	}
}
