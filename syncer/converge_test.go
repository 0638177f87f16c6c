package syncer_test

import (
	"context"
	"testing"

	"casefile/localdb"
	"casefile/model"
)

// TestTwoDevicesOfflineConverge: two people edit the same matter while
// offline, then reconnect in either order. Every edit that did not overlap
// is kept; every overlapping one waits for review on the device that
// reached the server second; all else mirrors the server.
func TestTwoDevicesOfflineConverge(t *testing.T) {
	for _, order := range []string{"alice first", "bob first"} {
		t.Run(order, func(t *testing.T) {
			w := newWorld(t)
			alice, bob, m := w.sharedMatter(t)
			n1 := alice.CreateNote(t, m.ID, "n1")
			n2 := alice.CreateNote(t, m.ID, "n2")
			n3 := alice.CreateNote(t, m.ID, "n3")
			a := w.newDevice("a", alice)
			b := w.newDevice("b", bob)
			a.sync()
			b.sync()
			a.s.SetWorkOffline(true)
			b.s.SetWorkOffline(true)

			ctx := context.Background()
			a.update(n1.ID, model.Fields{"title": "n1 by alice"})
			b.update(n1.ID, model.Fields{"body": "n1 body by bob"})
			a.update(n2.ID, model.Fields{"status": "open"})
			b.update(n2.ID, model.Fields{"status": "review"})
			if err := a.db.Delete(ctx, n3.ID); err != nil {
				t.Fatal(err)
			}
			b.update(n3.ID, model.Fields{"body": "n3 body by bob"})
			na := a.create("note", model.Fields{model.MatterField: m.ID, "title": "new by alice"})
			nb := b.create("note", model.Fields{model.MatterField: m.ID, "title": "new by bob"})

			first, second := a, b
			if order == "bob first" {
				first, second = b, a
			}
			first.s.SetWorkOffline(false)
			first.sync()
			second.s.SetWorkOffline(false)
			second.sync()
			first.sync()

			srv := serverRecords(t, alice)
			if r := srv[n1.ID]; r.Fields["title"] != "n1 by alice" || r.Fields["body"] != "n1 body by bob" {
				t.Errorf("n1 on the server = %v, want both non-overlapping edits", r.Fields)
			}
			for _, id := range []string{na.ID, nb.ID} {
				if r, ok := srv[id]; !ok || r.Deleted {
					t.Errorf("new note %s missing on the server", id)
				}
			}
			wantStatus := "open"
			if order == "bob first" {
				wantStatus = "review"
			}
			if got := srv[n2.ID].Fields["status"]; got != wantStatus {
				t.Errorf("n2 status on the server = %v, want %s (the first to arrive)", got, wantStatus)
			}
			// The second device reviews both overlaps: the status and the
			// delete against the edit.
			cs, err := second.db.Conflicts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]model.ConflictKind{}
			for _, c := range cs {
				kinds[c.RecordID] = c.Kind
			}
			wantN3 := model.ConflictEditDeleted
			if order == "bob first" {
				wantN3 = model.ConflictDeleteEdit
			}
			if len(cs) != 2 || kinds[n2.ID] != model.ConflictEdit || kinds[n3.ID] != wantN3 {
				t.Errorf("%s's conflicts = %v, want n2 edit and n3 %s", second.name, kinds, wantN3)
			}
			if cs, _ := first.db.Conflicts(ctx); len(cs) != 0 {
				t.Errorf("%s has %d conflicts, want none", first.name, len(cs))
			}
			assertMirrors(t, first)
			assertMirrorsExcept(t, second, kinds)
		})
	}
}

// assertMirrorsExcept is assertMirrors for a device with records in review:
// those must be in conflict state, every other record must mirror the server.
func assertMirrorsExcept(t testing.TB, d *device, conflicted map[string]model.ConflictKind) {
	t.Helper()
	want := liveRecords(serverRecords(t, d.user))
	got, err := d.db.List(context.Background(), localdb.ListQuery{IncludeDeleted: true})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range got {
		seen[r.ID] = true
		if _, ok := conflicted[r.ID]; ok {
			if r.State != model.StateConflict {
				t.Errorf("%s: %s is %s, want conflict", d.name, r.ID, r.State)
			}
			continue
		}
		sr, ok := want[r.ID]
		if !ok {
			t.Errorf("%s holds %s the server does not have", d.name, r.ID)
			continue
		}
		if !sameFields(r.Fields, sr.Fields) || r.State != model.StateSynced {
			t.Errorf("%s: %s = %v (%s), server %v", d.name, r.ID, r.Fields, r.State, sr.Fields)
		}
	}
	for id := range want {
		if _, ok := conflicted[id]; !seen[id] && !ok {
			t.Errorf("%s misses %s", d.name, id)
		}
	}
}
