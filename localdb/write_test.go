package localdb

import (
	"errors"
	"strings"
	"testing"

	"casefile/model"
)

func TestCreateWritesRecordOpAndJournal(t *testing.T) {
	db := openTest(t)
	m := mustMatter(t, db, "Smith v Jones")
	n := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "Call the clerk", "tags": []any{"court", " court", "urgent"}})
	if !model.ValidID(n.ID) || n.Version != 0 || n.State != model.StatePending {
		t.Fatalf("new record %+v", n)
	}
	got := mustGet(t, db, n.ID)
	if got.Fields["title"] != "Call the clerk" || !model.Equal(got.Fields["tags"], []string{"court", "urgent"}) {
		t.Fatalf("stored fields %v", got.Fields)
	}
	ops := opsOf(t, db, n.ID)
	if len(ops) != 1 || ops[0].Kind != model.OpCreate || ops[0].State != OpPending || ops[0].BaseVersion != 0 ||
		ops[0].Fields["title"] != "Call the clerk" || ops[0].Fields["matter_id"] != m {
		t.Fatalf("outbox %+v", ops)
	}
	j := journalOf(t, db, n.ID)
	if len(j) != 1 || j[0].Kind != "create" || j[0].OpID != ops[0].OpID || j[0].After["title"] != "Call the clerk" || j[0].Actor != "local" {
		t.Fatalf("journal %+v", j)
	}
}

func TestCreateWithSuppliedID(t *testing.T) {
	db := openTest(t)
	id := model.NewID()
	r, err := db.Create(bg, "matter", id, model.Fields{"title": "A"})
	if err != nil || r.ID != id {
		t.Fatalf("create with id: %v %v", r, err)
	}
	before := dump(t, db)
	_, err = db.Create(bg, "matter", id, model.Fields{"title": "B"})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate id: %v", err)
	}
	if dump(t, db) != before {
		t.Fatal("a refused duplicate changed the database")
	}
}

// Every bad input is refused with a clear sentence and changes nothing.
func TestBadInputChangesNothing(t *testing.T) {
	db := openTest(t)
	m := mustMatter(t, db, "Smith v Jones")
	note := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "T"})
	gone := syncedMatter(t, db)
	if err := db.Delete(bg, gone); err != nil {
		t.Fatal(err)
	}
	task := mustCreate(t, db, "task", model.Fields{"matter_id": m, "title": "T"})

	cases := []struct {
		name string
		do   func() error
		want string
	}{
		{"unknown collection", func() error {
			_, err := db.Create(bg, "nope", "", model.Fields{"title": "x"})
			return err
		}, "nope: no such collection"},
		{"unknown field", func() error {
			_, err := db.Create(bg, "note", "", model.Fields{"matter_id": m, "title": "x", "colour": "red"})
			return err
		}, "note.colour: no such field"},
		{"wrong type", func() error {
			_, err := db.Create(bg, "time_entry", "", model.Fields{"matter_id": m, "description": "x", "minutes": "ten"})
			return err
		}, "time_entry.minutes: must be a number"},
		{"missing required", func() error {
			_, err := db.Create(bg, "note", "", model.Fields{"matter_id": m})
			return err
		}, "note.title: is required"},
		{"bad enum", func() error {
			_, err := db.Create(bg, "note", "", model.Fields{"matter_id": m, "title": "x", "status": "done"})
			return err
		}, `note.status: "done" is not one of`},
		{"ref to missing matter", func() error {
			_, err := db.Create(bg, "note", "", model.Fields{"matter_id": model.NewID(), "title": "x"})
			return err
		}, "note.matter_id: no matter with id"},
		{"ref to deleted matter", func() error {
			_, err := db.Create(bg, "note", "", model.Fields{"matter_id": gone, "title": "x"})
			return err
		}, "note.matter_id: no matter with id"},
		{"ref to a record of another collection", func() error {
			_, err := db.Create(bg, "note", "", model.Fields{"matter_id": note.ID, "title": "x"})
			return err
		}, "note.matter_id: no matter with id"},
		{"malformed id", func() error {
			_, err := db.Create(bg, "note", "NOT-AN-ID", model.Fields{"matter_id": m, "title": "x"})
			return err
		}, `note.id: not a valid id: "NOT-AN-ID"`},
		{"malformed ref", func() error {
			_, err := db.Create(bg, "note", "", model.Fields{"matter_id": "123", "title": "x"})
			return err
		}, "note.matter_id: not a valid matter id"},
		{"update clears a required field", func() error {
			_, err := db.Update(bg, note.ID, model.Fields{"title": nil})
			return err
		}, "note.title: is required and cannot be empty"},
		{"update with a bad value", func() error {
			_, err := db.Update(bg, task.ID, model.Fields{"due_on": "31/02", "done": "yes"})
			return err
		}, "task.done: must be true or false"},
		{"update of a missing record", func() error {
			_, err := db.Update(bg, model.NewID(), model.Fields{"title": "x"})
			return err
		}, "no such record"},
		{"update of a deleted record", func() error {
			_, err := db.Update(bg, gone, model.Fields{"title": "x"})
			return err
		}, "the record is deleted"},
		{"delete of a missing record", func() error { return db.Delete(bg, model.NewID()) }, "no such record"},
		{"import with one bad line", func() error {
			return db.Import(bg, "note", []ImportItem{
				{Fields: model.Fields{"matter_id": m, "title": "fine"}},
				{Fields: model.Fields{"matter_id": m}},
			})
		}, "item 2: note.title: is required"},
		{"import to an unknown matter", func() error {
			return db.Import(bg, "note", []ImportItem{
				{Fields: model.Fields{"matter_id": m, "title": "fine"}},
				{Fields: model.Fields{"matter_id": model.NewID(), "title": "x"}},
			})
		}, "item 2: note.matter_id: no matter with id"},
		{"import of an id already here", func() error {
			return db.Import(bg, "note", []ImportItem{
				{Fields: model.Fields{"matter_id": m, "title": "fine"}},
				{ID: note.ID, Fields: model.Fields{"matter_id": m, "title": "x"}},
			})
		}, "item 2: record " + note.ID + " is already here with other values of title"},
		{"import with an id twice", func() error {
			id := model.NewID()
			return db.Import(bg, "note", []ImportItem{
				{ID: id, Fields: model.Fields{"matter_id": m, "title": "a"}},
				{ID: id, Fields: model.Fields{"matter_id": m, "title": "b"}},
			})
		}, "item 2: id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := dump(t, db)
			err := c.do()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "SQL") || strings.Contains(err.Error(), "constraint") {
				t.Fatalf("driver text reached the user: %v", err)
			}
			if after := dump(t, db); after != before {
				t.Fatalf("refused input changed the database:\n%s\n---\n%s", before, after)
			}
		})
	}
}

func TestProblemsAreReachable(t *testing.T) {
	db := openTest(t)
	_, err := db.Create(bg, "hearing", "", model.Fields{"starts_at": "31/02", "room": 4})
	var probs model.Problems
	if !errors.As(err, &probs) {
		t.Fatalf("error %T %v is not model.Problems", err, err)
	}
	fields := map[string]bool{}
	for _, p := range probs {
		fields[p.Field] = true
	}
	for _, f := range []string{"starts_at", "room", "title", "matter_id"} {
		if !fields[f] {
			t.Errorf("no problem reported for %s in %v", f, probs)
		}
	}
	err = db.Import(bg, "note", []ImportItem{{Fields: model.Fields{}}})
	var ie *ItemError
	if !errors.As(err, &ie) || ie.Index != 0 || !errors.As(err, &probs) {
		t.Fatalf("import error %T %v", err, err)
	}
}

// An injected failure between the record and its outbox op leaves neither,
// and no journal entry: for new ops, coalesced ops and cancelled ones.
func TestWriteIsAtomic(t *testing.T) {
	db, m := openWithMatter(t)
	synced := syncedNote(t, db, m, 1, model.Fields{"title": "Before"})
	unsent := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "Unsent"}).ID
	for _, table := range []string{"outbox", "journal"} {
		t.Run(table, func(t *testing.T) {
			var triggers []string
			for _, ev := range []string{"INSERT", "UPDATE", "DELETE"} {
				name := "fail_" + table + "_" + strings.ToLower(ev)
				if table == "journal" && ev != "INSERT" {
					continue
				}
				if _, err := db.w.ExecContext(bg, "CREATE TRIGGER "+name+" BEFORE "+ev+" ON "+table+
					" BEGIN SELECT RAISE(ABORT, 'injected failure'); END"); err != nil {
					t.Fatal(err)
				}
				triggers = append(triggers, name)
			}
			before := dump(t, db)
			writes := []struct {
				name string
				do   func() error
			}{
				{"create", func() error {
					_, err := db.Create(bg, "note", "", model.Fields{"matter_id": m, "title": "Lost"})
					return err
				}},
				{"update (new op)", func() error { _, err := db.Update(bg, synced, model.Fields{"title": "After"}); return err }},
				{"update (coalesced)", func() error { _, err := db.Update(bg, unsent, model.Fields{"title": "After"}); return err }},
				{"delete (new op)", func() error { return db.Delete(bg, synced) }},
				{"delete (cancels the create)", func() error { return db.Delete(bg, unsent) }},
				{"import", func() error {
					return db.Import(bg, "note", []ImportItem{{Fields: model.Fields{"matter_id": m, "title": "Lost"}}})
				}},
			}
			for _, w := range writes {
				err := w.do()
				if !errors.Is(err, ErrStorage) {
					t.Fatalf("%s: error %v, want ErrStorage", w.name, err)
				}
				if strings.Contains(err.Error(), "injected") {
					t.Fatalf("%s: driver text reached the user: %v", w.name, err)
				}
				if after := dump(t, db); after != before {
					t.Fatalf("%s: a failed write left a trace:\n%s\n---\n%s", w.name, before, after)
				}
			}
			for _, name := range triggers {
				if _, err := db.w.ExecContext(bg, "DROP TRIGGER "+name); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	if got := mustGet(t, db, synced); got.Fields["title"] != "Before" || got.State != model.StateSynced {
		t.Fatalf("record changed: %+v", got)
	}
	if got := mustGet(t, db, unsent); got.Fields["title"] != "Unsent" {
		t.Fatalf("record changed: %+v", got)
	}
}

func TestUpdateQueuesOnlyChangedFields(t *testing.T) {
	db, m := openWithMatter(t)
	id := syncedNote(t, db, m, 3, model.Fields{"title": "A", "status": "draft", "tags": []any{"x"}})
	r := mustUpdate(t, db, id, model.Fields{"title": "A", "status": "open", "tags": []any{"x"}, "body": nil})
	if r.State != model.StatePending || r.Fields["status"] != "open" {
		t.Fatalf("updated %+v", r)
	}
	ops := opsOf(t, db, id)
	if len(ops) != 1 || len(ops[0].Fields) != 1 || ops[0].Fields["status"] != "open" || ops[0].BaseVersion != 3 {
		t.Fatalf("op %+v, want only status on base 3", ops)
	}
	// An update that changes nothing queues nothing.
	before := dump(t, db)
	if _, err := db.Update(bg, id, model.Fields{"status": "open"}); err != nil {
		t.Fatal(err)
	}
	if dump(t, db) != before {
		t.Fatal("a no-op update wrote something")
	}
	// nil clears.
	r = mustUpdate(t, db, id, model.Fields{"tags": nil})
	if _, ok := r.Fields["tags"]; ok {
		t.Fatalf("tags not cleared: %v", r.Fields)
	}
	ops = opsOf(t, db, id)
	if v, ok := ops[0].Fields["tags"]; !ok || v != nil {
		t.Fatalf("the op must carry the clear as null: %v", ops[0].Fields)
	}
}

func TestDeleteTombstonesUntilAcknowledged(t *testing.T) {
	db, m := openWithMatter(t)
	id := syncedNote(t, db, m, 2, model.Fields{"title": "A"})
	if err := db.Delete(bg, id); err != nil {
		t.Fatal(err)
	}
	r := mustGet(t, db, id)
	if !r.Deleted || r.State != model.StatePending {
		t.Fatalf("tombstone %+v", r)
	}
	if n, _ := db.Count(bg, ListQuery{Collection: "note"}); n != 0 {
		t.Fatalf("a tombstone is listed: %d", n)
	}
	if n, _ := db.Count(bg, ListQuery{Collection: "note", IncludeDeleted: true}); n != 1 {
		t.Fatalf("tombstone missing with IncludeDeleted: %d", n)
	}
	if err := db.Delete(bg, id); !errors.Is(err, ErrDeleted) {
		t.Fatalf("second delete: %v", err)
	}
	ops := opsOf(t, db, id)
	if len(ops) != 1 || ops[0].Kind != model.OpDelete || ops[0].BaseVersion != 2 {
		t.Fatalf("ops %+v", ops)
	}
}

func TestImportBatch(t *testing.T) {
	db := openTest(t)
	m := mustMatter(t, db, "M")
	id := model.NewID()
	items := []ImportItem{
		{ID: id, Fields: model.Fields{"matter_id": m, "title": "one", "body": nil}},
		{Fields: model.Fields{"matter_id": m, "title": "two", "tags": []any{"a"}}},
	}
	if err := db.Import(bg, "note", items); err != nil {
		t.Fatal(err)
	}
	if r := mustGet(t, db, id); r.Fields["title"] != "one" || r.State != model.StatePending {
		t.Fatalf("imported %+v", r)
	}
	ops := outbox(t, db)
	if len(ops) != 3 {
		t.Fatalf("want 3 ops (matter and two notes), got %d", len(ops))
	}
	j, _ := db.Journal(bg, JournalQuery{})
	imports := 0
	for _, e := range j {
		if e.Kind == "import" {
			imports++
		}
	}
	if imports != 2 {
		t.Fatalf("want one journal entry per imported record, got %d", imports)
	}
	if n, _ := db.Count(bg, ListQuery{Collection: "note", Text: "two"}); n != 1 {
		t.Fatalf("imported record not searchable: %d", n)
	}
}
