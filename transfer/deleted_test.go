package transfer_test

import (
	"bytes"
	"context"
	"testing"

	"casefile/localdb"
)

// An attachment deleted here before its file went keeps its upload while
// the delete may yet be taken back: taken back (an undo; a delete the
// server refuses is the same), the file goes, and another member can fetch
// it. Dropped, as it was, the file showed uploaded on this device and the
// server never had it.
func TestUploadWaitsWhileItsAttachmentIsDeleted(t *testing.T) {
	w := newWorld(t, false)
	ctx := context.Background()
	alice, bob := w.device("alice"), w.device("bob")
	data := randomData(t, 3000)
	att := alice.attach(w.matter, data, "scan.pdf")
	alice.syncRecords()

	if err := alice.db.Delete(ctx, att.ID); err != nil {
		t.Fatal(err)
	}
	// Not counted as waiting: `casefile sync` and the status count only
	// the files of attachments the person sees.
	s, err := alice.engine.RunOnce(ctx)
	if err != nil || s.Uploaded != 0 || s.Waiting != 0 {
		t.Fatalf("pass with the attachment deleted: %+v, %v", s, err)
	}
	if u, err := alice.db.Undo(ctx); err != nil || u.Action != localdb.UndoRestored {
		t.Fatalf("undo the delete: %+v, %v", u, err)
	}
	if f := alice.file(att.ID); f.State == localdb.FileUploaded {
		t.Fatalf("the file shows uploaded before any upload: %+v", f)
	}
	alice.later()
	if s, err := alice.engine.RunOnce(ctx); err != nil || s.Uploaded != 1 {
		t.Fatalf("pass with the attachment back: %+v, %v", s, err)
	}
	alice.syncRecords()

	bob.syncRecords()
	if _, err := bob.db.QueueDownload(ctx, att.ID); err != nil {
		t.Fatal(err)
	}
	if s, err := bob.engine.RunOnce(ctx); err != nil || s.Downloaded != 1 {
		t.Fatalf("bob's download: %+v, %v", s, err)
	}
	if got := bob.bytesOf(bob.file(att.ID).Attachment.SHA256); !bytes.Equal(got, data) {
		t.Fatal("bob's copy differs")
	}

	// An attachment deleted for good takes its upload with it.
	gone := alice.attach(w.matter, randomData(t, 500), "draft.txt")
	if err := alice.db.Delete(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	if s, err := alice.engine.RunOnce(ctx); err != nil || s.Uploaded != 0 {
		t.Fatalf("pass with a never-synced attachment deleted: %+v, %v", s, err)
	}
	if _, err := alice.db.File(ctx, gone.ID); err == nil {
		t.Fatalf("the deleted attachment is still listed")
	}
	ts, err := alice.db.Transfers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range ts {
		if tr.AttachmentID == gone.ID {
			t.Fatalf("the upload of an attachment gone for good is still queued: %+v", tr)
		}
	}
}
