package localdb

import (
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
