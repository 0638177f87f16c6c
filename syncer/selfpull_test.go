package syncer_test

import (
	"fmt"
	"testing"

	"casefile/model"
)

// TestPushNeverPullsOwnWritesBack: a device that pushes while nothing
// else changes on the server takes the push answers as its pull (the
// server names the cursor they reach), so its next pull brings nothing
// back; when another device wrote in between, the pull still brings that
// write, and the pushing device ends up mirroring the server either way.
func TestPushNeverPullsOwnWritesBack(t *testing.T) {
	w, alice, a := newSolo(t)
	m := a.create("matter", model.Fields{"title": "Own writes"})
	var notes []model.Record
	for i := range 30 {
		notes = append(notes, a.create("note", model.Fields{model.MatterField: m.ID, "title": title(i)}))
	}
	sum := a.sync()
	if sum.Pushed != 31 || sum.Pulled != 0 {
		t.Fatalf("first sync pushed %d, pulled %d; want 31 and 0", sum.Pushed, sum.Pulled)
	}
	assertMirrors(t, a)

	// Another device of alice writes; then a edits: the push answer cannot
	// cover b's write, so a pulls it (and only what it must).
	b := w.newDevice("b", alice)
	b.sync()
	fromB := b.create("note", model.Fields{model.MatterField: m.ID, "title": "from b"})
	b.sync()
	a.update(notes[0].ID, model.Fields{"title": "edited on a"})
	sum = a.sync()
	if sum.Pushed != 1 || sum.Pulled < 1 {
		t.Fatalf("sync after b's write pushed %d, pulled %d; want 1 and b's note", sum.Pushed, sum.Pulled)
	}
	if got := a.get(fromB.ID); got.Fields["title"] != "from b" {
		t.Fatalf("b's note on a = %v", got.Fields)
	}
	assertMirrors(t, a)

	// Caught up again: the next edit is answered with the cursor.
	a.update(notes[1].ID, model.Fields{"title": fmt.Sprintf("edited again %d", 2)})
	if sum := a.sync(); sum.Pushed != 1 || sum.Pulled != 0 {
		t.Fatalf("caught-up sync pushed %d, pulled %d; want 1 and 0", sum.Pushed, sum.Pulled)
	}
	assertMirrors(t, a)
	b.sync()
	assertMirrors(t, b)
}

// TestPushCursorThenCompactedRevoke: a device whose cursor moved with its
// push answers (its pulls never got through) lost the matter, and the
// revocation was compacted before its next pull: that pull's cursor is
// below the compaction mark, so it resyncs from 0 and the lost matter's
// records go from the device.
func TestPushCursorThenCompactedRevoke(t *testing.T) {
	lostMatterAfterPushOnly(t, nil, 2, "2 (the push's answer)")
}
