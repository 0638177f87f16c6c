package localdb

import (
	"errors"
	"strings"
	"testing"
	"time"

	"casefile/model"
)

// A download put back in the queue after a cut is waiting to retry, with
// its last error, not failed; one stopped for good is failed. Before, both
// read "failed".
func TestDownloadWaitingToRetryIsNotFailed(t *testing.T) {
	db := openTest(t)
	m := syncedMatter(t, db)
	doc, att := model.NewID(), model.NewID()
	a := model.Attachment{RecordID: doc, MatterID: m, Name: "scan.pdf", Size: 3, SHA256: strings.Repeat("ef", 32), MediaType: "application/pdf"}
	pull(t, db, 2,
		serverRecord(doc, "document", m, 1, model.Fields{"matter_id": m, "title": "Scan"}),
		serverRecord(att, model.AttachmentCollection, m, 1, a.Fields()))
	if f, err := db.File(bg, att); err != nil || f.State != FileOnServer {
		t.Fatalf("before the download: %q, %v", f.StateText(), err)
	}
	if _, err := db.QueueDownload(bg, att); err != nil {
		t.Fatal(err)
	}
	const cut = "connection reset by peer"
	if err := db.TransferRetry(bg, att, Download, cut, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	f, err := db.File(bg, att)
	if err != nil || f.State != FileRetrying || f.Error != cut || f.StateText() != "retrying: "+cut {
		t.Fatalf("a cut download is %q (%s, error %q), %v; want retrying with its error", f.StateText(), f.State, f.Error, err)
	}
	if err := db.TransferFailed(bg, att, Download, "the server refused the file"); err != nil {
		t.Fatal(err)
	}
	if f, err := db.File(bg, att); err != nil || f.State != FileFailed {
		t.Fatalf("a download stopped for good is %q, %v; want failed", f.StateText(), err)
	}
}

// UnnamedFiles returns only the hashes nothing names. A file whose local
// row is gone but which an attachment record or a queued op still names
// (as in a database a repair rebuilt from salvaged ops) is named.
func TestUnnamedFiles(t *testing.T) {
	db := openTest(t)
	m := mustMatter(t, db, "Files")
	note := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "With a file"})
	attached, queued, nobody := strings.Repeat("a1", 32), strings.Repeat("b2", 32), strings.Repeat("c3", 32)
	for _, h := range []string{attached, queued} {
		if _, err := db.Attach(bg, note.ID, model.Attachment{Name: h[:4] + ".txt", Size: 1, SHA256: h, MediaType: "text/plain"}); err != nil {
			t.Fatal(err)
		}
	}
	// queued keeps its record and op, not its local row or transfer.
	if _, err := db.w.ExecContext(bg, `DELETE FROM local_files WHERE hash = ?`, queued); err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.ExecContext(bg, `DELETE FROM transfers WHERE hash = ?`, queued); err != nil {
		t.Fatal(err)
	}
	got, err := db.UnnamedFiles(bg, []string{attached, queued, nobody})
	if err != nil || len(got) != 1 || got[0] != nobody {
		t.Fatalf("UnnamedFiles = %v, %v; want only %s", got, err, nobody)
	}
}

// An attachment's size and sha256 are its bytes': an edit (Update, or an
// import over the record with ExistingUpdate) that gives either another
// value is refused, naming the field, and queues nothing; its name may
// change. Before, the import's edit went through, and its size reached
// the server, where the uploaded bytes no longer matched it: no device
// could download the file again.
func TestFileFactsAreNotEdited(t *testing.T) {
	db := openTest(t)
	m := mustMatter(t, db, "Files")
	note := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "With a file"})
	h := strings.Repeat("a1", 32)
	att, err := db.Attach(bg, note.ID, model.Attachment{Name: "scan.pdf", Size: 6, SHA256: h, MediaType: "application/pdf"})
	if err != nil {
		t.Fatal(err)
	}
	queued := func() int {
		t.Helper()
		ops, err := db.Outbox(bg)
		if err != nil {
			t.Fatal(err)
		}
		return len(ops)
	}
	before := queued()
	fixed := func(what string, err error, field string) {
		t.Helper()
		var probs model.Problems
		if !errors.As(err, &probs) || len(probs) != 1 || probs[0].Field != field || probs[0].Kind != model.ProblemFixed ||
			!strings.Contains(err.Error(), "detach it and attach the new one") {
			t.Fatalf("%s: %v; want the %s refused as fixed", what, err, field)
		}
		if n := queued(); n != before {
			t.Fatalf("%s: %d ops queued, %d before", what, n, before)
		}
		f, err := db.File(bg, att.ID)
		if err != nil || f.Size != 6 || f.SHA256 != h {
			t.Fatalf("%s: the file is now %+v, %v", what, f, err)
		}
	}
	_, err = db.Update(bg, att.ID, model.Fields{model.AttachSizeField: 7.0})
	fixed("an edit of the size", err, model.AttachSizeField)
	_, err = db.Update(bg, att.ID, model.Fields{model.AttachHashField: strings.Repeat("b2", 32), model.AttachNameField: "other.pdf"})
	fixed("an edit of the sha256 with the name", err, model.AttachHashField)

	line := att.Fields.Clone()
	line[model.AttachSizeField] = 7.0
	_, err = db.ImportWith(bg, model.AttachmentCollection, []ImportItem{{ID: att.ID, Fields: line}}, ExistingUpdate)
	fixed("an import over the file with another size", err, model.AttachSizeField)

	line = att.Fields.Clone()
	line[model.AttachNameField] = "renamed.pdf"
	counts, err := db.ImportWith(bg, model.AttachmentCollection, []ImportItem{{ID: att.ID, Fields: line}}, ExistingUpdate)
	if err != nil || counts.Updated != 1 {
		t.Fatalf("an import renaming the file: %+v, %v", counts, err)
	}
	if f, err := db.File(bg, att.ID); err != nil || f.Name != "renamed.pdf" || f.Size != 6 {
		t.Fatalf("after the rename: %+v, %v", f, err)
	}
}
