package server

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"casefile/protocol"
	"casefile/server/store"
)

// TestHubHandsHintsToWhoMayHear is the hub's routing property: streams
// open and close, users' sets of matters are read (as a member's list or
// an admin's "all") and hints of matters, of a user's access and for
// everyone are published in random order; each hint reaches exactly the
// streams of users who may hear it — the user it names, everyone for a
// hint naming no one and no matter, and for a matter each user whose set
// is unread, an admin's or holding the matter — but the stream of the
// client that pushed it. A hint naming a user, or everyone, makes the
// hub forget their set until it is read again.
func TestHubHandsHintsToWhoMayHear(t *testing.T) {
	users := []string{"ann", "bob", "cy"}
	matters := []string{"m1", "m2", "m3"}
	origins := []string{"", "o1", "o2"}
	rapid.Check(t, func(t *rapid.T) {
		h := newHub()
		type stream struct {
			sub  *subscriber
			user string
		}
		var open []stream
		// The model: what the hub was told each user sees; absent when
		// unread (or forgotten), nil for an admin's every matter.
		known := map[string]map[string]bool{}
		t.Repeat(map[string]func(*rapid.T){
			"open": func(t *rapid.T) {
				user := rapid.SampledFrom(users).Draw(t, "user")
				origin := rapid.SampledFrom(origins).Draw(t, "origin")
				sub, ok := h.subscribe(user, "tok-"+user+origin, origin, 100, 100)
				if !ok {
					t.Fatal("subscribe refused")
				}
				if !slices.ContainsFunc(open, func(s stream) bool { return s.user == user }) {
					delete(known, user) // a user's first stream: nothing read yet
				}
				open = append(open, stream{sub, user})
			},
			"close": func(t *rapid.T) {
				if len(open) == 0 {
					t.Skip("no stream")
				}
				i := rapid.IntRange(0, len(open)-1).Draw(t, "stream")
				h.unsubscribe(open[i].sub)
				open = slices.Delete(open, i, i+1)
			},
			"read": func(t *rapid.T) {
				user := rapid.SampledFrom(users).Draw(t, "user")
				admin := rapid.Bool().Draw(t, "admin")
				sees := rapid.SliceOfDistinct(rapid.SampledFrom(matters), rapid.ID[string]).Draw(t, "sees")
				gen, _ := h.accessDue(user, time.Now(), time.Hour)
				role := protocol.RoleMember
				if admin {
					role = protocol.RoleAdmin
				}
				h.setAccess(user, gen, role, sees, time.Now())
				if !slices.ContainsFunc(open, func(s stream) bool { return s.user == user }) {
					return // no stream of theirs: the hub keeps nothing
				}
				set := map[string]bool{}
				for _, m := range sees {
					set[m] = true
				}
				if admin {
					set = nil
				}
				known[user] = set
			},
			"publish": func(t *rapid.T) {
				hint := store.Hint{Seq: 1, Origin: rapid.SampledFrom(origins).Draw(t, "hint origin")}
				if rapid.Bool().Draw(t, "names a matter") {
					hint.MatterID = rapid.SampledFrom(matters).Draw(t, "matter")
				}
				if rapid.Bool().Draw(t, "names a user") {
					hint.User = rapid.SampledFrom(users).Draw(t, "hint user")
				}
				want := map[*subscriber]bool{}
				for _, s := range open {
					set, read := known[s.user]
					hears := s.user == hint.User || hint.User == "" && hint.MatterID == "" ||
						hint.MatterID != "" && (!read || set == nil || set[hint.MatterID])
					if hears && (hint.Origin == "" || s.sub.origin != hint.Origin) {
						want[s.sub] = true
					}
				}
				for _, s := range open {
					if s.user == hint.User || hint.User == "" && hint.MatterID == "" {
						delete(known, s.user)
					}
				}
				h.publish(hint)
				for _, s := range open {
					hints, _ := s.sub.take()
					if got := len(hints) > 0; got != want[s.sub] {
						t.Fatalf("hint %+v: a stream of %s (origin %q) heard it: %v, want %v (its user's set: %v)",
							hint, s.user, s.sub.origin, got, want[s.sub], fmt.Sprint(known[s.user]))
					}
				}
				h.dmu.Lock()
				h.due = h.due[:0]
				h.dmu.Unlock()
			},
		})
	})
}

// TestPokeAsFmtAndJSONWriteIt: a poke event is byte for byte what fmt and
// encoding/json wrote before it was appended by hand.
func TestPokeAsFmtAndJSONWriteIt(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		seq := rapid.Int64Min(0).Draw(t, "seq")
		resync := rapid.Bool().Draw(t, "resync")
		data, err := json.Marshal(protocol.Poke{Seq: seq, Resync: resync})
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("id: %d\nevent: %s\ndata: %s\n\n", seq, protocol.EventPoke, data)
		if got := string(appendPoke(nil, seq, resync)); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}
