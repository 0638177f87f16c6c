package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
)

// sseEvent is one event or comment read from a stream.
type sseEvent struct {
	id, event, data string
	comment         string
}

// stream opens /v1/events and returns its events as they arrive; the
// stream closes when the test ends.
func stream(t *testing.T, baseURL, token, lastEventID string) <-chan sseEvent {
	t.Helper()
	return streamOf(t, baseURL, token, "", lastEventID)
}

// streamOf is stream for a client that names itself (client, when not "",
// is its protocol.HeaderClient).
func streamOf(t *testing.T, baseURL, token, client, lastEventID string) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", baseURL+protocol.PathEvents, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	if client != "" {
		req.Header.Set(protocol.HeaderClient, client)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ch := make(chan sseEvent, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev != (sseEvent{}) {
					select {
					case ch <- ev:
					case <-ctx.Done(): // nobody reads any more
						return
					}
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				ev.comment = strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	return ch
}

// next returns the next event that is not a heartbeat or the greeting.
func nextPoke(t *testing.T, ch <-chan sseEvent) int64 {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("the stream ended")
			}
			if ev.event == "" {
				continue
			}
			var p protocol.Poke
			if ev.event != "poke" || json.Unmarshal([]byte(ev.data), &p) != nil || strconv.FormatInt(p.Seq, 10) != ev.id {
				t.Fatalf("event %+v, want a poke whose id is its seq", ev)
			}
			return p.Seq
		case <-timeout:
			t.Fatal("no poke arrived")
		}
	}
}

// greeting reads the stream's first block (retry and a comment).
func greeting(t *testing.T, ch <-chan sseEvent) {
	t.Helper()
	if ev := <-ch; ev.comment != "connected" {
		t.Fatalf("first block = %+v, want the connected comment", ev)
	}
}

func TestEventsPokeOnlyForVisibleChanges(t *testing.T) {
	w := newWorld(t, startSQLite, func(o *server.Options) { o.Heartbeat = time.Hour })
	events := stream(t, w.srv.URL, w.bob.Token, "")
	greeting(t, events)
	// dave's matter is none of bob's business; alice's note in m is.
	w.dave.CreateMatter(t, "Dave's matter")
	w.alice.CreateNote(t, w.p.ID, "Private note")
	note := w.alice.CreateNote(t, w.m.ID, "Shared note")
	if seq := nextPoke(t, events); seq != note.Seq {
		t.Fatalf("bob's first poke is for seq %d, want %d (the shared note)", seq, note.Seq)
	}
	// Losing a matter is news for the user who lost it.
	if err := w.srv.Revoke(context.Background(), "bob", w.m.ID); err != nil {
		t.Fatal(err)
	}
	head := w.head(t)
	if seq := nextPoke(t, events); seq != head {
		t.Fatalf("poke after the revoke = %d, want %d", seq, head)
	}
	// And from now on alice's changes in m are not.
	w.alice.CreateNote(t, w.m.ID, "After the revoke")
	if err := w.srv.Grant(context.Background(), "bob", w.p.ID); err != nil {
		t.Fatal(err)
	}
	if seq, head := nextPoke(t, events), w.head(t); seq != head {
		t.Fatalf("poke after a grant = %d, want %d (the grant), not the note in m", seq, head)
	}
}

func TestEventsLastEventIDAndHeartbeat(t *testing.T) {
	w := newWorld(t, startSQLite, func(o *server.Options) { o.Heartbeat = 20 * time.Millisecond })
	head := w.head(t)
	// Behind the head: a poke at once.
	events := stream(t, w.srv.URL, w.alice.Token, "1")
	greeting(t, events)
	if ev := <-events; ev.event != "poke" || ev.id != strconv.FormatInt(head, 10) {
		t.Fatalf("first event behind the head = %+v, want a poke for %d", ev, head)
	}
	// At the head: nothing until a heartbeat.
	events = stream(t, w.srv.URL, w.alice.Token, strconv.FormatInt(head, 10))
	greeting(t, events)
	if ev := <-events; ev.comment != "heartbeat" || ev.event != "" {
		t.Fatalf("first event at the head = %+v, want a heartbeat", ev)
	}
	note := w.alice.CreateNote(t, w.m.ID, "News")
	if seq := nextPoke(t, events); seq != note.Seq {
		t.Fatalf("poke = %d, want %d", seq, note.Seq)
	}
}

func TestEventsEndOnShutdown(t *testing.T) {
	srv := servertest.Start(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	events := stream(t, srv.URL, alice.Token, "")
	greeting(t, events)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with an open stream: %v", err)
	}
	for range events {
	}
}

// TestEventsUnseenMatterComesBackOnGrant: once a stream has found a
// matter's changes none of its user's business, it stops looking at them;
// a grant of that matter makes them news again at once, and a revoke
// stops them, whatever the stream remembered.
func TestEventsUnseenMatterComesBackOnGrant(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, startSQLite, func(o *server.Options) { o.Heartbeat = time.Hour })
	events := stream(t, w.srv.URL, w.bob.Token, "")
	greeting(t, events)
	for i := range 3 { // p is alice's alone: checked once, then remembered
		w.alice.CreateNote(t, w.p.ID, fmt.Sprintf("private %d", i))
	}
	note := w.alice.CreateNote(t, w.m.ID, "shared")
	if seq := nextPoke(t, events); seq != note.Seq {
		t.Fatalf("first poke = %d, want %d (the shared note, not p's)", seq, note.Seq)
	}
	if err := w.srv.Grant(ctx, "bob", w.p.ID); err != nil {
		t.Fatal(err)
	}
	if seq, head := nextPoke(t, events), w.head(t); seq != head {
		t.Fatalf("poke after the grant = %d, want %d", seq, head)
	}
	inP := w.alice.CreateNote(t, w.p.ID, "now shared")
	if seq := nextPoke(t, events); seq != inP.Seq {
		t.Fatalf("poke for a change in the granted matter = %d, want %d", seq, inP.Seq)
	}
	if err := w.srv.Revoke(ctx, "bob", w.p.ID); err != nil {
		t.Fatal(err)
	}
	if seq, head := nextPoke(t, events), w.head(t); seq != head {
		t.Fatalf("poke after the revoke = %d, want %d", seq, head)
	}
	w.alice.CreateNote(t, w.p.ID, "private again")
	shared := w.alice.CreateNote(t, w.m.ID, "shared again")
	if seq := nextPoke(t, events); seq != shared.Seq {
		t.Fatalf("poke after the revoke and a change in p = %d, want %d (m's note)", seq, shared.Seq)
	}
}
