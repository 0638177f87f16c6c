package server_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func withClock(c *clock) servertest.Option { return func(o *server.Options) { o.Now = c.Now } }

func TestPullPaging(t *testing.T) {
	ctx := context.Background()
	srv := servertest.Start(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Paged")
	for range 7 {
		alice.CreateNote(t, m.ID, "note")
	}
	var cursor int64
	var sizes []int
	var totals []int64
	seen := map[string]bool{}
	for {
		page, err := alice.Pull(ctx, cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		sizes, totals = append(sizes, len(page.Records)), append(totals, page.Total)
		for _, r := range page.Records {
			if r.Seq <= cursor || seen[r.ID] {
				t.Fatalf("record %s at seq %d after cursor %d, seen before: %v", r.ID, r.Seq, cursor, seen[r.ID])
			}
			seen[r.ID] = true
		}
		if page.Head != 8 || page.Cursor <= cursor {
			t.Fatalf("page = %+v after cursor %d", page, cursor)
		}
		cursor = page.Cursor
		if !page.More {
			break
		}
	}
	if !slices.Equal(sizes, []int{3, 3, 2}) || !slices.Equal(totals, []int64{8, 5, 2}) || cursor != 8 {
		t.Fatalf("pages %v totals %v final cursor %d", sizes, totals, cursor)
	}
	if page, err := alice.Pull(ctx, cursor, 3); err != nil || len(page.Records) != 0 || page.More || page.Cursor != 8 {
		t.Fatalf("pull at the head = %+v, %v", page, err)
	}
}

// TestNoGrantSeesNothing checks every route for a user without access to a
// matter: nothing of it comes back, not even in error text.
func TestNoGrantSeesNothing(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, startSQLite)
	secret := w.alice.CreateNote(t, w.p.ID, "Secret strategy")
	page, err := w.dave.Pull(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if body := jsonOf(t, page); strings.Contains(body, w.p.ID) || strings.Contains(body, "Secret") || strings.Contains(body, w.m.ID) {
		t.Fatalf("dave's pull shows others' matters: %s", body)
	}
	for _, op := range []model.Op{
		servertest.Update(secret, model.Fields{"title": "mine now"}),
		servertest.Delete(secret),
		servertest.Create("note", model.Fields{"matter_id": w.p.ID, "title": "planted"}),
		servertest.Update(w.p, model.Fields{"title": "renamed"}),
	} {
		res := w.dave.PushOne(t, op)
		if body := jsonOf(t, res); res.Result != model.ResultRejected || strings.Contains(body, "Secret") || strings.Contains(body, "Private") {
			t.Fatalf("dave's push answered %s", body)
		}
	}
	if page, _ := w.alice.Pull(ctx, 0, 0); !strings.Contains(jsonOf(t, page), "Secret strategy") || strings.Contains(jsonOf(t, page), "planted") {
		t.Fatal("dave's pushes changed alice's matter")
	}
}

func TestRevokeAndRegrant(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, startSQLite)
	w.alice.CreateNote(t, w.m.ID, "Shared note")
	pages, err := w.bob.PullAll(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	cursor := pages[len(pages)-1].Cursor
	if err := w.srv.Revoke(ctx, "bob", w.m.ID); err != nil {
		t.Fatal(err)
	}
	w.alice.CreateNote(t, w.m.ID, "After the revoke")
	page, err := w.bob.Pull(ctx, cursor, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(page.DroppedMatters, []string{w.m.ID}) || len(page.Records) != 0 {
		t.Fatalf("pull after revoke = %+v", page)
	}
	if err := w.srv.Revoke(ctx, "bob", w.m.ID); !errors.Is(err, server.ErrInvalid) {
		t.Fatalf("revoking again: %v, want ErrInvalid", err)
	}
	if err := w.srv.Grant(ctx, "bob", w.m.ID); err != nil {
		t.Fatal(err)
	}
	// From the old cursor: the re-grant cancels the drop and every record of
	// the matter comes back.
	page, err = w.bob.Pull(ctx, cursor, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.DroppedMatters) != 0 || len(page.Records) != 3 {
		t.Fatalf("pull after re-grant = %+v", page)
	}
	for _, bad := range [][2]string{{"nobody", w.m.ID}, {"bob", model.NewID()}, {"bob", "not-an-id"}} {
		if err := w.srv.Grant(ctx, bad[0], bad[1]); err == nil {
			t.Errorf("Grant(%q, %q) succeeded", bad[0], bad[1])
		}
	}
}

func TestAdminSeesAll(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, startSQLite)
	admin := w.srv.NewUser(t, "root", server.RoleAdmin)
	note := w.alice.CreateNote(t, w.p.ID, "Private note")
	pages, err := admin.PullAll(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(pages[0].Records); n != 3 {
		t.Fatalf("admin pulled %d records, want 3", n)
	}
	expect(t, admin.PushOne(t, servertest.Update(note, model.Fields{"body": "admin edit"})), model.ResultApplied, "")
}

func TestCompaction(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	srv := servertest.Start(t, withClock(clk), func(o *server.Options) { o.Retention = 24 * time.Hour })
	alice := srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Compacted")
	note := alice.CreateNote(t, m.ID, "Gone soon")
	res := alice.PushOne(t, servertest.Delete(note))
	clk.Add(48 * time.Hour)
	keep := alice.CreateNote(t, m.ID, "Recent")
	st, err := srv.Compact(ctx, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st.Tombstones != 1 || st.CompactedThrough != res.Record.Seq {
		t.Fatalf("compaction = %+v", st)
	}
	var se *servertest.StatusError
	if _, err := alice.Pull(ctx, 1, 0); !errors.As(err, &se) || se.Status != 410 || se.Code != protocol.CodeCursorTooOld {
		t.Fatalf("pull from a compacted cursor: %v, want 410 cursor_too_old", err)
	}
	page, err := alice.Pull(ctx, 0, 0)
	if err != nil || len(page.Records) != 2 || page.Records[1].ID != keep.ID {
		t.Fatalf("full resync = %+v, %v", page, err)
	}
	if _, err := alice.Pull(ctx, st.CompactedThrough, 0); err != nil {
		t.Fatalf("pull from the compaction mark: %v", err)
	}
	// The ledger is compacted too: the op id of the delete is forgotten.
	op := servertest.Delete(note)
	op.OpID = res.OpID
	if got := alice.PushOne(t, op); got.Code != protocol.CodeNotFound {
		t.Fatalf("replay after the ledger was compacted = %+v, want not_found", got)
	}
}
