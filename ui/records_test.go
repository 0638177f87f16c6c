package ui

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/model"
)

// seedMatter creates a matter and n notes in it.
func seedMatter(t testing.TB, db *localdb.DB, title string, notes int) model.Record {
	t.Helper()
	m := mustCreate(t, db, "matter", model.Fields{"title": title, "client": "Ada Lovelace", "status": "open"})
	items := make([]localdb.ImportItem, notes)
	for i := range items {
		items[i].Fields = model.Fields{"matter_id": m.ID, "title": fmt.Sprintf("Note %03d", i), "status": "open"}
	}
	if notes > 0 {
		if err := db.Import(context.Background(), "note", items); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func TestListShowsCollectionsAndRecords(t *testing.T) {
	db := localdbtest.Open(t)
	seedMatter(t, db, "Smith v. Jones", 3)
	m := newTestModel(t, Options{DB: db})
	press(t, m, "right", "right") // matter → contact → note
	s := screenText(m)
	mustContain(t, s, "Notes · all matters", "Note 000", "Note 002", "↑ saved offline", "1 of 3", "local only")
	if got := m.records.list.Len(); got != 3 {
		t.Fatalf("total = %d, want 3", got)
	}
}

func TestListScrollsByWindow(t *testing.T) {
	db := localdbtest.Open(t)
	seedMatter(t, db, "Big matter", 300)
	m := newTestModel(t, Options{DB: db})
	press(t, m, "right", "right")
	if m.records.list.Len() != 300 {
		t.Fatalf("total = %d", m.records.list.Len())
	}
	if n := len(m.records.win); n >= 300 || n == 0 {
		t.Fatalf("window holds %d records; want a window, not the whole list", n)
	}
	press(t, m, "G") // to the last row
	if m.records.list.cursor != 299 {
		t.Fatalf("cursor = %d, want 299", m.records.list.cursor)
	}
	rec, ok := m.records.selected()
	if !ok {
		t.Fatal("the last row is not loaded after jumping to it")
	}
	if rec.Fields["title"] != "Note 000" { // newest first: the first note is last
		t.Fatalf("last row = %v", rec.Fields["title"])
	}
	mustContain(t, screenText(m), "300 of 300", "Note 000")
	press(t, m, "g")
	mustContain(t, screenText(m), "1 of 300", "Note 299")
}

func TestSearchDebounceDropsStaleResults(t *testing.T) {
	db := localdbtest.Open(t)
	mt := mustCreate(t, db, "matter", model.Fields{"title": "Harbour lease"})
	mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": "Caretaker statement"})
	mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": "Lease renewal"})
	m := newTestModel(t, Options{DB: db})
	press(t, m, "right", "right", "/")
	if !m.records.searching {
		t.Fatal("/ did not open the search")
	}
	// Typing schedules a debounce tick per keystroke; only the last counts.
	typeText(t, m, "care")
	seq := m.records.searchSeq
	drain(t, m, m.step(searchTickMsg{seq: seq - 1}))
	if m.records.text != "" {
		t.Fatalf("a stale tick applied the search %q", m.records.text)
	}
	// A window answer from before the search is dropped.
	staleID := m.records.reqID
	drain(t, m, m.step(searchTickMsg{seq: seq}))
	if m.records.text != "care" {
		t.Fatalf("search text = %q", m.records.text)
	}
	if m.records.list.Len() != 1 {
		t.Fatalf("total after search = %d, want 1", m.records.list.Len())
	}
	m.step(windowMsg{id: staleID, recs: []model.Record{{ID: "x"}}, total: 99, hasTotal: true})
	if m.records.list.Len() != 1 {
		t.Fatal("a stale window answer replaced the search results")
	}
	s := screenText(m)
	mustContain(t, s, "Caretaker statement")
	mustNotContain(t, s, "Lease renewal")
	// Typing q in the search types it instead of quitting.
	press(t, m, "q")
	if m.records.search.Value() != "careq" {
		t.Fatalf("search value = %q", m.records.search.Value())
	}
	press(t, m, "esc")
	if m.records.searching || m.records.text != "" || m.records.list.Len() != 2 {
		t.Fatalf("esc did not clear the search: searching=%v text=%q total=%d", m.records.searching, m.records.text, m.records.list.Len())
	}
}

func TestMatterFilter(t *testing.T) {
	db := localdbtest.Open(t)
	seedMatter(t, db, "Alpha matter", 2)
	seedMatter(t, db, "Beta matter", 3)
	m := newTestModel(t, Options{DB: db})
	press(t, m, "right", "right", "m")
	if m.records.picker == nil {
		t.Fatal("m did not open the matter picker")
	}
	typeText(t, m, "beta")
	press(t, m, "enter")
	if m.records.matterTitle != "Beta matter" || m.records.list.Len() != 3 {
		t.Fatalf("filter = %q, total %d", m.records.matterTitle, m.records.list.Len())
	}
	mustContain(t, screenText(m), "matter: Beta matter")
	press(t, m, "backspace")
	if m.records.matterID != "" || m.records.list.Len() != 5 {
		t.Fatalf("backspace did not clear the filter: total %d", m.records.list.Len())
	}
}

func TestOtherProcessWritesAppear(t *testing.T) {
	db := localdbtest.Open(t)
	mt := seedMatter(t, db, "Shared", 1)
	m := newTestModel(t, Options{DB: db})
	press(t, m, "right", "right")
	drain(t, m, m.step(pollMsg{})) // learns the current version
	// A second connection to the same file, like the CLI in another process.
	other, err := localdb.Open(context.Background(), db.Path(), db.Schema())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	mustCreate(t, other, "note", model.Fields{"matter_id": mt.ID, "title": "Written by the CLI"})
	drain(t, m, m.step(pollMsg{}))
	mustContain(t, screenText(m), "Written by the CLI", "1 of 2")
}

// TestDeleteAsksAboutAttachedFiles: deleting a record deletes its files
// with it, and the question says how many; a record with none is asked
// about as before.
func TestDeleteAsksAboutAttachedFiles(t *testing.T) {
	db := localdbtest.Open(t)
	mt := seedMatter(t, db, "Files", 0)
	with := mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": "With files"})
	without := mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": "Without"})
	for i := range 2 {
		if _, err := db.Attach(context.Background(), with.ID, model.Attachment{Name: fmt.Sprintf("f%d.pdf", i), Size: 3,
			SHA256: strings.Repeat(fmt.Sprint(i+1), 64), MediaType: "application/pdf"}); err != nil {
			t.Fatal(err)
		}
	}
	m := newTestModel(t, Options{DB: db})
	drain(t, m, askDelete(m.sh, with))
	drain(t, m, m.step(nil))
	if m.ask == nil || !strings.Contains(m.ask.question, "“With files” and its 2 attached files?") {
		t.Fatalf("question: %+v", m.ask)
	}
	press(t, m, "y")
	if files, err := db.Files(context.Background(), ""); err != nil || len(files) != 0 {
		t.Fatalf("files after the delete: %+v, %v", files, err)
	}
	drain(t, m, askDelete(m.sh, without))
	drain(t, m, m.step(nil))
	if m.ask == nil || strings.Contains(m.ask.question, "attached") || !strings.Contains(m.ask.question, "“Without”?") {
		t.Fatalf("question: %+v", m.ask)
	}
}
