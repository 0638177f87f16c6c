package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"casefile/localdb"
	"casefile/model"
)

func TestAddShowEditRm(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	matter := h.add("matter", "title=Smith v Jones", "status=open")

	// Flags may follow positionals; --json prints the record.
	var rec model.Record
	h.okJSON(&rec, "add", "note", "matter_id="+matter, "title=First meeting", "--json", "body=Line one\nLine two", "tags=intake, urgent")
	if !model.ValidID(rec.ID) || rec.Collection != "note" || rec.Version != 0 || rec.State != model.StatePending {
		t.Fatalf("record = %+v", rec)
	}
	if rec.Fields["title"] != "First meeting" || rec.Fields["matter_id"] != matter {
		t.Fatalf("fields = %#v", rec.Fields)
	}
	if tags, _ := rec.Fields["tags"].([]any); len(tags) != 2 || tags[0] != "intake" || tags[1] != "urgent" {
		t.Fatalf("tags = %#v", rec.Fields["tags"])
	}

	// The record JSON has the documented keys.
	raw := h.ok("show", rec.ID, "--json")
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "collection", "version", "state", "fields", "queue", "journal"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("show --json lacks %q: %s", k, raw)
		}
	}
	var shown shownRecord
	h.okJSON(&shown, "show", rec.ID, "--json")
	if len(shown.Queue) != 1 || shown.Queue[0].Kind != model.OpCreate || len(shown.Journal) == 0 || shown.Journal[0].Kind != "create" {
		t.Fatalf("queue %+v, journal %+v", shown.Queue, shown.Journal)
	}

	text := h.ok("show", rec.ID)
	for _, want := range []string{"note", "First meeting", "matter id", matter, "Line one", "Line two", "intake, urgent",
		"saved offline", "0 (not on the server yet)", "Waiting to sync", "Recent history", "create"} {
		if !strings.Contains(text, want) {
			t.Errorf("show lacks %q:\n%s", want, text)
		}
	}
	// Fields are in schema order.
	if strings.Index(text, "title") > strings.Index(text, "body") || strings.Index(text, "body") > strings.Index(text, "status") {
		t.Errorf("fields out of schema order:\n%s", text)
	}

	// A chosen id.
	const chosen = "0190f3a2-7c1e-7b3d-9f00-000000000001"
	if got := strings.TrimSpace(h.ok("add", "note", "--id", chosen, "matter_id="+matter, "title=Chosen")); got != chosen {
		t.Fatalf("add --id printed %q", got)
	}

	// Edit: change one field, clear another; edits before a push coalesce.
	var edited model.Record
	h.okJSON(&edited, "edit", rec.ID, "title=Second meeting", "body=", "--json")
	if edited.Fields["title"] != "Second meeting" || edited.Fields["body"] != nil || edited.Fields["matter_id"] != matter {
		t.Fatalf("edited fields = %#v", edited.Fields)
	}
	if got := strings.TrimSpace(h.ok("edit", rec.ID, "status=review")); got != rec.ID {
		t.Fatalf("edit printed %q", got)
	}
	h.okJSON(&shown, "show", rec.ID, "--json")
	if len(shown.Queue) != 1 || shown.Queue[0].Fields["title"] != "Second meeting" || shown.Queue[0].Fields["status"] != "review" {
		t.Fatalf("queue after edits = %+v", shown.Queue)
	}

	// Delete: a record the server never had is gone at once.
	out := h.ok("rm", rec.ID)
	if !strings.Contains(out, `Deleted note "Second meeting"; the server never had it`) {
		t.Fatalf("rm printed %q", out)
	}
	var list []model.Record
	h.okJSON(&list, "list", "note", "--json")
	for _, r := range list {
		if r.ID == rec.ID {
			t.Fatalf("deleted record still listed")
		}
	}
	for _, args := range [][]string{{"show", rec.ID}, {"edit", rec.ID, "title=Again"}, {"rm", rec.ID}} {
		r := h.run(args...)
		if r.code != 1 || r.stderr != "casefile "+args[0]+": no record with id "+rec.ID+" on this device\n" {
			t.Fatalf("%s after rm: %+v", args[0], r)
		}
	}
	h.okJSON(&shown, "show", chosen, "--json")
	if len(shown.Queue) != 1 {
		t.Fatalf("rm touched another record's queue: %+v", shown.Queue)
	}
}

func TestListAndSearch(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	m1, _ := h.seed()
	m2 := h.add("matter", "title=Estate of Brown")
	h.add("note", "matter_id="+m2, "title=Will reading", "body=The executor brought the original will")
	h.add("note", "matter_id="+m1, "title=Hearing prep")

	out := h.ok("list", "note")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("list note: %d lines\n%s", len(lines), out)
	}
	for _, col := range []string{"ID", "TITLE", "STATUS", "TAGS", "STATE"} {
		if !strings.Contains(lines[0], col) {
			t.Errorf("header lacks %s: %q", col, lines[0])
		}
	}
	if !strings.Contains(out, "saved offline") || !strings.Contains(out, "intake, urgent") {
		t.Errorf("rows lack state or columns:\n%s", out)
	}

	var recs []model.Record
	h.okJSON(&recs, "list", "note", "--json")
	if len(recs) != 3 {
		t.Fatalf("list --json: %d records", len(recs))
	}
	h.okJSON(&recs, "list", "note", "--matter", m1, "--json")
	if len(recs) != 2 {
		t.Fatalf("--matter: %d records", len(recs))
	}
	h.okJSON(&recs, "list", "note", "--state", "saved offline", "--json")
	if len(recs) != 3 {
		t.Fatalf("--state saved offline: %d records", len(recs))
	}
	if got := strings.TrimSpace(h.ok("list", "note", "--state", "synced", "--json")); got != "[]" {
		t.Fatalf("empty list JSON = %q", got)
	}
	if got := h.ok("list", "visit"); got != "No site visits.\n" {
		t.Fatalf("empty list = %q", got)
	}
	r := h.run("list", "note", "--limit", "1")
	if r.code != 0 || strings.Count(strings.TrimSpace(r.stdout), "\n") != 1 || !strings.Contains(r.stderr, "Showing 1 of 3") {
		t.Fatalf("--limit 1: %+v", r)
	}

	h.okJSON(&recs, "search", "executor", "--json")
	if len(recs) != 1 || recs[0].Fields["title"] != "Will reading" {
		t.Fatalf("search: %+v", recs)
	}
	out = h.ok("search", "executor")
	if !strings.Contains(out, "Will reading") || !strings.Contains(out, "note") || !strings.Contains(out, "saved offline") {
		t.Fatalf("search table:\n%s", out)
	}
	if got := strings.TrimSpace(h.ok("search", "zebra", "--json")); got != "[]" {
		t.Fatalf("no hits JSON = %q", got)
	}
	if !strings.Contains(h.ok("search", "zebra"), `Nothing matches "zebra"`) {
		t.Fatalf("no hits text")
	}
}

func TestQueueAndJournal(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if !strings.Contains(h.ok("queue"), "Nothing is waiting") {
		t.Fatal("empty queue text")
	}
	if got := strings.TrimSpace(h.ok("queue", "--json")); got != "[]" {
		t.Fatalf("empty queue JSON = %q", got)
	}
	matter, note := h.seed()
	h.ok("edit", note, "title=Renamed")

	raw := h.ok("queue", "--json")
	var ops []map[string]any
	if err := json.Unmarshal([]byte(raw), &ops); err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2 {
		t.Fatalf("queue: %d ops, want 2 (the edit coalesces into the create)\n%s", len(ops), raw)
	}
	for _, k := range []string{"op_id", "record_id", "collection", "kind", "state", "attempts", "last_error", "next_attempt", "fields"} {
		if _, ok := ops[1][k]; !ok {
			t.Errorf("queue entry lacks %q: %v", k, ops[1])
		}
	}
	if ops[0]["record_id"] != matter || ops[1]["record_id"] != note || ops[1]["kind"] != "create" || ops[1]["state"] != "pending" {
		t.Fatalf("queue = %v", ops)
	}
	if f, _ := ops[1]["fields"].(map[string]any); f["title"] != "Renamed" {
		t.Fatalf("coalesced op lost the edit: %v", ops[1]["fields"])
	}
	out := h.ok("queue")
	if !strings.Contains(out, note) || !strings.Contains(out, "saved offline") || !strings.Contains(out, "LAST ERROR") {
		t.Fatalf("queue table:\n%s", out)
	}

	var entries []localdb.JournalEntry
	h.okJSON(&entries, "journal", "--json")
	if len(entries) != 3 || entries[0].Kind != "update" || entries[0].RecordID != note {
		t.Fatalf("journal = %+v", entries)
	}
	h.okJSON(&entries, "journal", "--record", matter, "--json")
	if len(entries) != 1 || entries[0].Kind != "create" {
		t.Fatalf("journal --record = %+v", entries)
	}
	h.okJSON(&entries, "journal", "--limit", "2", "--json")
	if len(entries) != 2 {
		t.Fatalf("journal --limit 2 = %d entries", len(entries))
	}
	out = h.ok("journal")
	if !strings.Contains(out, "SUMMARY") || !strings.Contains(out, "update") || !strings.Contains(out, note) {
		t.Fatalf("journal table:\n%s", out)
	}
}
