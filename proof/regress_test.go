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
