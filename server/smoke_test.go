package server_test

import (
	"context"
	"testing"

	"casefile/model"
	"casefile/server"
	"casefile/server/servertest"
)

func TestLoginPushPull(t *testing.T) {
	ctx := context.Background()
	srv := servertest.Start(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	bob := srv.NewUser(t, "bob", server.RoleMember)
	matter := alice.CreateMatter(t, "Smith v Jones")
	note := alice.CreateNote(t, matter.ID, "First interview")
	if note.Version != 1 || note.Seq != 2 || note.MatterID != matter.ID {
		t.Fatalf("note = %+v", note)
	}
	page, err := alice.Pull(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 2 || page.Records[0].ID != matter.ID || page.Records[1].ID != note.ID || page.Cursor != 2 || page.More || page.Total != 2 {
		t.Fatalf("alice pull = %+v", page)
	}
	page, err = bob.Pull(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 0 || page.Cursor != 2 {
		t.Fatalf("bob pull = %+v", page)
	}
	if err := srv.Grant(ctx, "bob", matter.ID); err != nil {
		t.Fatal(err)
	}
	page, err = bob.Pull(ctx, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 2 {
		t.Fatalf("bob pull after grant = %+v", page)
	}
	res := bob.PushOne(t, servertest.Update(note, model.Fields{"body": "notes"}))
	if res.Result != model.ResultApplied || res.Record.Version != 2 {
		t.Fatalf("update = %+v", res)
	}
}
