package cli

import (
	"context"
	"strings"
	"testing"

	"casefile/localdb"
	"casefile/server"
)

// field reads one field of a record of h's database, "" when absent;
// gone reports a record not (or no longer live) on the device.
func (h *harness) field(id, name string) (value string, gone bool) {
	h.t.Helper()
	db := h.db()
	defer db.Close()
	r, err := db.Get(context.Background(), id)
	if err != nil || r.Deleted {
		return "", true
	}
	s, _ := r.Fields[name].(string)
	return s, false
}

// TestUndoAfterSyncSendsANewChange undoes an edit, a delete and a create
// that the server already has, on one device, and finds each taken back
// on a second device of the same user; then an undo that meets another
// device's newer change of the same field is a conflict.
func TestUndoAfterSyncSendsANewChange(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	laptop, phone := newHarness(t), newHarness(t)
	laptop.login(srv.URL, alice)
	phone.login(srv.URL, alice)
	matter, note := laptop.seed()
	laptop.ok("sync")
	phone.ok("sync")

	// An edit, synced, then undone.
	laptop.ok("edit", note, "title=Second meeting")
	laptop.ok("sync")
	phone.ok("sync")
	if out := laptop.ok("undo"); out != "Undid the edit of note “First meeting”: title set back.\n" {
		t.Errorf("undo of an edit printed %q", out)
	}
	if out := laptop.ok("sync"); out != "pushed 1, pulled 0, conflicts 0, failed 0\n" {
		t.Errorf("sync after the undo printed %q", out)
	}
	phone.ok("sync")
	if title, _ := phone.field(note, "title"); title != "First meeting" {
		t.Errorf("the other device sees title %q after the undo", title)
	}
	// The other device's journal names the record and who changed it.
	if out := phone.ok("journal", "--limit", "1"); !strings.Contains(out, "alice") || !strings.Contains(out, "note “First meeting”") ||
		!strings.Contains(out, "changed title") {
		t.Errorf("the journal of the other device:\n%s", out)
	}

	// A delete the server applied, undone: the record comes back everywhere.
	laptop.ok("rm", note)
	laptop.ok("sync")
	phone.ok("sync")
	if _, gone := phone.field(note, "title"); !gone {
		t.Fatal("the delete did not reach the other device")
	}
	if out := laptop.ok("undo"); out != "Undid the deletion of note “First meeting”: it is back.\n" {
		t.Errorf("undo of a delete printed %q", out)
	}
	if out := laptop.ok("sync"); !strings.Contains(out, "failed 0") || !strings.Contains(out, "conflicts 0") {
		t.Errorf("sync after restoring printed %q", out)
	}
	phone.ok("sync")
	if title, gone := phone.field(note, "title"); gone || title != "First meeting" {
		t.Errorf("the restored note on the other device: %q gone=%v", title, gone)
	}

	// A create the server has, undone: deleted everywhere.
	created := laptop.add("note", "matter_id="+matter, "title=Stray")
	laptop.ok("sync")
	if out := laptop.ok("undo"); out != "Undid the creation of note “Stray”: it is deleted again.\n" {
		t.Errorf("undo of a create printed %q", out)
	}
	laptop.ok("sync")
	phone.ok("sync")
	if _, gone := phone.field(created, "title"); !gone {
		t.Error("the undone create is still on the other device")
	}

	// Someone else changed the same field since, and this device has not
	// heard: the undo is an edit based on the version it saw, and meets
	// theirs as a conflict.
	laptop.ok("edit", note, "title=Mine")
	laptop.ok("sync")
	phone.ok("sync")
	phone.ok("edit", note, "title=Theirs")
	phone.ok("sync")
	laptop.ok("undo")
	r := laptop.run("sync")
	if !strings.Contains(r.stdout, "conflicts 1") {
		t.Errorf("an undo over another device's change: %q %q, want a conflict", r.stdout, r.stderr)
	}

	// Nothing left: a sentence and a non-zero exit, nothing written.
	fresh := newHarness(t)
	before := fresh.snapshot()
	r = fresh.run("undo")
	if r.code == 0 || !strings.HasPrefix(r.stderr, "casefile undo: nothing to undo") {
		t.Errorf("undo on a fresh device: exit %d, stderr %q", r.code, r.stderr)
	}
	if fresh.snapshot() != before {
		t.Error("a refused undo changed the database")
	}
	var u localdb.Undone
	h := newHarness(t)
	n := h.add("matter", "title=Quick")
	h.okJSON(&u, "undo", "--json")
	if u.Action != localdb.UndoDeleted || u.Record.ID != n {
		t.Errorf("undo --json = %+v", u)
	}
}
