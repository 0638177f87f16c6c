package localdb_test

// The steps of TestStoreModel a person takes: writes, resolutions, retries
// and discards.

import (
	"slices"

	"pgregory.net/rapid"

	"casefile/localdb"
	"casefile/model"
)

// --- user writes ---

func (sm *storeMachine) CreateMatter(t *rapid.T) {
	fields := model.Fields{"title": rapid.SampledFrom(titles).Draw(t, "title"),
		"status": rapid.SampledFrom(matterState).Draw(t, "status")}
	sm.create(t, model.MatterCollection, fields)
}

func (sm *storeMachine) CreateNote(t *rapid.T) {
	ms := sm.someMatters(t)
	fields := model.Fields{model.MatterField: rapid.SampledFrom(ms).Draw(t, "matter"),
		"title": rapid.SampledFrom(titles).Draw(t, "title"), "tags": cloneValue(rapid.SampledFrom(tagLists).Draw(t, "tags"))}
	sm.create(t, "note", fields)
}

// CreateBad tries creates the schema or the refs refuse: nothing may change.
func (sm *storeMachine) CreateBad(t *rapid.T) {
	bad := rapid.SampledFrom([]model.Fields{
		{"title": nil},
		{"title": "x", "colour": "red"},
		{model.MatterField: "m-1", "title": "x"},
		{model.MatterField: model.NewID(), "title": "x"},
	}).Draw(t, "fields")
	coll := "note"
	if _, ok := bad[model.MatterField]; !ok {
		coll = rapid.SampledFrom([]string{"note", model.MatterCollection, "memo"}).Draw(t, "coll")
	}
	sm.create(t, coll, bad)
}

func (sm *storeMachine) create(t *rapid.T, coll string, fields model.Fields) {
	norm, want := sm.m.create(coll, fields)
	rec, err := sm.db.Create(ctx, coll, "", fields.Clone())
	t.Logf("> create %s %s %v: %v", coll, short(rec.ID), canon(fields), err)
	expect(t, "create "+coll, want, err)
	if err == nil {
		sm.m.created(rec.ID, coll, norm)
		sm.m.local(&mChange{kind: localdb.JournalCreate, record: rec.ID, coll: coll, after: norm.Clone()})
		sm.seen(rec.ID)
	}
}

// Import adds a batch of notes in one transaction, as casefile import
// does: many rows to a statement, each create op referring to its journal
// entry's copy of the fields. A note the model refuses (its matter gone)
// fails the whole batch.
func (sm *storeMachine) Import(t *rapid.T) {
	ms := sm.someMatters(t)
	items := make([]localdb.ImportItem, rapid.IntRange(1, 6).Draw(t, "notes"))
	norms := make([]model.Fields, len(items))
	want := errNone
	for i := range items {
		fields := drawNote(t, ms)
		norm, w := sm.m.create("note", fields)
		if want == errNone {
			want = w
		}
		items[i] = localdb.ImportItem{ID: model.NewID(), Fields: fields}
		norms[i] = norm
	}
	err := sm.db.Import(ctx, "note", items)
	t.Logf("> import %d notes: %v", len(items), err)
	expect(t, "import", want, err)
	if err == nil {
		sm.imported(items, norms)
	}
}

// ImportGone imports a note under the id of a matter that left this
// device, as a backup of another system's, or one that predates the
// matter, does: the id is the note's here now, and, once the note has
// left too, the id last left as a note. An undo of the matter's delete
// must then touch nothing (undo.go: "its id now holds", "last held").
func (sm *storeMachine) ImportGone(t *rapid.T) {
	ms := sm.someMatters(t)
	var ids []string
	for _, id := range sortedKeys(sm.m.gone) {
		if sm.m.recs[id] == nil && sm.m.gone[id].coll == model.MatterCollection && len(sm.m.recordOps(id)) == 0 {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		t.Skip("no matter has left the device")
	}
	id := rapid.SampledFrom(ids).Draw(t, "gone id")
	// Often the matter whose delete an undo would take back next, and
	// often that undo right away.
	next := false
	if n := sm.newestRecord(); slices.Contains(ids, n) && rapid.Bool().Draw(t, "the newest change's") {
		id, next = n, rapid.Bool().Draw(t, "undo it")
	}
	fields := drawNote(t, ms)
	norm, want := sm.m.create("note", fields)
	items := []localdb.ImportItem{{ID: id, Fields: fields}}
	err := sm.db.Import(ctx, "note", items)
	t.Logf("> import a note under gone %s: %v", short(items[0].ID), err)
	expect(t, "import", want, err)
	if err == nil {
		sm.imported(items, []model.Fields{norm})
		stats.importedGone.Add(1)
		if next {
			sm.Check(t)
			sm.Undo(t)
		}
	}
}

// imported models the records an import wrote: each with its create,
// an import's.
func (sm *storeMachine) imported(items []localdb.ImportItem, norms []model.Fields) {
	for i, it := range items {
		sm.m.created(it.ID, "note", norms[i])
		sm.m.ops[len(sm.m.ops)-1].imported = true
		sm.seen(it.ID)
	}
}

// ImportKnown imports notes whose ids the server holds, or held before a
// compaction, and this device does not: a backup restored on a device
// that has not pulled them, as on a new laptop. The server answers each
// create with its own copy, a deleted record's tombstone, or, for a record
// the user may not see or of another collection, id_conflict; changes
// made here meanwhile queue behind the creates.
func (sm *storeMachine) ImportKnown(t *rapid.T) {
	ms := sm.someMatters(t)
	var known []string
	for _, id := range sortedKeys(sm.srv.recs) {
		if sm.m.recs[id] == nil {
			known = append(known, id)
		}
	}
	for _, id := range sortedKeys(sm.srv.graves) {
		if sm.m.recs[id] == nil && sm.srv.recs[id] == nil {
			known = append(known, id)
		}
	}
	// Often the record is one another user made since this device's last
	// pull, in any matter of the server's, seen or not.
	var matters []*sRecord
	for _, id := range sortedKeys(sm.srv.recs) {
		if r := sm.srv.recs[id]; r.coll == model.MatterCollection && !r.deleted {
			matters = append(matters, r)
		}
	}
	if len(matters) > 0 && (len(known) == 0 || rapid.Bool().Draw(t, "made elsewhere")) {
		id, m := model.NewID(), rapid.SampledFrom(matters).Draw(t, "its matter")
		fields := model.Fields{model.MatterField: m.id, "title": rapid.SampledFrom(titles).Draw(t, "its title")}
		sm.srv.remoteCreate(id, "note", fields)
		t.Logf("> remote create note %s %s", short(id), canon(fields))
		known = append(known, id)
	}
	if len(known) == 0 {
		t.Skip("the device holds every record the server has")
	}
	var items []localdb.ImportItem
	var norms []model.Fields
	for _, id := range drawIDs(t, known, "known") {
		// The backup holds the server's values when it was taken after
		// the record's last change, else older ones.
		fields := drawNote(t, ms)
		if r := sm.srv.recs[id]; r != nil && r.coll == "note" && sm.m.refOK(model.MatterOf(r.coll, r.id, r.fields)) && rapid.Bool().Draw(t, "current") {
			fields = r.fields.Clone()
		}
		norm, want := sm.m.create("note", fields)
		if want != errNone {
			t.Skip("the drawn values are refused")
		}
		items = append(items, localdb.ImportItem{ID: id, Fields: fields})
		norms = append(norms, norm)
	}
	err := sm.db.Import(ctx, "note", items)
	t.Logf("> import %d notes the server knows: %v", len(items), err)
	expect(t, "import", errNone, err)
	sm.imported(items, norms)
}

// ImportOver imports notes whose ids are records this device holds: a
// backup imported again, with the values it had then or others, under
// any policy for records already here.
func (sm *storeMachine) ImportOver(t *rapid.T) {
	ms := sm.matters()
	// Mostly notes; now and then any record (a matter is refused).
	var here []string
	anyColl := rapid.IntRange(0, 4).Draw(t, "any collection") == 0
	for _, id := range sortedKeys(sm.m.recs) {
		if anyColl || sm.m.recs[id].coll == "note" {
			here = append(here, id)
		}
	}
	if len(ms) == 0 || len(here) == 0 {
		t.Skip("no matter or no record")
	}
	policy := rapid.SampledFrom([]localdb.ExistingPolicy{localdb.ExistingStop, localdb.ExistingSkip, localdb.ExistingUpdate, localdb.ExistingUpdate}).Draw(t, "policy")
	var items []localdb.ImportItem
	for _, id := range drawIDs(t, here, "here") {
		fields := drawNote(t, ms)
		if r := sm.m.recs[id]; rapid.Bool().Draw(t, "as it is") {
			fields = r.fields.Clone()
		}
		items = append(items, localdb.ImportItem{ID: id, Fields: fields})
	}
	want, wantCounts := sm.m.importOver(items, policy)
	counts, err := sm.db.ImportWith(ctx, "note", items, policy)
	t.Logf("> import %d notes here already (policy %d): %+v, %v", len(items), policy, counts, err)
	expect(t, "import over", want, err)
	if err == nil && counts != wantCounts {
		t.Fatalf("import over: counts %+v, want %+v", counts, wantCounts)
	}
	if err != nil {
		stats.importedOver[2].Add(1)
	}
	stats.importedOver[0].Add(int64(counts.Updated))
	stats.importedOver[1].Add(int64(counts.Identical + counts.Kept))
}

// Export exports the device's records as a backup, as `casefile export`
// does: its queued creates are marked, and changes of their records queue
// behind them from now on.
func (sm *storeMachine) Export(t *rapid.T) {
	want := sm.m.markBackedUp()
	n, err := sm.db.MarkBackedUp(ctx)
	t.Logf("> export a backup: %d creates marked, %v", n, err)
	if err != nil || n != want {
		t.Fatalf("mark backed up = %d, %v; want %d", n, err, want)
	}
}

// MadeElsewhere makes, on the server, a record this device has created
// and not yet sent: a backup of this device restored on another of its
// user's devices, which synced first. The backup holds the create's
// values, or older ones. This device's create then meets the server's
// copy; where their values differ it goes to review as a conflict.
func (sm *storeMachine) MadeElsewhere(t *rapid.T) {
	var creates []*mOp
	for _, o := range sm.m.ops {
		if o.kind != model.OpCreate || o.baseVer != 0 || o.maybeSent || sm.srv.recs[o.record] != nil || sm.srv.graves[o.record] != nil {
			continue
		}
		if o.coll != model.MatterCollection && !sm.srv.usableMatter(model.MatterOf(o.coll, o.record, o.fields)) {
			continue
		}
		creates = append(creates, o)
	}
	if len(creates) == 0 {
		t.Skip("no unsent create the server could take")
	}
	o := rapid.SampledFrom(creates).Draw(t, "create")
	fields := o.fields.Clone()
	if rapid.Bool().Draw(t, "older") {
		fields["title"] = rapid.SampledFrom(titles).Draw(t, "its title")
	}
	norm, probs := sm.schemaCol(o.coll).Validate(fields, true)
	if len(probs) > 0 {
		t.Skip("the create's values are refused")
	}
	sm.srv.remoteCreate(o.record, o.coll, norm)
	t.Logf("> %s %s made elsewhere %s", o.coll, short(o.record), canon(norm))
}

func (sm *storeMachine) Edit(t *rapid.T) {
	id := sm.pickRecord(t)
	sm.edit(t, id, rapid.Bool().Draw(t, "bad"))
}

// Coalesce makes several edits of one record in a row.
func (sm *storeMachine) Coalesce(t *rapid.T) {
	id := sm.pickRecord(t)
	for range rapid.IntRange(2, 4).Draw(t, "edits") {
		sm.edit(t, id, false)
	}
}

func (sm *storeMachine) edit(t *rapid.T, id string, bad bool) {
	coll := "note"
	if r := sm.m.recs[id]; r != nil {
		coll = r.coll
	}
	changes := sm.fieldChanges(t, coll, bad)
	want := sm.m.update(id, changes.Clone())
	_, err := sm.db.Update(ctx, id, changes)
	t.Logf("> update %s %s: %v", short(id), canon(changes), err)
	expect(t, "update "+id, want, err)
}

func (sm *storeMachine) Delete(t *rapid.T) {
	sm.deleteRecord(t, sm.pickRecord(t))
}

// DeleteCascade deletes a matter with the records it holds.
func (sm *storeMachine) DeleteCascade(t *rapid.T) {
	id := sm.pickRecord(t)
	n, want := sm.m.deleteCascade(id)
	got, err := sm.db.DeleteCascade(ctx, id)
	t.Logf("> delete cascade %s: %d, %v", short(id), got, err)
	expect(t, "delete cascade "+id, want, err)
	if err == nil && got != n {
		t.Fatalf("delete cascade %s took %d records with it, want %d", id, got, n)
	}
	if err == nil && got > 0 {
		stats.cascades.Add(1)
	}
}

func (sm *storeMachine) deleteRecord(t *rapid.T, id string) {
	want := sm.m.delete(id)
	err := sm.db.Delete(ctx, id)
	t.Logf("> delete %s: %v", short(id), err)
	expect(t, "delete "+id, want, err)
}

// --- people deciding ---

func (sm *storeMachine) Resolve(t *rapid.T) {
	ids := sortedKeys(sm.m.conflicts)
	if len(ids) == 0 {
		t.Skip("no conflict")
	}
	id := rapid.SampledFrom(ids).Draw(t, "conflict")
	c := sm.m.conflicts[id]
	res := model.Resolution{All: rapid.SampledFrom([]model.Take{model.TakeMine, model.TakeTheirs, ""}).Draw(t, "all")}
	if c.Kind == model.ConflictEdit && rapid.Bool().Draw(t, "per field") {
		res.Fields = map[string]model.Choice{}
		for _, fc := range c.Fields {
			switch rapid.SampledFrom([]string{"mine", "theirs", "value", "skip"}).Draw(t, "take") {
			case "mine":
				res.Fields[fc.Field] = model.Choice{Take: model.TakeMine}
			case "theirs":
				res.Fields[fc.Field] = model.Choice{Take: model.TakeTheirs}
			case "value":
				res.Fields[fc.Field] = model.Choice{Take: model.TakeValue, Value: rapid.SampledFrom([]any{"Delta", nil}).Draw(t, "value")}
			}
		}
	}
	op, want := sm.m.resolve(id, res)
	_, err := sm.db.Resolve(ctx, id, res)
	t.Logf("> resolve %s %s %+v: %v; queues %+v", short(id), c.Kind, res, err, op)
	expect(t, "resolve "+id, want, err)
	if err == nil {
		stats.resolved.Add(1)
	}
}

// pickOp draws a queued op, or an id the outbox never had.
func (sm *storeMachine) pickOp(t *rapid.T) (*mOp, string) {
	if len(sm.m.ops) == 0 || rapid.IntRange(0, 9).Draw(t, "unknown") == 0 {
		return nil, model.NewID()
	}
	o := rapid.SampledFrom(sm.m.ops).Draw(t, "op")
	return o, o.id
}

func (sm *storeMachine) RetryOp(t *rapid.T) {
	o, id := sm.pickOp(t)
	want := errNoOp
	if o != nil {
		_, want = sm.m.retry(o)
	}
	expect(t, "retry "+id, want, sm.db.RetryOp(ctx, id))
}

func (sm *storeMachine) RetryAll(t *rapid.T) {
	want := sm.m.retryAll()
	n, err := sm.db.RetryAll(ctx)
	if err != nil || n != want {
		t.Fatalf("retry all: %d, %v; want %d", n, err, want)
	}
}

func (sm *storeMachine) Discard(t *rapid.T) {
	o, id := sm.pickOp(t)
	want := errNoOp
	if o != nil {
		want = sm.m.discard(o)
	}
	expect(t, "discard "+id, want, sm.db.DiscardOp(ctx, id))
}

// drawNote draws an imported note's values, in one of the matters ms.
func drawNote(t *rapid.T, ms []string) model.Fields {
	return model.Fields{model.MatterField: rapid.SampledFrom(ms).Draw(t, "matter"),
		"title": rapid.SampledFrom(titles).Draw(t, "title"), "tags": cloneValue(rapid.SampledFrom(tagLists).Draw(t, "tags"))}
}

// drawIDs draws one to three distinct ids of pool.
func drawIDs(t *rapid.T, pool []string, label string) []string {
	seen := map[string]bool{}
	var out []string
	for range rapid.IntRange(1, 3).Draw(t, "notes") {
		if id := rapid.SampledFrom(pool).Draw(t, label); !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
