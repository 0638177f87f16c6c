package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/server/store/sqlitestore"
)

// noHeartbeat keeps heartbeats out of a test that counts events.
func noHeartbeat(o *server.Options) { o.Heartbeat = time.Hour }

// nextEvent returns the next named event (not a comment).
func nextEvent(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("the stream ended without an event")
			}
			if ev.event != "" {
				return ev
			}
		case <-timeout:
			t.Fatal("no event arrived")
		}
	}
}

// closedWith reads the next event, which must close the stream with code,
// and then the stream's end.
func closedWith(t *testing.T, ch <-chan sseEvent, code protocol.Code) protocol.Error {
	t.Helper()
	ev := nextEvent(t, ch)
	var e protocol.Error
	if ev.event != protocol.EventClosed || json.Unmarshal([]byte(ev.data), &e) != nil || e.Code != code || e.Message == "" {
		t.Fatalf("event %+v, want %q closing the stream with code %s", ev, protocol.EventClosed, code)
	}
	for ev := range ch {
		if ev.event != "" {
			t.Fatalf("event %+v after the stream was closed", ev)
		}
	}
	return e
}

// TestEventsCapPerToken: a token's third stream over a cap of two closes
// the oldest with a reason; the others still get pokes.
func TestEventsCapPerToken(t *testing.T) {
	w := newWorld(t, startSQLite, noHeartbeat, func(o *server.Options) { o.StreamsPerToken = 2 })
	first := stream(t, w.srv.URL, w.alice.Token, "")
	greeting(t, first)
	second := stream(t, w.srv.URL, w.alice.Token, "")
	greeting(t, second)
	third := stream(t, w.srv.URL, w.alice.Token, "")
	greeting(t, third)
	closedWith(t, first, protocol.CodeTooManyStreams)
	note := w.bob.CreateNote(t, w.m.ID, "News")
	for _, ch := range []<-chan sseEvent{second, third} {
		if seq := nextPoke(t, ch); seq != note.Seq {
			t.Fatalf("poke = %d, want %d", seq, note.Seq)
		}
	}
}

// TestEventsNoPokeForChangesBeforeTheStream: a hint handed out after a
// stream opened, for a change committed before it (the hub's dispatcher
// runs behind the commits), is no news to that stream, whose client pulls
// when it opens: the stream's first poke is for the next change.
func TestEventsNoPokeForChangesBeforeTheStream(t *testing.T) {
	w := newWorld(t, startSQLite, noHeartbeat)
	old := w.bob.CreateNote(t, w.m.ID, "Before the stream")
	events := stream(t, w.srv.URL, w.alice.Token, "")
	greeting(t, events)
	w.srv.HandLateHint(old.Seq, w.m.ID)
	note := w.bob.CreateNote(t, w.m.ID, "News")
	if seq := nextPoke(t, events); seq != note.Seq {
		t.Fatalf("first poke = %d, want %d (the change after the stream opened)", seq, note.Seq)
	}
}

// TestEventsCapPerUser: streams of several tokens of one user count
// together.
func TestEventsCapPerUser(t *testing.T) {
	w := newWorld(t, startSQLite, noHeartbeat, func(o *server.Options) { o.StreamsPerUser = 2 })
	ctx := context.Background()
	var chans []<-chan sseEvent
	for _, device := range []string{"laptop", "phone", "tablet"} {
		c, err := servertest.Login(ctx, w.srv.URL, "alice", servertest.Password, device)
		if err != nil {
			t.Fatal(err)
		}
		ch := stream(t, w.srv.URL, c.Token, "")
		greeting(t, ch)
		chans = append(chans, ch)
	}
	closedWith(t, chans[0], protocol.CodeTooManyStreams)
	// Bob's streams are not alice's.
	bob := stream(t, w.srv.URL, w.bob.Token, "")
	greeting(t, bob)
	note := w.alice.CreateNote(t, w.m.ID, "News")
	for _, ch := range []<-chan sseEvent{chans[1], chans[2], bob} {
		if seq := nextPoke(t, ch); seq != note.Seq {
			t.Fatalf("poke = %d, want %d", seq, note.Seq)
		}
	}
}

// TestEventsEndWhenTokenRevoked: a revoked token's open stream gets no
// more pokes; the next change closes it with "unauthorized" (issue 10
// item 4: it kept delivering pokes indefinitely).
func TestEventsEndWhenTokenRevoked(t *testing.T) {
	w := newWorld(t, startSQLite, noHeartbeat)
	events := stream(t, w.srv.URL, w.bob.Token, "")
	greeting(t, events)
	if _, err := w.srv.RevokeTokens(context.Background(), "bob", ""); err != nil {
		t.Fatal(err)
	}
	w.alice.CreateNote(t, w.m.ID, "Not for a revoked token")
	closedWith(t, events, protocol.CodeUnauthorized)
}

// TestEventsEndWhenDeviceRevoked: a revoked device's open stream is
// closed at the next change with "device_revoked", so the device learns
// to wipe while it is open (it stayed open, a warning logged per check).
func TestEventsEndWhenDeviceRevoked(t *testing.T) {
	w := newWorld(t, startSQLite, noHeartbeat)
	events := stream(t, w.srv.URL, w.bob.Token, "")
	greeting(t, events)
	if err := w.srv.RevokeDevice(context.Background(), "bob", "test"); err != nil {
		t.Fatal(err)
	}
	w.alice.CreateNote(t, w.m.ID, "Not for a revoked device")
	closedWith(t, events, protocol.CodeDeviceRevoked)
}

// TestEventsEndWhenTokenExpires: with nothing changing, the heartbeat
// finds the token expired and closes the stream.
func TestEventsEndWhenTokenExpires(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	srv := servertest.Start(t, withClock(clk), func(o *server.Options) {
		o.TokenTTL, o.Heartbeat = time.Hour, 10*time.Millisecond
	})
	alice := srv.NewUser(t, "alice", server.RoleMember)
	events := stream(t, srv.URL, alice.Token, "")
	greeting(t, events)
	if ev := <-events; ev.comment != "heartbeat" {
		t.Fatalf("event %+v, want a heartbeat while the token is good", ev)
	}
	clk.Add(time.Hour)
	closedWith(t, events, protocol.CodeUnauthorized)
}

// TestEventsRoleCheckedOnEachPoke: an admin demoted while streaming stops
// being poked for matters a member does not see (the role was cached at
// connect time).
func TestEventsRoleCheckedOnEachPoke(t *testing.T) {
	srv := servertest.Start(t, noHeartbeat)
	alice := srv.NewUser(t, "alice", server.RoleAdmin)
	bob := srv.NewUser(t, "bob", server.RoleMember)
	own := alice.CreateMatter(t, "Alice's own")
	bobs := bob.CreateMatter(t, "Bob's")
	events := stream(t, srv.URL, alice.Token, "")
	greeting(t, events)
	setRoleInDatabase(t, srv, "alice", server.RoleMember)
	bob.CreateNote(t, bobs.ID, "Not alice's business any more")
	mine := alice.CreateNote(t, own.ID, "Alice's")
	if seq := nextPoke(t, events); seq != mine.Seq {
		t.Fatalf("first poke after the demotion = %d, want %d (alice's own note, not bob's)", seq, mine.Seq)
	}
}

// TestEventsLastEventIDBeyondHead: an id beyond the head (a server
// restored from a backup) is answered with a poke at the head marked
// resync, and the stream pokes again from there (it stayed silent).
func TestEventsLastEventIDBeyondHead(t *testing.T) {
	w := newWorld(t, startSQLite, noHeartbeat)
	head := w.head(t)
	events := stream(t, w.srv.URL, w.alice.Token, strconv.FormatInt(head+100, 10))
	greeting(t, events)
	ev := nextEvent(t, events)
	var p protocol.Poke
	if ev.event != protocol.EventPoke || json.Unmarshal([]byte(ev.data), &p) != nil || p.Seq != head || !p.Resync || ev.id != strconv.FormatInt(head, 10) {
		t.Fatalf("first event = %+v, want a resync poke at the head %d", ev, head)
	}
	if _, err := w.alice.Pull(context.Background(), head+100, 0); status(err) != 410 {
		t.Fatalf("pull from the same cursor: %v, want 410 (the client then starts over)", err)
	}
	note := w.bob.CreateNote(t, w.m.ID, "News after the restore")
	if seq := nextPoke(t, events); seq != note.Seq {
		t.Fatalf("poke = %d, want %d", seq, note.Seq)
	}
}

// TestEventsPromotionHeardWithinAHeartbeat: a member made an admin by
// other means than a grant (no change tells the streams) hears about every
// matter from the first heartbeat after the hub's view of them is a
// heartbeat old: the hub reads what a user sees again at that age.
func TestEventsPromotionHeardWithinAHeartbeat(t *testing.T) {
	srv := servertest.Start(t, func(o *server.Options) { o.Heartbeat = 50 * time.Millisecond })
	alice := srv.NewUser(t, "alice", server.RoleMember)
	bob := srv.NewUser(t, "bob", server.RoleMember)
	own := alice.CreateMatter(t, "Alice's own")
	bobs := bob.CreateMatter(t, "Bob's")
	events := stream(t, srv.URL, alice.Token, "")
	greeting(t, events)
	mine := alice.CreateNote(t, own.ID, "Alice's") // the hub learns what alice sees
	if seq := nextPoke(t, events); seq != mine.Seq {
		t.Fatalf("first poke = %d, want %d", seq, mine.Seq)
	}
	setRoleInDatabase(t, srv, "alice", server.RoleAdmin)
	for beats := 0; beats < 3; {
		if ev := <-events; ev.comment == "heartbeat" {
			beats++
		}
	}
	theirs := bob.CreateNote(t, bobs.ID, "Now alice's business too")
	if seq := nextPoke(t, events); seq != theirs.Seq {
		t.Fatalf("poke after the promotion = %d, want %d (bob's note)", seq, theirs.Seq)
	}
}

// setRoleInDatabase changes a user's role behind the server's back, as an
// operator editing the database would: no change tells the streams.
func setRoleInDatabase(t *testing.T, srv *servertest.Server, user string, role protocol.Role) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(srv.Dir, sqlitestore.FileName)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE users SET role = ? WHERE name = ?`, role, user); err != nil {
		t.Fatal(err)
	}
}

// TestEventsKnowTheirMattersWhenOpen: the hub knows which matters a
// stream's user sees once the stream is greeted, before any hint. A user
// it does not know is handed every hint, so 10,000 streams opened before
// a burst of pushes were each handed all of them, each user's matters
// read one by one at the first pokes.
func TestEventsKnowTheirMattersWhenOpen(t *testing.T) {
	w := newWorld(t, startSQLite, noHeartbeat)
	greeting(t, stream(t, w.srv.URL, w.bob.Token, ""))
	matters, known := w.srv.HubSees("bob")
	if !known {
		t.Fatal("the hub does not know which matters bob sees after his stream opened")
	}
	if want := []string{w.m.ID}; !slices.Equal(matters, want) {
		t.Errorf("the hub holds bob to see %v, want %v", matters, want)
	}
	// A hint for a matter bob does not see reaches none of his streams:
	// a note in alice's private matter pokes only her.
	events := stream(t, w.srv.URL, w.bob.Token, "")
	greeting(t, events)
	w.alice.CreateNote(t, w.p.ID, "Private")
	shared := w.alice.CreateNote(t, w.m.ID, "Shared")
	if seq := nextPoke(t, events); seq != shared.Seq {
		t.Fatalf("bob's first poke = %d, want %d (the shared note's)", seq, shared.Seq)
	}
}
