package proof

import (
	"testing"

	"casefile/model"
	"casefile/server"
	"casefile/server/servertest"
)

// TestAccessProperty found a pull naming, among the records to drop, one
// the user never could see: it had left a matter before the user joined it.
func TestRegressRemovalOfARecordNeverSeen(t *testing.T) {
	srv := servertest.Start(t, noRateLimit)
	x := srv.NewUser(t, "xena", server.RoleMember)
	u := srv.NewUser(t, "ulla", server.RoleMember)
	a, b := x.CreateMatter(t, "A"), x.CreateMatter(t, "B")
	n := x.CreateNote(t, a.ID, "before ulla came")
	if res := x.PushOne(t, servertest.Update(n, model.Fields{model.MatterField: b.ID})); res.Result != model.ResultApplied {
		t.Fatalf("move: %+v", res)
	}
	if err := srv.Grant(bg, "ulla", a.ID); err != nil {
		t.Fatal(err)
	}
	pages, err := u.PullAll(bg, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		for _, rm := range p.Removed {
			if rm.ID == n.ID {
				t.Fatalf("ulla's pull names record %s, which left matter A before she could see it", n.ID)
			}
		}
		for _, r := range p.Records {
			if r.ID == n.ID {
				t.Fatalf("ulla's pull shows record %s of a matter she cannot see", n.ID)
			}
		}
	}
}

// TestAccessProperty found a device keeping a record it made after its
// last pull once the record moved to a matter the user cannot see: its
// user had lost the record's matter before the move and regained it after,
// so neither removed[] nor dropped_matters told the device.
func TestRegressOwnRecordMovedAwayWhileRevoked(t *testing.T) {
	srv := servertest.Start(t, noRateLimit)
	root := srv.NewUser(t, "root", server.RoleAdmin)
	u := srv.NewUser(t, "ulla", server.RoleMember)
	v := srv.NewUser(t, "vic", server.RoleMember)
	m, x := v.CreateMatter(t, "M"), v.CreateMatter(t, "X")
	if err := srv.Grant(bg, "ulla", m.ID); err != nil {
		t.Fatal(err)
	}
	p, err := u.Pull(bg, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := u.CreateNote(t, m.ID, "ulla's own note") // her device holds it from the push answer
	if err := srv.Revoke(bg, "ulla", m.ID); err != nil {
		t.Fatal(err)
	}
	if res := root.PushOne(t, servertest.Update(n, model.Fields{model.MatterField: x.ID})); res.Result != model.ResultApplied {
		t.Fatalf("move: %+v", res)
	}
	if err := srv.Grant(bg, "ulla", m.ID); err != nil {
		t.Fatal(err)
	}
	pages, err := u.PullAll(bg, p.Cursor)
	if err != nil {
		t.Fatal(err)
	}
	for _, pg := range pages {
		for _, rm := range pg.Removed {
			if rm.ID == n.ID {
				return
			}
		}
		for _, d := range pg.DroppedMatters {
			if d == m.ID {
				return
			}
		}
	}
	t.Fatalf("ulla's device holds note %s, now in matter X she cannot see, and her pull did not say to drop it", n.ID)
}
