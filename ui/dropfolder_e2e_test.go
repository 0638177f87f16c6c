package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A terminal UI running with a drop folder configured watches it: the
// matter's folder appears, and a file saved there becomes a document with
// the file attached while the UI is open, with no command run.
func TestEndToEndDropFolderWatchedByUI(t *testing.T) {
	const pass = "drop test passphrase"
	inbox := filepath.Join(t.TempDir(), "Inbox")
	r := newSealedRig(t, pass, "drop_folder = \""+inbox+"\"\n")
	cli := r.cli
	cli("add", "matter", "title=Harbour Trust")
	s := r.start("drop", "", "")
	s.waitText("Harbour Trust")
	var folder string
	s.waitFor("the matter's drop folder", func(string) bool {
		ms, _ := filepath.Glob(filepath.Join(inbox, "Harbour Trust*"))
		if len(ms) == 1 {
			folder = ms[0]
		}
		return folder != ""
	})
	if err := os.WriteFile(filepath.Join(folder, "receipt.pdf"), []byte("%PDF-1.4 receipt"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(cli("files", "--json"), `"receipt.pdf"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the dropped file was not imported while the UI ran; files: %s", cli("files", "--json"))
		}
		time.Sleep(200 * time.Millisecond) // polling the CLI for the import, not timing it
	}
}
