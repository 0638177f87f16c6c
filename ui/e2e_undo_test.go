package ui

import (
	"regexp"
	"strings"
	"testing"
)

// TestEndToEndUndo deletes a note in the demo, takes the delete back with
// u and finds the note synced again through the demo's server; a second u
// walks further back to alice's earlier change, which waits in a conflict,
// and says it cannot be undone before the review.
func TestEndToEndUndo(t *testing.T) {
	s, _ := startDemo(t, t.TempDir(), "undo")
	s.waitText("alice@127.0.0.1", "● online")
	s.send(false, "right", "right")
	s.waitText("Notes · all matters")

	// Delete the second note (the first waits in a conflict); the notice
	// names it.
	s.send(false, "j")
	s.send(false, "d")
	s.waitText("y yes")
	s.send(false, "y")
	screen := s.waitText("Deleted “")
	m := regexp.MustCompile(`Deleted “([^”]+)”`).FindStringSubmatch(screen)
	if m == nil {
		t.Fatalf("no deleted title on screen:\n%s", screen)
	}
	title := m[1]
	s.waitFor("the delete to reach the server", func(screen string) bool {
		return !strings.Contains(screen, "saved offline") && !strings.Contains(screen, "syncing")
	})

	// u takes the delete back: the note returns and syncs.
	s.send(false, "u")
	s.waitText("Undid the deletion of note “" + title + "”: it is back.")
	s.waitFor("the restored note to be synced", func(screen string) bool {
		for _, l := range strings.Split(screen, "\n") {
			if strings.Contains(l, title) && strings.Contains(l, "✓ synced") {
				return true
			}
		}
		return false
	})

	// A second u walks further back, not to the undo: alice's change
	// before the delete is her edit of the note that waits in a conflict,
	// and undo refuses it until the conflict is reviewed.
	s.send(false, "u")
	screen = s.waitText("Nothing was undone: the record has a conflict waiting for review")
	if strings.Count(screen, title) != 1 {
		t.Fatalf("the restored note is not listed once:\n%s", screen)
	}
	s.send(false, "q")
}
