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
// (members and an admin, three clients each, a stream on each) create
// matters, grant, revoke and write notes from any client in random order;
// after every change each stream of a user who may see it is poked with
// the new head, except the stream of the client whose push made a record
// change (its push's answer told it), and no stream is ever poked with the
// seq of a change its user may not see or its client pushed. Two of a
// user's clients share a token and name themselves differently
// (protocol.HeaderClient); the third, on a token of its own, does not
// name itself and hears of everything. (A poke may come late: a hint checked after a grant is news by
// then.) Heartbeats are an hour apart, so the hub's per-user filter must
// learn every access change from the change itself. The users and their
// streams live across the property's cases, as a server's do.
func TestStreamsPokeWhoMaySee(t *testing.T) {
	srv := servertest.Start(t, func(o *server.Options) { o.Heartbeat = time.Hour })
	ctx := context.Background()
	type held struct {
		ch     <-chan sseEvent
		by     *servertest.Client // the client holding it
		silent map[int64]bool     // seqs of the changes its client pushed
	}
	type user struct {
		name    string
		admin   bool
		clients []*servertest.Client
		streams []*held
	}
	var users []*user
	for i, role := range []protocol.Role{server.RoleMember, server.RoleMember, server.RoleMember, server.RoleAdmin} {
		u := &user{name: fmt.Sprintf("u%d", i), admin: role == server.RoleAdmin}
		a := srv.NewUser(t, u.name, role)
		a.ID = "client-a"
		b := *a
		b.ID = "client-b"
		c, err := servertest.Login(ctx, srv.URL, u.name, servertest.Password, "other")
		if err != nil {
			t.Fatal(err)
		}
		u.clients = []*servertest.Client{a, &b, c}
		for _, cl := range u.clients {
			ch := streamOf(t, srv.URL, cl.Token, cl.ID, "")
			greeting(t, ch)
			u.streams = append(u.streams, &held{ch: ch, by: cl, silent: map[int64]bool{}})
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
		// every stream of the users it is news for is poked with that head,
		// but that of the client that pushed it (by, for a record change),
		// when that client names itself.
		changed := func(c change, by *servertest.Client, what string) {
			head, err := srv.Head(ctx)
			if err != nil {
				rt.Fatal(err)
			}
			changes[head] = c
			for _, u := range users {
				if !mayHear(u, head) {
					continue
				}
				for i, st := range u.streams {
					if by != nil && st.by == by && by.ID != "" {
						st.silent[head] = true
						continue
					}
					for {
						seq, ok := pokeWithin(st.ch, 10*time.Second)
						if !ok {
							rt.Fatalf("%s: %s's stream %d was not poked (head %d)", what, u.name, i, head)
						}
						if !mayHear(u, seq) {
							rt.Fatalf("%s: %s's stream %d poked with %d, a change %s may not see", what, u.name, i, seq, u.name)
						}
						if st.silent[seq] {
							rt.Fatalf("%s: %s's stream %d poked with %d, a change its own client pushed", what, u.name, i, seq)
						}
						if seq == head {
							break
						}
					}
				}
			}
		}
		createMatter := func(u *user) {
			m := u.clients[0].CreateMatter(t, "matter")
			matters = append(matters, m.ID)
			members[m.ID] = map[string]bool{u.name: true}
			// The creator's access changed too: all their streams hear of it.
			changed(change{m.ID, u.name}, nil, u.name+" creates "+m.ID)
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
				changed(change{m, u.name}, nil, "grant "+u.name+" "+m)
			case action == "revoke" && members[m][u.name]:
				if err := srv.Revoke(ctx, u.name, m); err != nil {
					rt.Fatal(err)
				}
				delete(members[m], u.name)
				changed(change{user: u.name}, nil, "revoke "+u.name+" "+m)
			case action == "note" && sees(u, m):
				cl := u.clients[rapid.IntRange(0, len(u.clients)-1).Draw(rt, "client")]
				cl.CreateNote(t, m, "note")
				changed(change{matter: m}, cl, u.name+" writes in "+m)
			}
		}
	})
	// Nothing left waiting may be a change its stream may not see.
	for _, u := range users {
		for i, st := range u.streams {
			if seq, ok := pokeWithin(st.ch, 100*time.Millisecond); ok && (!mayHear(u, seq) || st.silent[seq]) {
				t.Fatalf("%s's stream %d poked late with %d, a change %s may not see or its client pushed", u.name, i, seq, u.name)
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
