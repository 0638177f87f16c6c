package server_test

import (
	"context"
	"testing"

	"casefile/server"
	"casefile/server/servertest"
	"casefile/server/storetest"
)

// TestTwoReplicas runs two servers on one PostgreSQL database, each with
// its own pool and listener: a client streaming from replica A is poked for
// a push through replica B, and pulls it from A.
func TestTwoReplicas(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	pg := func(o *server.Options) { o.DatabaseURL = url }
	a := servertest.Start(t, pg)
	b := servertest.Start(t, pg)
	aliceOnB := b.NewUser(t, "alice", server.RoleMember)
	b.NewUser(t, "bob", server.RoleMember)
	m := aliceOnB.CreateMatter(t, "Replicated")
	if err := a.Grant(ctx, "bob", m.ID); err != nil {
		t.Fatal(err)
	}
	bobOnA, err := servertest.Login(ctx, a.URL, "bob", servertest.Password, "phone")
	if err != nil {
		t.Fatal(err)
	}
	cursor, err := a.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	events := stream(t, a.URL, bobOnA.Token, "")
	greeting(t, events)
	note := aliceOnB.CreateNote(t, m.ID, "Pushed through B")
	if seq := nextPoke(t, events); seq != note.Seq {
		t.Fatalf("poke on A = %d, want %d", seq, note.Seq)
	}
	page, err := bobOnA.Pull(ctx, cursor, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 1 || page.Records[0].ID != note.ID || page.Records[0].Fields["title"] != "Pushed through B" {
		t.Fatalf("pull on A = %+v", page)
	}
}
