package localdb

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"casefile/model"
	"casefile/protocol"
)

// importNotes builds n notes of matter m whose titles carry a word of their
// own ("alpha0z", "alpha1z", …), so that a search finds each one alone.
func importNotes(m string, n int) []ImportItem {
	items := make([]ImportItem, n)
	for i := range items {
		items[i] = ImportItem{Fields: model.Fields{"matter_id": m, "title": fmt.Sprintf("note alpha%dz", i),
			"body": fmt.Sprintf("body of beta%dz", i)}}
	}
	return items
}

// A batch larger than one multi-row insert, with a record already here in
// the middle of it, keeps the batch's order in the outbox and the journal,
// and each record's search entry points at that record.
func TestImportKeepsOrderAcrossChunks(t *testing.T) {
	db := openTest(t)
	m := mustMatter(t, db, "M")
	here, err := db.Create(bg, "note", "", model.Fields{"matter_id": m, "title": "already here"})
	if err != nil {
		t.Fatal(err)
	}
	const n, existingAt = 150, 70 // 150 rows take chunks of 64, 64, 16, 4 and 1s
	items := importNotes(m, n)
	items[existingAt] = ImportItem{ID: here.ID, Fields: model.Fields{"matter_id": m, "title": "changed by the import"}}
	counts, err := db.ImportWith(bg, "note", items, ExistingUpdate)
	if err != nil {
		t.Fatal(err)
	}
	if counts.Written != n-1 || counts.Updated != 1 {
		t.Fatalf("counts %+v", counts)
	}
	// The outbox: the matter's create, the first note's (the import's
	// change folded into it, never sent), then one create per new item
	// in the batch's order.
	ops := outbox(t, db)
	if len(ops) != 2+n-1 || ops[1].RecordID != here.ID || ops[1].Fields["title"] != "changed by the import" {
		t.Fatalf("want %d ops, the second the folded change; got %d: %+v", 2+n-1, len(ops), ops[1])
	}
	ids := make([]string, 0, n)
	for i, o := range ops[2:] {
		if i > 0 && o.Seq <= ops[1+i].Seq {
			t.Fatalf("op %d: seq %d after %d", i, o.Seq, ops[1+i].Seq)
		}
		if o.Kind != model.OpCreate {
			t.Fatalf("op %d is a %s", i, o.Kind)
		}
		if len(ids) == existingAt {
			ids = append(ids, here.ID)
		}
		ids = append(ids, o.RecordID)
	}
	for i, id := range ids {
		if i == existingAt {
			continue
		}
		if r := mustGet(t, db, id); r.Fields["title"] != fmt.Sprintf("note alpha%dz", i) {
			t.Fatalf("op for item %d is for %q", i, r.Fields["title"])
		}
		if i%7 != 0 {
			continue
		}
		for _, word := range []string{fmt.Sprintf("alpha%dz", i), fmt.Sprintf("beta%dz", i)} {
			found, err := db.List(bg, ListQuery{Collection: "note", Text: word})
			if err != nil || len(found) != 1 || found[0].ID != id {
				t.Fatalf("search %s: %v %v, want %s", word, found, err, id)
			}
		}
	}
	// The journal, oldest first, names the records in the same order.
	entries, err := db.Journal(bg, JournalQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var journalled []string
	for i := len(entries) - 1; i >= 0; i-- {
		if e := entries[i]; e.Kind == JournalImport {
			journalled = append(journalled, e.RecordID)
			if e.OpID == "" || len(e.After) == 0 {
				t.Fatalf("import entry without its op or values: %+v", e)
			}
		}
	}
	if fmt.Sprint(journalled) != fmt.Sprint(ids) {
		t.Fatalf("journal order\n %v\nwant\n %v", journalled, ids)
	}
}

// A bad item anywhere in a batch leaves nothing of the batch behind, also
// when earlier items were already queued for a multi-row insert.
func TestImportBatchIsAtomic(t *testing.T) {
	db := openTest(t)
	m := mustMatter(t, db, "M")
	items := importNotes(m, 100)
	items[90].Fields["matter_id"] = model.NewID() // no such matter
	err := db.Import(bg, "note", items)
	var ie *ItemError
	if !errors.As(err, &ie) || ie.Index != 90 {
		t.Fatalf("want item 91 refused, got %v", err)
	}
	if n, _ := db.Count(bg, ListQuery{Collection: "note"}); n != 0 {
		t.Fatalf("%d notes written by a refused batch", n)
	}
	if ops := outbox(t, db); len(ops) != 1 {
		t.Fatalf("%d ops after a refused batch, want the matter's only", len(ops))
	}
	// A record already here with other values stops the batch the same way.
	here, err := db.Create(bg, "note", "", model.Fields{"matter_id": m, "title": "here"})
	if err != nil {
		t.Fatal(err)
	}
	items = importNotes(m, 80)
	items[79] = ImportItem{ID: here.ID, Fields: model.Fields{"matter_id": m, "title": "other"}}
	if err := db.Import(bg, "note", items); !errors.Is(err, ErrExists) {
		t.Fatalf("want ErrExists, got %v", err)
	}
	if n, _ := db.Count(bg, ListQuery{Collection: "note"}); n != 1 {
		t.Fatalf("%d notes, want the one created", n)
	}
}

// Undo passes over imported records: it takes back the newest change made
// here by hand, as before imports wrote many rows per statement.
func TestUndoPassesOverAnImport(t *testing.T) {
	db := openTest(t)
	m := mustMatter(t, db, "M")
	mine, err := db.Create(bg, "note", "", model.Fields{"matter_id": m, "title": "typed here"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Import(bg, "note", importNotes(m, 70)); err != nil {
		t.Fatal(err)
	}
	u, err := db.Undo(bg)
	if err != nil {
		t.Fatal(err)
	}
	if u.Change.RecordID != mine.ID || u.Action != UndoDeleted {
		t.Fatalf("undo took back %+v, want the create of %s", u.Change, mine.ID)
	}
	if n, _ := db.Count(bg, ListQuery{Collection: "note"}); n != 70 {
		t.Fatalf("%d notes after the undo, want the 70 imported", n)
	}
}

// TestImportedCreateIsNotFoldedInto: an edit of an imported record before
// it is sent queues behind the import's create, and a delete does not
// cancel it: the server may have the record (a backup restored) and
// answers such a create with its own copy. A record created here still
// folds its edits, and its delete cancels it.
func TestImportedCreateIsNotFoldedInto(t *testing.T) {
	db := openTest(t)
	m := mustMatter(t, db, "M")
	edited, deleted := model.NewID(), model.NewID()
	if err := db.Import(bg, "note", []ImportItem{{ID: edited, Fields: model.Fields{"matter_id": m, "title": "edited"}},
		{ID: deleted, Fields: model.Fields{"matter_id": m, "title": "deleted"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Update(bg, edited, model.Fields{"title": "edited after the restore"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Delete(bg, deleted); err != nil {
		t.Fatal(err)
	}
	mine := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "made here"})
	if _, err := db.Update(bg, mine.ID, model.Fields{"title": "made here, edited"}); err != nil {
		t.Fatal(err)
	}
	gone := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "made here, deleted"})
	if err := db.Delete(bg, gone.ID); err != nil {
		t.Fatal(err)
	}
	ops, err := db.Outbox(bg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range ops {
		if o.Collection == "note" {
			got = append(got, fmt.Sprintf("%s %v", o.Kind, o.Fields["title"]))
		}
	}
	want := []string{"create edited", "create deleted", "update edited after the restore", "delete <nil>", "create made here, edited"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("outbox = %q, want %q", got, want)
	}
}

// TestImportRefusedThenFixedGoesToReview: a restored record the server
// refused (id_conflict: the person could not see it yet) is fixed by an
// edit, which folds into the refused create. Once the person may see the
// record, the server answers the create with its own copy: the edit is
// not dropped unseen but goes to review with the record's other values.
// The create answered so on its first attempt takes the server's copy.
func TestImportRefusedThenFixedGoesToReview(t *testing.T) {
	db, m := openWithMatter(t)
	refused, taken := model.NewID(), model.NewID()
	if err := db.Import(bg, "note", []ImportItem{{ID: refused, Fields: model.Fields{"matter_id": m, "title": "from the backup"}},
		{ID: taken, Fields: model.Fields{"matter_id": m, "title": "from the backup"}}}); err != nil {
		t.Fatal(err)
	}
	theirs := func(id string) *protocol.Record {
		r := serverRecord(id, "note", m, 4, model.Fields{"matter_id": m, "title": "on the server"})
		return &r
	}
	ops := nextBatch(t, db, 10)
	if len(ops) != 2 || ops[0].RecordID != refused || ops[1].RecordID != taken {
		t.Fatalf("batch %+v", ops)
	}
	answer(t, db, protocol.OpResult{OpID: ops[0].OpID, Result: model.ResultRejected, Code: protocol.CodeIDConflict, Message: "taken"},
		protocol.OpResult{OpID: ops[1].OpID, Result: model.ResultMerged, Dropped: []string{"title"}, Record: theirs(taken)})
	wantState(t, db, refused, model.StateFailed)
	if r := mustGet(t, db, taken); r.State != model.StateSynced || r.Fields["title"] != "on the server" {
		t.Fatalf("the import's create answered with the server's copy: %+v", r)
	}

	mustUpdate(t, db, refused, model.Fields{"title": "fixed here"})
	again := opsOf(t, db, refused)
	if len(again) != 1 || again[0].Kind != model.OpCreate || again[0].State != OpPending {
		t.Fatalf("the refused create after the edit: %+v", again)
	}
	sent := nextBatch(t, db, 10)
	answer(t, db, protocol.OpResult{OpID: sent[0].OpID, Result: model.ResultMerged, Dropped: []string{"title"}, Record: theirs(refused)})
	wantState(t, db, refused, model.StateConflict)
	c, err := db.Conflict(bg, refused)
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != model.ConflictEdit || len(c.Fields) != 1 || c.Fields[0].Mine != "fixed here" || c.Fields[0].Theirs != "on the server" {
		t.Fatalf("conflict %+v", c)
	}
	wantJournalSays(t, db, refused, JournalConflict, "the server already had this record, made on another device, with other values of title; review the conflict")
}

// wantJournalSays fails unless the newest journal entry of record id is
// of kind and says summary.
func wantJournalSays(t *testing.T, db *DB, id string, kind JournalKind, summary string) {
	t.Helper()
	j := journalOf(t, db, id)
	if len(j) == 0 || j[0].Kind != kind || j[0].Summary != summary {
		t.Fatalf("record %s: newest journal entry %+v, want %s %q", id, j[:min(1, len(j))], kind, summary)
	}
}

// TestCreateMetATombstone: a create made here meets the server's
// tombstone of its record (a backup of this device restored elsewhere,
// and the record deleted there). Where the tombstone holds the values the
// create sends, its deleter saw them: the record goes, as any delete. A
// value changed here since goes to review, restore or stay deleted.
func TestCreateMetATombstone(t *testing.T) {
	db, m := openWithMatter(t)
	seen := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "as backed up"})
	changed := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "changed since"})
	tomb := func(id string) *protocol.Record {
		r := serverRecord(id, "note", m, 2, model.Fields{"matter_id": m, "title": "as backed up"})
		r.Deleted = true
		return &r
	}
	ops := nextBatch(t, db, 10)
	if len(ops) != 2 {
		t.Fatalf("batch %+v", ops)
	}
	answer(t, db, protocol.OpResult{OpID: ops[0].OpID, Result: model.ResultMerged, Dropped: []string{"matter_id", "title"}, Record: tomb(seen.ID)},
		protocol.OpResult{OpID: ops[1].OpID, Result: model.ResultMerged, Dropped: []string{"matter_id", "title"}, Record: tomb(changed.ID)})
	if _, err := db.Get(bg, seen.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("the record deleted as its deleter saw it: %v, want it gone", err)
	}
	wantState(t, db, changed.ID, model.StateConflict)
	c, err := db.Conflict(bg, changed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != model.ConflictEditDeleted {
		t.Fatalf("conflict %+v, want edit_deleted", c)
	}
	wantJournalSays(t, db, changed.ID, JournalConflict, "the server already had this record, made on another device and deleted there since; review the conflict")
}

// TestDeleteOfACreateRefusedAsTaken: a delete cancels a create the server
// never applied, but a create refused as id_conflict met a record the
// server holds under its id (here, a backup's note in a matter the person
// no longer sees). Cancelled, the delete would vanish and the record
// would come back with the matter; it goes to the server instead.
func TestDeleteOfACreateRefusedAsTaken(t *testing.T) {
	db, m := openWithMatter(t)
	taken, invalid := model.NewID(), model.NewID()
	if err := db.Import(bg, "note", []ImportItem{{ID: taken, Fields: model.Fields{"matter_id": m, "title": "in a matter gone"}},
		{ID: invalid, Fields: model.Fields{"matter_id": m, "title": "refused"}}}); err != nil {
		t.Fatal(err)
	}
	ops := nextBatch(t, db, 10)
	answer(t, db, protocol.OpResult{OpID: ops[0].OpID, Result: model.ResultRejected, Code: protocol.CodeIDConflict, Message: "taken"},
		protocol.OpResult{OpID: ops[1].OpID, Result: model.ResultRejected, Code: protocol.CodeValidation, Message: "no"})
	for _, id := range []string{taken, invalid} {
		if err := db.Delete(bg, id); err != nil {
			t.Fatal(err)
		}
	}
	if got := opsOf(t, db, invalid); len(got) != 0 {
		t.Errorf("the delete of a create refused for its values left %+v, want both gone", got)
	}
	got := opsOf(t, db, taken)
	if len(got) != 1 || got[0].Kind != model.OpDelete || got[0].State != OpPending {
		t.Fatalf("the delete of a create refused as id_conflict left %+v, want a delete to send", got)
	}
}

// TestDeleteOfARefusedCreateABackupHolds: a create the server refused
// for a matter it did not have yet is held by a backup, which another
// device restored once the matter was there: the server has the record.
// A delete here must reach it, edited first or not. Neither the edit
// folds into the create nor the delete cancels it: the create goes again
// (answered with the server's copy), the changes behind it. A create
// refused for its values, or one no backup holds, still vanishes with
// its delete: no server can have taken it.
func TestDeleteOfARefusedCreateABackupHolds(t *testing.T) {
	db, m := openWithMatter(t)
	backedUp := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "in the backup"})
	invalid := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "refused for its values"})
	edited := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "edited, then deleted"})
	ops := nextBatch(t, db, 10)
	answer(t, db, protocol.OpResult{OpID: ops[0].OpID, Result: model.ResultRejected, Code: protocol.CodeNotFound, Message: "No such matter."},
		protocol.OpResult{OpID: ops[1].OpID, Result: model.ResultRejected, Code: protocol.CodeValidation, Message: "no"},
		protocol.OpResult{OpID: ops[2].OpID, Result: model.ResultRejected, Code: protocol.CodeNotFound, Message: "No such matter."})
	refusedID := ops[0].OpID
	if n, err := db.MarkBackedUp(bg); err != nil || n != 3 {
		t.Fatalf("mark backed up = %d, %v", n, err)
	}
	notInBackup := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "after the backup"})
	ops = nextBatch(t, db, 10)
	answer(t, db, protocol.OpResult{OpID: ops[0].OpID, Result: model.ResultRejected, Code: protocol.CodeNotFound, Message: "No such matter."})
	mustUpdate(t, db, edited.ID, model.Fields{"body": "an edit"})
	if got := opsOf(t, db, edited.ID); len(got) != 2 || got[0].Kind != model.OpCreate || got[0].Fields["body"] != nil ||
		got[1].Kind != model.OpUpdate || got[1].Fields["body"] != "an edit" {
		t.Fatalf("the edit of a refused create a backup holds left %+v, want it behind the create", got)
	}
	if err := db.Delete(bg, edited.ID); err != nil {
		t.Fatal(err)
	}
	if got := opsOf(t, db, edited.ID); len(got) != 2 || got[0].Kind != model.OpCreate || got[1].Kind != model.OpDelete {
		t.Fatalf("the delete of an edited refused create a backup holds left %+v, want the create, and the delete in the edit's place", got)
	}
	for _, id := range []string{backedUp.ID, invalid.ID, notInBackup.ID} {
		if err := db.Delete(bg, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{invalid.ID, notInBackup.ID} {
		if got := opsOf(t, db, id); len(got) != 0 {
			t.Errorf("the delete of %s left %+v, want both gone", id, got)
		}
	}
	got := opsOf(t, db, backedUp.ID)
	if len(got) != 2 || got[0].Kind != model.OpCreate || got[0].State != OpPending || got[0].OpID == refusedID ||
		got[1].Kind != model.OpDelete || got[1].State != OpPending {
		t.Fatalf("the delete of a refused create a backup holds left %+v, want the create to send again and the delete behind it", got)
	}
	var said []string
	for _, e := range journalOf(t, db, backedUp.ID) {
		if e.Kind == JournalDelete {
			said = append(said, e.Summary)
		}
	}
	if len(said) != 1 || !strings.Contains(said[0], "after the refused create, which will be sent again") {
		t.Errorf("the delete's journal entries: %q", said)
	}
	// The journal names the create's new id, before the delete.
	j := journalOf(t, db, backedUp.ID)
	var retried bool
	for _, e := range j {
		retried = retried || e.Kind == JournalRetry && e.OpID == got[0].OpID && strings.Contains(e.Summary, refusedID)
	}
	if !retried {
		t.Errorf("no journal entry names the create sent again under %s: %+v", got[0].OpID, j)
	}
	// The server has the record from the backup: the create takes its
	// copy, and the delete goes on it.
	if err := db.DiscardOp(bg, opsOf(t, db, edited.ID)[0].OpID); err != nil {
		t.Fatal(err)
	}
	sent := nextBatch(t, db, 10)
	if len(sent) != 1 || sent[0].Kind != model.OpCreate {
		t.Fatalf("sent %+v, want the create alone", sent)
	}
	answer(t, db, protocol.OpResult{OpID: sent[0].OpID, Result: model.ResultApplied,
		Record: &protocol.Record{ID: backedUp.ID, Collection: "note", MatterID: m, Version: 1, Fields: model.Fields{"matter_id": m, "title": "in the backup"}}})
	sent = nextBatch(t, db, 10)
	if len(sent) != 1 || sent[0].Kind != model.OpDelete || sent[0].BaseVersion != 1 {
		t.Fatalf("sent %+v, want the delete on version 1", sent)
	}
}

// TestSalvageReadsAFileOlderThanTheExportMark: salvage reads a damaged
// file as it is, unmigrated; one older than outbox.exported still gives
// up its queue, every op read as not marked.
func TestSalvageReadsAFileOlderThanTheExportMark(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casefile.db")
	db, err := Open(bg, path, testSchema(t), testSealing(t)...)
	if err != nil {
		t.Fatal(err)
	}
	m := mustMatter(t, db, "M")
	mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "queued"})
	if n, err := db.MarkBackedUp(bg); err != nil || n != 2 {
		t.Fatalf("mark backed up = %d, %v; want the matter's and the note's creates", n, err)
	}
	if _, err := db.w.ExecContext(bg, "ALTER TABLE outbox DROP COLUMN exported"); err != nil {
		t.Fatal(err)
	}
	opts := testSealing(t)
	if db.sealer != nil {
		opts = []Option{WithSealer(db.sealer)}
	}
	db.Close()
	s, err := Salvage(bg, path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if ops := s.Ops(); len(ops) != 2 || len(s.Lost) != 0 {
		t.Fatalf("salvaged %+v, lost %q; want both creates", ops, s.Lost)
	}
}

// TestExportedCreateMetAChangedCopyGoesToReview: a create a backup holds
// (marked by its export) is not folded into, but its values are still
// the person's: answered with a server copy that holds others (an older
// backup restored elsewhere, or this one changed since), it goes to
// review like any create made here. Answered with the backup's values,
// it is applied and the edit queued behind it follows.
func TestExportedCreateMetAChangedCopyGoesToReview(t *testing.T) {
	db, m := openWithMatter(t)
	same := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "backed up"})
	other := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "backed up too"})
	if n, err := db.MarkBackedUp(bg); err != nil || n != 2 {
		t.Fatalf("mark backed up = %d, %v", n, err)
	}
	mustUpdate(t, db, same.ID, model.Fields{"title": "after the backup"})
	if ops := opsOf(t, db, same.ID); len(ops) != 2 {
		t.Fatalf("the edit after the backup folded into the create: %+v", ops)
	}
	ops := nextBatch(t, db, 10)
	if len(ops) != 2 || ops[0].RecordID != same.ID || ops[1].RecordID != other.ID {
		t.Fatalf("batch %+v", ops)
	}
	copyOf := func(id, title string) *protocol.Record {
		r := serverRecord(id, "note", m, 3, model.Fields{"matter_id": m, "title": title})
		return &r
	}
	answer(t, db, protocol.OpResult{OpID: ops[0].OpID, Result: model.ResultApplied, Record: copyOf(same.ID, "backed up")},
		protocol.OpResult{OpID: ops[1].OpID, Result: model.ResultMerged, Dropped: []string{"title"}, Record: copyOf(other.ID, "changed elsewhere")})
	if got := opsOf(t, db, same.ID); len(got) != 1 || got[0].Kind != model.OpUpdate || got[0].BaseVersion != 3 {
		t.Errorf("the edit behind the applied create: %+v, want it moved onto version 3", got)
	}
	wantState(t, db, other.ID, model.StateConflict)
}

// TestRepairKeepsTheExportMark: ops salvaged from a damaged file and
// queued again keep the mark an export put on them: an edit after the
// repair still queues behind the create rather than folding into it.
func TestRepairKeepsTheExportMark(t *testing.T) {
	var id string
	fresh := repaired(t, func(db *DB) {
		m := mustMatter(t, db, "M")
		id = mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "backed up"}).ID
		if _, err := db.MarkBackedUp(bg); err != nil {
			t.Fatal(err)
		}
	})
	mustUpdate(t, fresh, id, model.Fields{"title": "after the repair"})
	if ops := opsOf(t, fresh, id); len(ops) != 2 {
		t.Fatalf("after the repair, the edit folded into the backed-up create: %+v", ops)
	}
}

// repaired is a fresh database holding the ops that casefile doctor
// --repair salvages from one fill wrote.
func repaired(t *testing.T, fill func(db *DB)) *DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "casefile.db")
	db, err := Open(bg, path, testSchema(t), testSealing(t)...)
	if err != nil {
		t.Fatal(err)
	}
	opts := []Option{}
	if db.sealer != nil {
		opts = append(opts, WithSealer(db.sealer))
	}
	fill(db)
	db.Close()
	s, err := Salvage(bg, path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := Open(bg, filepath.Join(t.TempDir(), "casefile.db"), testSchema(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fresh.Close() })
	if err := fresh.RestoreOps(bg, s); err != nil {
		t.Fatal(err)
	}
	return fresh
}

// TestImportRefusedThenRetriedTakesTheServersCopy: an import's create
// refused (its matter not seen then) and retried as it was still holds
// the backup's values, so when the server answers it with its own copy,
// that copy is taken as for any import's create. The op written back on
// its refusal held its own fields and lost the journal entry that marked
// it an import's: the values went to review against the server's newer
// ones, inviting the person to put an old backup's back.
func TestImportRefusedThenRetriedTakesTheServersCopy(t *testing.T) {
	db, m := openWithMatter(t)
	id := model.NewID()
	if err := db.Import(bg, "note", []ImportItem{{ID: id, Fields: model.Fields{"matter_id": m, "title": "from the backup"}}}); err != nil {
		t.Fatal(err)
	}
	ops := nextBatch(t, db, 10)
	answer(t, db, protocol.OpResult{OpID: ops[0].OpID, Result: model.ResultRejected, Code: protocol.CodeIDConflict, Message: "taken"})
	wantState(t, db, id, model.StateFailed)
	if err := db.RetryOp(bg, ops[0].OpID); err != nil {
		t.Fatal(err)
	}
	// One more edit elsewhere and a second refusal: still the backup's.
	again := nextBatch(t, db, 10)
	answer(t, db, protocol.OpResult{OpID: again[0].OpID, Result: model.ResultRejected, Code: protocol.CodeIDConflict, Message: "taken"})
	if err := db.RetryOp(bg, again[0].OpID); err != nil {
		t.Fatal(err)
	}
	// Still an import's create: an edit made now queues behind it.
	mustUpdate(t, db, id, model.Fields{"tags": []any{"later"}})
	if q := opsOf(t, db, id); len(q) != 2 || q[0].Kind != model.OpCreate || q[1].Kind != model.OpUpdate {
		t.Fatalf("after the retry, the edit folded into the import's create: %+v", q)
	}
	sent := nextBatch(t, db, 10)
	theirs := serverRecord(id, "note", m, 4, model.Fields{"matter_id": m, "title": "on the server"})
	answer(t, db, protocol.OpResult{OpID: sent[0].OpID, Result: model.ResultMerged, Dropped: []string{"title"}, Record: &theirs})
	if _, err := db.Conflict(bg, id); !errors.Is(err, ErrConflict) {
		t.Fatalf("the retried import's create went to review: %v", err)
	}
	r := mustGet(t, db, id)
	if r.Fields["title"] != "on the server" {
		t.Fatalf("the record after the answer: %+v, want the server's title", r)
	}
}

// TestRepairKeepsTheImportMark: casefile doctor --repair puts the ops it
// salvages back holding their own fields; an import's create among them
// stays an import's.
func TestRepairKeepsTheImportMark(t *testing.T) {
	id := model.NewID()
	fresh := repaired(t, func(db *DB) {
		m := mustMatter(t, db, "M")
		if err := db.Import(bg, "note", []ImportItem{{ID: id, Fields: model.Fields{"matter_id": m, "title": "from the backup"}}}); err != nil {
			t.Fatal(err)
		}
	})
	mustUpdate(t, fresh, id, model.Fields{"title": "after the repair"})
	if ops := opsOf(t, fresh, id); len(ops) != 2 {
		t.Fatalf("after the repair, the edit folded into the import's create: %+v", ops)
	}
}

// TestMigrationMarksQueuedImports: a database made before outbox.imported
// knew an import's create by its journal entry; the migration marks those
// still queued, and only those.
func TestMigrationMarksQueuedImports(t *testing.T) {
	db, m := openWithMatter(t)
	imp := model.NewID()
	if err := db.Import(bg, "note", []ImportItem{{ID: imp, Fields: model.Fields{"matter_id": m, "title": "from the backup"}}}); err != nil {
		t.Fatal(err)
	}
	made := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "made here"})
	migs, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	var mark string
	for _, mig := range migs {
		if mig.Version == 26 {
			_, mark, _ = strings.Cut(mig.SQL, "DEFAULT 0;")
		}
	}
	if mark == "" {
		t.Fatal("migration 26 has no backfill after its column")
	}
	if _, err := db.w.ExecContext(bg, "UPDATE outbox SET imported = 0"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.ExecContext(bg, mark); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{imp: true, made.ID: false} {
		var got bool
		if err := db.w.QueryRowContext(bg, "SELECT imported FROM outbox WHERE record_id = ?", id).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("record %s: imported %v, want %v", id, got, want)
		}
	}
}

// TestRepairQueuesNoUploadForAnImportedFile: an attachment's record
// imported from a backup came without its bytes. A repair put its queued
// create back as a file attached here offline: it noted the file as on
// this device and queued its upload, so the device showed a file it did
// not have, never downloaded it, and tried to send bytes it never held.
// The import's create comes back as what it was; a file attached here
// still has its upload queued.
func TestRepairQueuesNoUploadForAnImportedFile(t *testing.T) {
	imported, attached := model.NewID(), ""
	fresh := repaired(t, func(db *DB) {
		m := mustMatter(t, db, "Files")
		note := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "With files"})
		a := model.Attachment{MatterID: m, RecordID: note.ID, Name: "from the backup.pdf", Size: 3, SHA256: strings.Repeat("a1", 32)}
		if err := db.Import(bg, model.AttachmentCollection, []ImportItem{{ID: imported, Fields: a.Fields()}}); err != nil {
			t.Fatal(err)
		}
		att, err := db.Attach(bg, note.ID, model.Attachment{Name: "attached here.pdf", Size: 4, SHA256: strings.Repeat("b2", 32)})
		if err != nil {
			t.Fatal(err)
		}
		attached = att.ID
	})
	f, err := fresh.File(bg, imported)
	if err != nil || f.Local || f.State != FileAwaiting {
		t.Fatalf("the imported file after the repair: %+v, %v; want awaiting sync, not here", f, err)
	}
	if f, err := fresh.File(bg, attached); err != nil || !f.Local || f.State != FileQueued {
		t.Fatalf("the file attached here after the repair: %+v, %v; want here, its upload queued", f, err)
	}
	ts, err := fresh.Transfers(bg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range ts {
		if tr.AttachmentID == imported {
			t.Fatalf("after the repair, a transfer of the imported file: %+v", tr)
		}
	}
}

// TestImportedFileAwaitsSync: an attachment's record restored from a
// backup comes without its bytes, and this device has not seen it on the
// server: the backed-up device may never have uploaded the file, or sent
// the record. It showed "on server" all the same. It shows "awaiting
// sync" until the server answers with its copy, refused or not yet sent
// alike; then "on server", and fetching it may begin. A file pulled from
// the server is "on server" from the start.
func TestImportedFileAwaitsSync(t *testing.T) {
	db := openTest(t)
	m := syncedMatter(t, db)
	doc := syncedNote(t, db, m, 1, model.Fields{"title": "With files"})
	a := model.Attachment{MatterID: m, RecordID: doc, Name: "from the backup.pdf", Size: 3, SHA256: strings.Repeat("a1", 32)}
	refusedA := model.Attachment{MatterID: m, RecordID: doc, Name: "refused.pdf", Size: 4, SHA256: strings.Repeat("c3", 32)}
	imported, refused, pulled := model.NewID(), model.NewID(), model.NewID()
	if err := db.Import(bg, model.AttachmentCollection, []ImportItem{{ID: imported, Fields: a.Fields()}, {ID: refused, Fields: refusedA.Fields()}}); err != nil {
		t.Fatal(err)
	}
	p := model.Attachment{MatterID: m, RecordID: doc, Name: "pulled.pdf", Size: 5, SHA256: strings.Repeat("d4", 32)}
	pull(t, db, 5, serverRecord(pulled, model.AttachmentCollection, m, 1, p.Fields()))
	state := func(id string) FileState {
		t.Helper()
		f, err := db.File(bg, id)
		if err != nil {
			t.Fatal(err)
		}
		if f.Local {
			t.Fatalf("file %s is on this device: %+v", id, f)
		}
		return f.State
	}
	for id, want := range map[string]FileState{imported: FileAwaiting, refused: FileAwaiting, pulled: FileOnServer} {
		if got := state(id); got != want {
			t.Errorf("before the sync, file %s is %q, want %q", id, got, want)
		}
	}
	var results []protocol.OpResult
	for _, o := range nextBatch(t, db, 10) {
		switch o.RecordID {
		case imported:
			// The server held it already, from the device backed up.
			results = append(results, protocol.OpResult{OpID: o.OpID, Result: model.ResultApplied,
				Record: &protocol.Record{ID: imported, Collection: model.AttachmentCollection, MatterID: m, Version: 1, Fields: a.Fields()}})
		case refused:
			results = append(results, protocol.OpResult{OpID: o.OpID, Result: model.ResultRejected, Code: "not_found", Message: "No such record."})
		}
	}
	if len(results) != 2 {
		t.Fatalf("the batch answered %d of the two imported files", len(results))
	}
	answer(t, db, results...)
	for id, want := range map[string]FileState{imported: FileOnServer, refused: FileAwaiting, pulled: FileOnServer} {
		if got := state(id); got != want {
			t.Errorf("after the sync, file %s is %q, want %q", id, got, want)
		}
	}
	if files, err := db.Files(bg, doc); err != nil || len(files) != 3 {
		t.Fatalf("the record's files: %+v, %v", files, err)
	}
}

// TestRepairQueuesNoUploadForARestoredFile: a file's record pulled from
// the server (its bytes never fetched here) was deleted here, the delete
// answered, and the delete undone: the restore's create stands on the
// server's tombstone. A repair put that create back as a file attached
// here offline: it queued an upload of bytes this device never held, for
// a record whose bytes the server has had from the device that attached
// it. Only a create that makes its record (on version 0) queues one.
func TestRepairQueuesNoUploadForARestoredFile(t *testing.T) {
	var id string
	fresh := repaired(t, func(db *DB) {
		m := syncedMatter(t, db)
		doc := syncedNote(t, db, m, 1, model.Fields{"title": "With files"})
		a := model.Attachment{MatterID: m, RecordID: doc, Name: "pulled.pdf", Size: 5, SHA256: strings.Repeat("d4", 32)}
		id = model.NewID()
		pull(t, db, 5, serverRecord(id, model.AttachmentCollection, m, 1, a.Fields()))
		deletedAndTakenBack(t, db, id, m, a.Fields(), 2)
		if ops := opsOf(t, db, id); len(ops) != 1 || ops[0].Kind != model.OpCreate || ops[0].BaseVersion != 2 {
			t.Fatalf("ops %+v; want the restore's create on 2", ops)
		}
	})
	if up, ts := uploadQueued(t, fresh, id); up {
		t.Fatalf("after the repair, an upload of a file the server has and this device never held: %+v", ts)
	}
	if f, err := fresh.File(bg, id); err != nil || f.Local {
		t.Fatalf("the restored file after the repair: %+v, %v; want not here", f, err)
	}
}

// TestRepairKeepsARestoredFilesPendingUpload: the device that attached a
// file, its record synced and its bytes not sent yet, deleted it and took
// the delete back once answered. The restore's create stands on the
// tombstone, and the upload is still queued: a repair queues it again,
// or the server would hold the record and never the bytes.
func TestRepairKeepsARestoredFilesPendingUpload(t *testing.T) {
	var id string
	fresh := repaired(t, func(db *DB) {
		m := syncedMatter(t, db)
		doc := syncedNote(t, db, m, 1, model.Fields{"title": "With files"})
		att, err := db.Attach(bg, doc, model.Attachment{Name: "attached here.pdf", Size: 4, SHA256: strings.Repeat("b2", 32)})
		if err != nil {
			t.Fatal(err)
		}
		id = att.ID
		b := nextBatch(t, db, 10)
		if len(b) != 1 || b[0].RecordID != id {
			t.Fatalf("batch %+v; want the attachment's create", b)
		}
		fields := att.Fields
		answer(t, db, protocol.OpResult{OpID: b[0].OpID, Result: model.ResultApplied,
			Record: &protocol.Record{ID: id, Collection: model.AttachmentCollection, MatterID: m, Version: 1, Fields: fields}})
		deletedAndTakenBack(t, db, id, m, fields, 2)
	})
	if up, ts := uploadQueued(t, fresh, id); !up {
		t.Fatalf("after the repair, no upload of the file attached here whose bytes the server never had: %+v", ts)
	}
}

// uploadQueued says whether db has an upload of file id queued, with the
// transfers it has.
func uploadQueued(t *testing.T, db *DB, id string) (bool, []Transfer) {
	t.Helper()
	ts, err := db.Transfers(bg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range ts {
		if tr.AttachmentID == id && tr.Direction == Upload {
			return true, ts
		}
	}
	return false, ts
}

// deletedAndTakenBack deletes the file's record id, answers the delete
// with the server's tombstone at version, and undoes the delete: the
// restore's create stands on that tombstone.
func deletedAndTakenBack(t *testing.T, db *DB, id, matter string, fields model.Fields, version int64) {
	t.Helper()
	if err := db.Delete(bg, id); err != nil {
		t.Fatal(err)
	}
	b := nextBatch(t, db, 10)
	if len(b) != 1 || b[0].Kind != model.OpDelete {
		t.Fatalf("batch %+v; want the delete alone", b)
	}
	answer(t, db, protocol.OpResult{OpID: b[0].OpID, Result: model.ResultApplied,
		Record: &protocol.Record{ID: id, Collection: model.AttachmentCollection, MatterID: matter, Version: version, Deleted: true, Fields: fields}})
	if u := mustUndo(t, db); u.Action != UndoRestored {
		t.Fatalf("undo = %+v", u)
	}
}
