package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"pgregory.net/rapid"

	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
)

// TestStreamsPokeWhoMaySee is the event streams' access property: users
// (members and an admin, two streams each) create matters, grant, revoke
// and write notes in random order; after every change each stream of a
// user who may see it is poked with the new head, and no stream is ever
// poked with the seq of a change its user may not see. (A poke may come
// late: a hint checked after a grant is news by then.) Heartbeats are an
// hour apart, so the hub's per-user filter must learn every access change
// from the change itself. The users and their streams live across the
// property's cases, as a server's do.
func TestStreamsPokeWhoMaySee(t *testing.T) {
	srv := servertest.Start(t, func(o *server.Options) { o.Heartbeat = time.Hour })
	ctx := context.Background()
	type user struct {
		name    string
		admin   bool
		c       *servertest.Client
		streams []<-chan sseEvent
	}
	var users []*user
	for i, role := range []protocol.Role{server.RoleMember, server.RoleMember, server.RoleMember, server.RoleAdmin} {
		u := &user{name: fmt.Sprintf("u%d", i), admin: role == server.RoleAdmin}
		u.c = srv.NewUser(t, u.name, role)
		for range 2 {
			ch := stream(t, srv.URL, u.c.Token, "")
			greeting(t, ch)
			u.streams = append(u.streams, ch)
		}
		users = append(users, u)
	}
	var matters []string
	members := map[string]map[string]bool{} // matter → user names
	sees := func(u *user, m string) bool { return u.admin || members[m][u.name] }
	// A change concerns a matter (its members and admins may see it), a
	// user (their access changed), or both.
	type change struct{ matter, user string }
	changes := map[int64]change{}
	mayHear := func(u *user, seq int64) bool {
		c, ok := changes[seq]
		return ok && (c.user == u.name || c.matter != "" && sees(u, c.matter))
	}
	rapid.Check(t, func(rt *rapid.T) {
		// changed records a change at the head it left and checks that
		// every stream of the users it is news for is poked with that head.
		changed := func(c change, what string) {
			head, err := srv.Head(ctx)
			if err != nil {
				rt.Fatal(err)
			}
			changes[head] = c
			for _, u := range users {
				if !mayHear(u, head) {
					continue
				}
				for i, ch := range u.streams {
					for {
						seq, ok := pokeWithin(ch, 10*time.Second)
						if !ok {
							rt.Fatalf("%s: %s's stream %d was not poked (head %d)", what, u.name, i, head)
						}
						if !mayHear(u, seq) {
							rt.Fatalf("%s: %s's stream %d poked with %d, a change %s may not see", what, u.name, i, seq, u.name)
						}
						if seq == head {
							break
						}
					}
				}
			}
		}
		createMatter := func(u *user) {
			m := u.c.CreateMatter(t, "matter")
			matters = append(matters, m.ID)
			members[m.ID] = map[string]bool{u.name: true}
			changed(change{m.ID, u.name}, u.name+" creates "+m.ID)
		}
		steps := rapid.IntRange(1, 12).Draw(rt, "steps")
		for range steps {
			u := users[rapid.IntRange(0, len(users)-1).Draw(rt, "user")]
			action := rapid.SampledFrom([]string{"matter", "grant", "revoke", "note", "note"}).Draw(rt, "action")
			if len(matters) == 0 {
				action = "matter"
			}
			var m string
			if action != "matter" {
				m = matters[rapid.IntRange(0, len(matters)-1).Draw(rt, "matter")]
			}
			switch {
			case action == "matter":
				createMatter(u)
			case action == "grant" && !members[m][u.name]:
				if err := srv.Grant(ctx, u.name, m); err != nil {
					rt.Fatal(err)
				}
				members[m][u.name] = true
				changed(change{m, u.name}, "grant "+u.name+" "+m)
			case action == "revoke" && members[m][u.name]:
				if err := srv.Revoke(ctx, u.name, m); err != nil {
					rt.Fatal(err)
				}
				delete(members[m], u.name)
				changed(change{user: u.name}, "revoke "+u.name+" "+m)
			case action == "note" && sees(u, m):
				u.c.CreateNote(t, m, "note")
				changed(change{matter: m}, u.name+" writes in "+m)
			}
		}
	})
	// Nothing left waiting may be a change its stream may not see.
	for _, u := range users {
		for i, ch := range u.streams {
			if seq, ok := pokeWithin(ch, 100*time.Millisecond); ok && !mayHear(u, seq) {
				t.Fatalf("%s's stream %d poked late with %d, a change %s may not see", u.name, i, seq, u.name)
			}
		}
	}
}

// pokeWithin returns the next poke's seq, or false when none came in d
// (heartbeats and comments are passed over).
func pokeWithin(ch <-chan sseEvent, d time.Duration) (int64, bool) {
	timeout := time.After(d)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return 0, false
			}
			if ev.event != protocol.EventPoke {
				continue
			}
			var p protocol.Poke
			if json.Unmarshal([]byte(ev.data), &p) != nil || strconv.FormatInt(p.Seq, 10) != ev.id {
				return -1, true
			}
			return p.Seq, true
		case <-timeout:
			return 0, false
		}
	}
}
