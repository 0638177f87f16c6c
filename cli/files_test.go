package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"casefile/model"
	"casefile/server"
	"casefile/server/servertest"
)

// aliceSharesWithBob logs alice and bob in on two data directories of
// one server; alice seeds a matter and a note, syncs, and bob is granted
// the matter.
func aliceSharesWithBob(t *testing.T) (*harness, *harness, string) {
	t.Helper()
	srv := startServer(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	bob := srv.NewUser(t, "bob", server.RoleMember)
	ha, hb := newHarness(t), newHarness(t)
	ha.login(srv.URL, alice)
	hb.login(srv.URL, bob)
	matter, note := ha.seed()
	ha.ok("sync")
	if err := srv.Grant(context.Background(), "bob", matter); err != nil {
		t.Fatal(err)
	}
	return ha, hb, note
}

// Two devices through the CLI: alice attaches, sync moves the bytes, bob's
// sync keeps the small file offline, fetch copies it out, detach removes it.
func TestAttachSyncFetchDetach(t *testing.T) {
	t.Parallel()
	ha, hb, note := aliceSharesWithBob(t)

	data := make([]byte, model.ChunkSize+500)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "exhibit A.pdf")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(ha.ok("attach", note, src))
	if err := checkID(id); err != nil {
		t.Fatalf("attach printed %q", id)
	}
	var files []shownFile
	ha.okJSON(&files, "files", note, "--json")
	if len(files) != 1 || files[0].Name != "exhibit A.pdf" || files[0].State != "queued" || files[0].MediaType != "application/pdf" || files[0].Size != int64(len(data)) {
		t.Fatalf("files after attach: %+v", files)
	}
	if out := ha.ok("sync", "--records-only"); strings.Contains(out, "files") {
		t.Errorf("sync --records-only moved files: %q", out)
	}
	r := ha.run("sync")
	if r.code != 0 || !strings.Contains(r.stdout, "files: uploaded 1") || !strings.Contains(r.stderr, "uploading exhibit A.pdf: 100 %") {
		t.Fatalf("sync: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	ha.okJSON(&files, "files", "--json")
	if len(files) != 1 || files[0].State != "uploaded" {
		t.Fatalf("alice's files after sync: %+v", files)
	}

	if r := hb.run("sync"); r.code != 0 || !strings.Contains(r.stdout, "downloaded 1") {
		t.Fatalf("bob's sync: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	hb.okJSON(&files, "files", note, "--json")
	if len(files) != 1 || files[0].State != "available offline" {
		t.Fatalf("bob's files: %+v", files)
	}
	var ms []model.Record
	hb.okJSON(&ms, "list", "matter", "--json")
	if len(ms) != 1 {
		t.Fatalf("bob's matters: %+v", ms)
	}
	if out := hb.ok("keep-offline", ms[0].ID, "all"); !strings.Contains(out, "now keeps every file of matter "+ms[0].ID+" offline") {
		t.Errorf("keep-offline printed %q", out)
	}
	if r := hb.run("keep-offline", ms[0].ID, "most"); r.code != 2 {
		t.Errorf("keep-offline most: exit %d, %q", r.code, r.stderr)
	}
	out := t.TempDir()
	dst := strings.TrimSpace(hb.ok("fetch", id, "--to", out))
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("fetched %s: %v, equal %v", dst, err, bytes.Equal(got, data))
	}
	if r := hb.run("fetch", id, "--to", out); r.code == 0 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("fetch over an existing file: exit %d, %q", r.code, r.stderr)
	}
	// The first characters of the id will do, as for every command.
	again := strings.TrimSpace(hb.ok("fetch", id[:13], "--to", t.TempDir()))
	if got, err := os.ReadFile(again); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("fetched by a short id %s: %v", again, err)
	}
	if r := hb.run("fetch", "nonexist"); r.code == 0 || !strings.Contains(r.stderr, `"nonexist" is not a file id`) {
		t.Errorf("fetch of a malformed id: exit %d, %q", r.code, r.stderr)
	}
	if r := hb.run("fetch", model.NewID()); r.code == 0 || !strings.Contains(r.stderr, "no file with id") {
		t.Errorf("fetch of an unknown file: exit %d, %q", r.code, r.stderr)
	}

	// A file's size and hash come from its bytes: add and edit do not
	// make or change them (add is told to use attach; an edit is refused
	// as any value the schema does not take); its name may change.
	before := ha.snapshot()
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"add", "attachment", "record_id=" + note, "name=x", "size=1", "sha256=" + strings.Repeat("0", 64)}, 2},
		{[]string{"edit", id, "size=999"}, 1},
		{[]string{"edit", id, "sha256=" + strings.Repeat("0", 64)}, 1},
	} {
		if r := ha.run(c.args...); r.code != c.code || !strings.Contains(r.stderr, "attach") {
			t.Errorf("casefile %v: exit %d, %q; want exit %d", c.args, r.code, r.stderr, c.code)
		}
	}
	if ha.snapshot() != before {
		t.Errorf("a refused add or edit of an attachment changed the database")
	}
	ha.ok("edit", id, "name=exhibit B.pdf")

	// Deleting the note deletes its file with it; undo brings both back.
	if out := ha.ok("rm", note); !strings.Contains(out, "Deleted 1 attached file with it") {
		t.Errorf("rm of a note with a file printed %q", out)
	}
	ha.okJSON(&files, "files", "--json")
	if len(files) != 0 {
		t.Fatalf("files after the note's delete: %+v", files)
	}
	ha.ok("undo")
	ha.okJSON(&files, "files", "--json")
	if len(files) != 1 || files[0].ID != id {
		t.Fatalf("files after the undo: %+v", files)
	}

	// Detach: the file leaves both devices' lists.
	ha.ok("detach", id)
	ha.ok("sync")
	hb.ok("sync")
	hb.okJSON(&files, "files", "--json")
	if len(files) != 0 {
		t.Fatalf("bob still lists a detached file: %+v", files)
	}
	if r := ha.run("attach", note, filepath.Join(t.TempDir(), "missing.pdf")); r.code == 0 || !strings.Contains(r.stderr, "missing.pdf") {
		t.Errorf("attach of a missing file: exit %d, %q", r.code, r.stderr)
	}
}

func TestParseByteSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"0": 0, "123": 123, "500MB": 500e6, "4GiB": 4 << 30, " 2 KiB ": 2048, "1TB": 1e12} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "4XB", "GiB", "99999999999TiB"} {
		if _, err := parseByteSize(bad); err == nil {
			t.Errorf("parseByteSize(%q) took it", bad)
		}
	}
}

func TestInboxOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	matter, _ := h.seed()
	inbox := filepath.Join(t.TempDir(), "Inbox")
	if err := os.WriteFile(h.config, []byte("drop_folder = \""+inbox+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.ok("inbox", "--once") // creates the matter folders
	dirs, _ := os.ReadDir(inbox)
	if len(dirs) != 1 || !strings.HasSuffix(dirs[0].Name(), "("+strings.ReplaceAll(matter, "-", "")[24:]+")") {
		t.Fatalf("matter folders: %v", dirs)
	}
	if err := os.WriteFile(filepath.Join(inbox, dirs[0].Name(), "receipt.pdf"), []byte("%PDF-1.4 receipt"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := h.ok("inbox", "--once"); !strings.Contains(out, "imported 1 file") {
		t.Fatalf("inbox --once printed %q", out)
	}
	var files []shownFile
	h.okJSON(&files, "files", "--json")
	if len(files) != 1 || files[0].Name != "receipt.pdf" || files[0].Matter != matter {
		t.Fatalf("files: %+v", files)
	}
}

// TestSyncExitsWhileAFileIsRefused: a file the server refuses (over its
// size limit) makes sync exit 6, this sync and the next, and status
// names it; detaching it clears the way.
func TestSyncExitsWhileAFileIsRefused(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, func(o *server.Options) { o.RateLimit, o.MaxFileBytes = -1, 50 })
	h := newHarness(t)
	h.login(srv.URL, srv.NewUser(t, "alice", server.RoleMember))
	_, note := h.seed()
	src := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(src, bytes.Repeat([]byte("x"), 100), 0o600); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(h.ok("attach", note, src))
	for i := range 2 {
		r := h.run("sync")
		if r.code != exitFailed || !strings.Contains(r.stderr, "refused 1 file(s)") || !strings.Contains(r.stderr, "casefile files") {
			t.Fatalf("sync %d with a refused file: exit %d, stdout %q, stderr %q", i+1, r.code, r.stdout, r.stderr)
		}
	}
	if r := h.run("sync", "--records-only"); r.code != 0 {
		t.Errorf("sync --records-only with a refused file: exit %d, %q", r.code, r.stderr)
	}
	var st statusReport
	h.okJSON(&st, "status", "--json")
	if st.UploadsFailed != 1 || st.UploadsWaiting != 0 || st.Failed != 0 {
		t.Errorf("status --json: %+v", st)
	}
	if out := h.run("status").stdout; !strings.Contains(out, "Files:      0 to upload, 1 refused by the server") {
		t.Errorf("status:\n%s", out)
	}
	h.ok("detach", id)
	if r := h.run("sync"); r.code != 0 {
		t.Errorf("sync after the refused file was detached: exit %d, %q", r.code, r.stderr)
	}
}

// TestAttachRefusesWhatIsNotAFile: a directory, a named pipe or a device
// is refused at once with a sentence; a pipe no one writes to never holds
// the command up.
func TestAttachRefusesWhatIsNotAFile(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, note := h.seed()
	fifo := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	for _, path := range []string{fifo, t.TempDir(), os.DevNull} {
		done := make(chan result, 1)
		go func() { done <- h.run("attach", note, path) }()
		select {
		case r := <-done:
			if r.code == 0 || !strings.Contains(r.stderr, "not a regular file") && !strings.Contains(r.stderr, "directory") {
				t.Errorf("attach %s: exit %d, %q", path, r.code, r.stderr)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("attach %s still runs after 30 s", path)
		}
	}
	if out := h.ok("files"); strings.Contains(out, "pipe") {
		t.Errorf("a refused attach left a file:\n%s", out)
	}
}

// TestAttachChecksEveryNameFirst: among several files, one whose name
// the schema refuses (a line break in it) is named in the error, and
// nothing is attached: the files before it used to stay attached, with an
// error that did not say which file it was about.
func TestAttachChecksEveryNameFirst(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, note := h.seed()
	dir := t.TempDir()
	var paths []string
	for _, name := range []string{"a.txt", "b\nc.txt", "d.txt"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(name), 0o600); err != nil {
			t.Skipf("cannot make a file named %q here: %v", name, err)
		}
		paths = append(paths, p)
	}
	before := h.snapshot()
	r := h.run(append([]string{"attach", note}, paths...)...)
	if r.code == 0 || !strings.Contains(r.stderr, `b\nc.txt`) || !strings.Contains(r.stderr, "line break") {
		t.Errorf("attach with a name holding a line break: exit %d\n%s%s\nwant the file named", r.code, r.stdout, r.stderr)
	}
	if strings.TrimSpace(r.stdout) != "" || h.snapshot() != before {
		t.Errorf("a refused attach attached some files:\n%s\n%s", r.stdout, h.ok("files"))
	}
}

// TestRepairKeepsAnAttachedFilesUpload: a file attached offline and then
// salvaged by doctor --repair is uploaded by the next sync, bytes and
// all; the repaired database used to send its record and never its
// bytes, so every other device met a file the server did not have.
func TestRepairKeepsAnAttachedFilesUpload(t *testing.T) {
	t.Parallel()
	ha, hb, note := aliceSharesWithBob(t)
	data := make([]byte, model.ChunkSize+100)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "site photo.jpg")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(ha.ok("attach", note, src))
	path := filepath.Join(ha.data, "casefile.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	var recordsPage int64
	if err := db.QueryRow("SELECT rootpage FROM sqlite_master WHERE name = 'records'").Scan(&recordsPage); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	garblePage(t, path, recordsPage)
	if r := ha.run("doctor", "--repair"); !strings.Contains(r.stdout, "the damaged file is kept as ") {
		t.Fatalf("doctor --repair: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if r := ha.run("sync"); r.code != 0 || !strings.Contains(r.stdout, "files: uploaded 1") {
		t.Fatalf("alice's sync after the repair: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	hb.ok("sync")
	got, err := os.ReadFile(strings.TrimSpace(hb.ok("fetch", id, "--to", t.TempDir())))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("bob's copy of the repaired device's file: %v, equal %v", err, bytes.Equal(got, data))
	}
}
