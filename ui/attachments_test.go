package ui

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/localfiles"
	"casefile/model"
	"casefile/transfer"
)

func TestDetailAttachesOpensAndRemovesFiles(t *testing.T) {
	db := localdbtest.Open(t)
	mustCreate(t, db, "matter", model.Fields{"title": "Harbour wall"})
	dir := t.TempDir()
	store, err := localfiles.OpenDir(filepath.Join(dir, "files"))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "brief-final.pdf")
	if err := os.WriteFile(src, []byte("%PDF-1.4 the brief"), 0o600); err != nil {
		t.Fatal(err)
	}
	kicks := 0
	m := newTestModel(t, Options{DB: db, Files: Files{Store: store, OpenDir: dir, Kick: func() { kicks++ }},
		Getenv: envOf("OPENER", "true")}) // a program that opens nothing and succeeds
	press(t, m, "enter", "enter") // the matter's hub, then its first row: the matter's detail
	if m.detail == nil {
		t.Fatal("no detail opened")
	}
	mustContain(t, screenText(m), "Files", "No files. Press a to attach one.")

	press(t, m, "a")
	if !m.detail.Capturing() {
		t.Fatal("the path prompt does not take typed letters")
	}
	typeText(t, m, filepath.Join(dir, "brief-f"))
	press(t, m, "tab") // completes to the one match
	if got := m.detail.files.prompt.Value(); got != src {
		t.Fatalf("completion gave %q, want %q", got, src)
	}
	press(t, m, "enter")
	if m.detail.Capturing() || kicks != 1 {
		t.Fatalf("after enter: capturing %v, kicks %d", m.detail.Capturing(), kicks)
	}
	mustContain(t, screenText(m), "brief-final.pdf", "18 B", "◷ queued", "Attached brief-final.pdf")

	press(t, m, "O")
	mustContain(t, screenText(m), "Opened brief-final.pdf.")

	// The backlog tells of the upload beside the ops.
	press(t, m, "3")
	drain(t, m, m.backlog.refresh())
	mustContain(t, screenText(m), "Files: ↑ 1 file to upload, ↓ 0 files to download")
	press(t, m, "1")

	press(t, m, "X")
	press(t, m, "y")
	mustContain(t, screenText(m), "No files. Press a to attach one.")
	files, err := db.Files(t.Context(), "")
	if err != nil || len(files) != 0 {
		t.Fatalf("files after remove: %v, %v", files, err)
	}
}

func TestCompletePath(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"exhibit-a.pdf", "exhibit-b.pdf"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o600)
	}
	os.Mkdir(filepath.Join(dir, "scans"), 0o700)
	if got := completePath(filepath.Join(dir, "ex")); got != filepath.Join(dir, "exhibit-") {
		t.Errorf("common prefix: %q", got)
	}
	if got := completePath(filepath.Join(dir, "sc")); got != filepath.Join(dir, "scans")+string(filepath.Separator) {
		t.Errorf("a directory: %q", got)
	}
	if got := completePath(filepath.Join(dir, "zz")); got != filepath.Join(dir, "zz") {
		t.Errorf("no match: %q", got)
	}
}

// A file moving shows its state with its percentage, a bar, and — from
// the transfer queue's reports — its rate and time left; a failed one its
// reason; a report gone stale shows no rate.
func TestDetailShowsTransferRateAndStates(t *testing.T) {
	db := localdbtest.Open(t)
	mt := mustCreate(t, db, "matter", model.Fields{"title": "Harbour wall"})
	dir := t.TempDir()
	store, err := localfiles.OpenDir(filepath.Join(dir, "files"))
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("x"), 4_000_000)
	hash, size, err := store.Import(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	att, err := db.Attach(t.Context(), mt.ID, model.Attachment{Name: "bundle.pdf", Size: size, SHA256: hash})
	if err != nil {
		t.Fatal(err)
	}
	other, err := db.Attach(t.Context(), mt.ID, model.Attachment{Name: "scan.pdf", Size: size, SHA256: hash})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.TransferProgress(t.Context(), att.ID, localdb.Upload, 1_800_000); err != nil {
		t.Fatal(err)
	}
	if err := db.TransferFailed(t.Context(), other.ID, localdb.Upload, "the server's quota for you is full"); err != nil {
		t.Fatal(err)
	}
	// The queue's channel, closed: the app's wait for it ends at once in
	// these synchronous steps, and reports are stepped in by hand.
	ch := make(chan transfer.Progress)
	close(ch)
	now := fixedNow
	m := newTestModel(t, Options{DB: db, Files: Files{Store: store, Progress: ch}, Now: func() time.Time { return now }})
	m.step(tea.WindowSizeMsg{Width: 140, Height: 30})
	press(t, m, "enter", "enter") // the matter's hub, then its detail
	screen := screenText(m)
	mustContain(t, screen, "bundle.pdf", "↑ uploading 45 %", "scan.pdf", "✗ failed: the server's quota for you is full")
	mustNotContain(t, screen, "/s")

	drain(t, m, m.step(transferProgressMsg{AttachmentID: att.ID, Direction: localdb.Upload, Done: 2_000_000, Total: size,
		Rate: 1_250_000, ETA: 42 * time.Second}))
	mustContain(t, screenText(m), "↑ uploading 50 %", "1.2 MB/s, 0:42 left")

	now = now.Add(progressFresh + time.Second)
	mustNotContain(t, screenText(m), "MB/s")
}
