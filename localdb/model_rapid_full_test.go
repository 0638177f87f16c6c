package localdb_test

import (
	"errors"
	"time"

	"pgregory.net/rapid"

	"casefile/localdb"
	"casefile/model"
)

// errDiskFull is the fault the history's handles meet while the disk is
// full (storeMachine.full, localdb.WithWriteFault).
var errDiskFull = errors.New("no space left on device")

// diskFault is the history's handles' write fault: every write
// transaction fails while the disk is full.
func (sm *storeMachine) diskFault() error {
	if sm.full.Load() {
		return errDiskFull
	}
	return nil
}

// Full makes a write the person (or the syncer, taking a batch) makes
// while the disk is full. It must fail, and change nothing: not the file,
// which the check after the step holds to the model, and not what the
// handle keeps in memory, which every later step would find different
// from the model.
func (sm *storeMachine) Full(t *rapid.T) {
	what := rapid.SampledFrom([]string{"create", "update", "delete", "cascade", "undo", "batch", "import"}).Draw(t, "write")
	var fields model.Fields
	var items []localdb.ImportItem
	var id string
	var changes model.Fields
	switch what {
	case "create", "import":
		ms := sm.someMatters(t)
		fields = model.Fields{model.MatterField: rapid.SampledFrom(ms).Draw(t, "matter"), "title": rapid.SampledFrom(titles).Draw(t, "title")}
		items = []localdb.ImportItem{{ID: model.NewID(), Fields: fields.Clone()}}
	case "update":
		id = sm.pickRecord(t)
		coll := "note"
		if r := sm.m.recs[id]; r != nil {
			coll = r.coll
		}
		changes = sm.fieldChanges(t, coll, false)
	case "delete", "cascade":
		id = sm.pickRecord(t)
	}
	sm.full.Store(true)
	defer sm.full.Store(false)
	var err error
	claimed := 0
	switch what {
	case "create":
		_, err = sm.db.Create(ctx, "note", "", fields)
	case "import":
		err = sm.db.Import(ctx, "note", items)
	case "update":
		_, err = sm.db.Update(ctx, id, changes)
	case "delete":
		err = sm.db.Delete(ctx, id)
	case "cascade":
		_, err = sm.db.DeleteCascade(ctx, id)
	case "undo":
		_, err = sm.db.Undo(ctx)
	case "batch":
		var ops []localdb.OutboxOp
		ops, err = sm.db.NextBatch(ctx, time.Now(), 6)
		claimed = len(ops)
	}
	t.Logf("> with the disk full, %s %s: %v", what, short(id), err)
	if err == nil && (what != "batch" || claimed > 0) {
		t.Fatalf("%s %s succeeded with the disk full (%d ops handed out): a write that did not commit", what, short(id), claimed)
	}
	if err != nil && !errors.Is(err, localdb.ErrFull) && what == "batch" {
		t.Fatalf("a batch taken with the disk full failed with %v, want ErrFull", err)
	}
	stats.full.Add(1)
}
