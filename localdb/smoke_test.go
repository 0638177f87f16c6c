package localdb

import (
	"context"
	"testing"

	"casefile/model"
)

func TestCreateGetListSmoke(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	m := mustMatter(t, db, "Smith v Jones")
	n, err := db.Create(ctx, "note", "", model.Fields{"matter_id": m, "title": "Call the clerk", "tags": []any{"court", "urgent"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.Get(ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != model.StatePending || got.Fields["title"] != "Call the clerk" {
		t.Fatalf("got %+v", got)
	}
	u, err := db.Update(ctx, n.ID, model.Fields{"status": "open"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Fields["status"] != "open" || u.Fields["title"] != "Call the clerk" {
		t.Fatalf("updated %+v", u)
	}
	list, err := db.List(ctx, ListQuery{Collection: "note", Text: "cler"})
	if err != nil || len(list) != 1 {
		t.Fatalf("list %v %v", list, err)
	}
	ops, err := db.Outbox(ctx)
	if err != nil || len(ops) != 2 {
		t.Fatalf("outbox %v %v", ops, err)
	}
	if err := db.Delete(ctx, n.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(ctx, n.ID); err == nil {
		t.Fatal("a never-sent record should vanish on delete")
	}
}
