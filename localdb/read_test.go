package localdb

import (
	"testing"

	"casefile/model"
)

func TestSearchPrefixAndHostileText(t *testing.T) {
	db := openTest(t)
	m := mustMatter(t, db, "Smith v Jones")
	clerk := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "Call the clerk", "body": "About the café hearing", "tags": []any{"urgent"}})
	other := mustCreate(t, db, "task", model.Fields{"matter_id": m, "title": "File \"motion\" (draft) NEAR court: OR AND *"})

	cases := map[string]string{
		"cle":                   clerk.ID, // filter as you type
		"CLERK":                 clerk.ID,
		"cafe":                  clerk.ID, // diacritics folded
		"urg":                   clerk.ID, // tags indexed
		"call clerk":            clerk.ID, // every word must match
		"smith":                 m,
		"\"motion\"":            other.ID,
		"(draft":                other.ID,
		"court:":                other.ID,
		"NEAR(file motion)":     other.ID,
		"file:motion":           other.ID,
		"file AND":              other.ID,
		"*draft":                other.ID,
		"'; DROP TABLE records": "",
		"\"":                    "",
		"-":                     "",
		"^":                     "",
		"OR":                    other.ID, // a word like any other
		"nothing matches this":  "",
	}
	if db.Encrypted() {
		// The blind index matches whole words only: a prefix finds nothing.
		for _, q := range []string{"cle", "urg"} {
			cases[q] = ""
		}
	}
	for q, want := range cases {
		got, err := db.Search(bg, q, 10)
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		if want == "" {
			if len(got) != 0 {
				t.Errorf("search %q found %d records, want none", q, len(got))
			}
			continue
		}
		if len(got) != 1 || got[0].ID != want {
			t.Errorf("search %q = %v, want %s", q, ids(got), want)
		}
		if _, err := db.List(bg, ListQuery{Text: q}); err != nil {
			t.Errorf("list with text %q: %v", q, err)
		}
	}
	// The index follows updates and deletes.
	mustUpdate(t, db, clerk.ID, model.Fields{"title": "Email the registrar"})
	if got, _ := db.Search(bg, "clerk", 10); len(got) != 0 {
		t.Fatalf("old text still found: %v", ids(got))
	}
	if got, _ := db.Search(bg, "registrar", 10); len(got) != 1 {
		t.Fatalf("new text not found: %v", ids(got))
	}
	if err := db.Delete(bg, other.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Search(bg, "motion", 10); len(got) != 0 {
		t.Fatalf("deleted record found: %v", ids(got))
	}
}

// ids lists the records' ids in order.
func ids(rs []model.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func TestListFiltersAndWindows(t *testing.T) {
	db := openTest(t)
	m1 := syncedMatter(t, db)
	m2 := syncedMatter(t, db)
	var notes []string
	for i := 0; i < 5; i++ {
		notes = append(notes, syncedNote(t, db, m1, int64(10+i), model.Fields{"title": "n"}))
	}
	mustCreate(t, db, "note", model.Fields{"matter_id": m2, "title": "other"})
	mustUpdate(t, db, notes[0], model.Fields{"title": "edited"})

	all, err := db.List(bg, ListQuery{Collection: "note"})
	if err != nil || len(all) != 6 {
		t.Fatalf("list %d %v", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].UpdatedAt.After(all[i-1].UpdatedAt) {
			t.Fatal("list not ordered newest first")
		}
	}
	page, _ := db.List(bg, ListQuery{Collection: "note", Offset: 2, Limit: 2})
	if len(page) != 2 || page[0].ID != all[2].ID || page[1].ID != all[3].ID {
		t.Fatalf("window %v, want %v", ids(page), ids(all[2:4]))
	}
	if n, _ := db.Count(bg, ListQuery{Collection: "note", MatterID: m1}); n != 5 {
		t.Fatalf("by matter %d", n)
	}
	pending, _ := db.List(bg, ListQuery{State: model.StatePending})
	if len(pending) != 2 {
		t.Fatalf("pending %v", ids(pending))
	}
	if _, err := db.List(bg, ListQuery{Collection: "nope"}); err == nil {
		t.Fatal("unknown collection listed")
	}
	if _, err := db.List(bg, ListQuery{State: "sideways"}); err == nil {
		t.Fatal("unknown state listed")
	}
	counts, err := db.CollectionCounts(bg)
	if err != nil || counts["note"] != 6 || counts["matter"] != 2 || counts["task"] != 0 {
		t.Fatalf("counts %v %v", counts, err)
	}
	st, err := db.Status(bg)
	if err != nil || st.Counts[model.StatePending] != 2 || st.Counts[model.StateSynced] != 6 || st.OutboxOps != 2 || st.OldestPending.IsZero() {
		t.Fatalf("status %+v %v", st, err)
	}
	if err := db.SetMeta(bg, "server", "http://127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	if v, _ := db.Meta(bg, "server"); v != "http://127.0.0.1:1" {
		t.Fatalf("meta %q", v)
	}
	if v, _ := db.Meta(bg, "unset"); v != "" {
		t.Fatalf("unset meta %q", v)
	}
}
