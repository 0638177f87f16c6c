package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"casefile/model"
)

// canaryFile is a file of two chunks and more whose name and bytes carry
// the canary.
func canaryFile(t *testing.T, name string) (string, []byte) {
	t.Helper()
	data := []byte(strings.Repeat("Settlement offer "+cliCanary+" — privileged.\n", model.ChunkSize/20))
	src := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return src, data
}

// A file attached with the canary in its name and bytes, uploaded, kept
// offline on another device, and one imported from the drop folder: no
// file of either data directory holds the canary (the file store, its
// temporary and partial files, the database, the log), fetch still gives
// the bytes back, and fetch into the data directory is refused.
func TestCLIAttachedFileNeverInPlaintext(t *testing.T) {
	t.Parallel()
	ha, hb, note := aliceSharesWithBob(t)
	src, data := canaryFile(t, cliCanary+" offer.txt")
	id := strings.TrimSpace(ha.ok("attach", note, src))

	inbox := filepath.Join(t.TempDir(), "Inbox")
	if err := os.WriteFile(ha.config, []byte("drop_folder = \""+inbox+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ha.ok("inbox", "--once")
	dirs, _ := os.ReadDir(inbox)
	if len(dirs) != 1 {
		t.Fatalf("matter folders: %v", dirs)
	}
	if err := os.WriteFile(filepath.Join(inbox, dirs[0].Name(), cliCanary+" scan.txt"), data[:5000], 0o600); err != nil {
		t.Fatal(err)
	}
	if out := ha.ok("inbox", "--once"); !strings.Contains(out, "imported 1 file") {
		t.Fatalf("inbox --once printed %q", out)
	}
	if r := ha.run("sync"); r.code != 0 || !strings.Contains(r.stdout, "uploaded 2") {
		t.Fatalf("alice's sync: %+v", r)
	}
	if r := hb.run("sync"); r.code != 0 || !strings.Contains(r.stdout, "downloaded 2") {
		t.Fatalf("bob's sync: %+v", r)
	}
	for _, h := range []*harness{ha, hb} {
		if hits := plaintextIn(t, filepath.Join(h.data, "files"), "Settlement offer"); len(hits) > 0 {
			t.Errorf("the file's bytes are in plaintext in %v", hits)
		}
		if hits := plaintextIn(t, h.data, cliCanary); len(hits) > 0 {
			t.Errorf("the canary is in plaintext in %v", hits)
		}
	}
	if r := hb.run("fetch", id, "--to", filepath.Join(hb.data, "out")); r.code == 0 || !strings.Contains(r.stderr, "inside the data directory") {
		t.Errorf("fetch into the data directory: %+v", r)
	}
	link := filepath.Join(t.TempDir(), "data")
	if err := os.Symlink(hb.data, link); err == nil {
		if r := hb.run("fetch", id, "--to", link); r.code == 0 || !strings.Contains(r.stderr, "inside the data directory") {
			t.Errorf("fetch through a link to the data directory: %+v", r)
		}
	}
	dst := strings.TrimSpace(hb.ok("fetch", id, "--to", t.TempDir()))
	if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("fetched %s: %v, equal %v", dst, err, bytes.Equal(got, data))
	}
}
