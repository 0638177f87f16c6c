package syncer_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"casefile/model"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/syncer"
)

// jsonPulls asks for pull pages without naming the packed form, as a
// client older than it does, and notes each pull's cursor.
type jsonPulls struct{ pullRecorder }

func (j *jsonPulls) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Accept", "application/json")
	return j.pullRecorder.RoundTrip(req)
}

// TestPullTakesShortPages: a server whose pull pages stop at their byte
// budget sends pages of fewer records than a device asks for, some of a
// single record larger than the budget. A fresh device's full pull and
// its later pulls take them page by page from each page's cursor, in the
// packed form and in JSON, and end holding exactly what the server holds.
func TestPullTakesShortPages(t *testing.T) {
	const budget = 4 << 10
	w := newWorld(t, func(o *server.Options) { o.PullPageBytes = budget })
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Long notes")
	notes := 0
	addNotes := func(n int) {
		t.Helper()
		var ops []model.Op
		for i := range n {
			// 0 to 5,200 bytes of JSON: a page holds a few, or one alone.
			body := strings.Repeat("\x02", (notes+i)%7*150)
			ops = append(ops, servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": title(notes + i), "body": body}))
		}
		if _, err := alice.Push(context.Background(), ops...); err != nil {
			t.Fatal(err)
		}
		notes += n
	}
	addNotes(60)
	for _, form := range []string{"packed", "json"} {
		t.Run(form, func(t *testing.T) {
			var rec interface {
				http.RoundTripper
				asked() []int64
			} = &pullRecorder{}
			if form == "json" {
				rec = &jsonPulls{}
			}
			d := w.newDevice("d-"+form, alice, func(o *syncer.Options) { o.HTTPClient = &http.Client{Transport: rec} })
			before := notes
			if sum := d.sync(); sum.Pulled != notes+1 {
				t.Fatalf("the first sync pulled %d records, want %d", sum.Pulled, notes+1)
			}
			asked := rec.asked()
			// 60 notes of ~2,000 bytes on average in pages of 4 KiB: the
			// server's own page of 500 would hold them all.
			// Every cursor once, in order.
			rising := slices.IsSorted(asked) && len(slices.Compact(slices.Clone(asked))) == len(asked)
			if len(asked) < before/4 || !rising {
				t.Fatalf("the first sync asked from cursors %v", asked)
			}
			assertMirrors(t, d)
			addNotes(20)
			if sum := d.sync(); sum.Pulled != 20 {
				t.Fatalf("the next sync pulled %d records, want 20", sum.Pulled)
			}
			if n := len(rec.asked()) - len(asked); n < 5 {
				t.Fatalf("the next sync took 20 notes in %d pages", n)
			}
			assertMirrors(t, d)
		})
	}
}
