package localdb_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"pgregory.net/rapid"

	"casefile/assets"
	"casefile/internal/racetest"
	"casefile/localdb"
	"casefile/model"
	"casefile/vault"
)

// rounds of rapid.Repeat per history: two reach deeper states.
const rounds = 2

// TestStoreModel runs random histories of user writes, sync answers, pulls,
// crashes and resolutions against a real database file and checks, after
// every step, that records, their states, the outbox, the conflicts, the
// cursor and the journal are exactly what the in-memory model says.
//
// Replay a failure with the seed it prints: go test ./localdb -run TestStoreModel -rapid.seed=N
func TestStoreModel(t *testing.T) {
	racetest.Plain(t)
	schema, err := model.ParseSchema(assets.Schema)
	if err != nil {
		t.Fatal(err)
	}
	root := memDir(t)
	rapid.Check(t, func(rt *rapid.T) {
		dir, err := os.MkdirTemp(root, "db")
		if err != nil {
			rt.Fatal(err)
		}
		sm := &storeMachine{schema: schema, dir: dir, m: newClientModel(schema), srv: newFakeServer(schema),
			burnt: map[string]bool{}, sent: map[string]model.Op{}, handed: map[string][]localdb.OutboxOp{}}
		sm.srv.oldReplays = rapid.Bool().Draw(rt, "a server before hidden conflicts were refused")
		// Half the histories run on an encrypted database: every path that
		// writes a value must seal it, or reading it back fails.
		if rapid.Bool().Draw(rt, "sealed") {
			if sm.keys, err = vault.NewRandom(); err != nil {
				rt.Fatal(err)
			}
		}
		sm.open(rt)
		rt.Cleanup(func() {
			if sm.db != nil {
				sm.db.Close()
			}
			os.RemoveAll(dir)
		})
		actions := sm.actions()
		for range rounds {
			rt.Repeat(actions)
		}
		sm.finalCheck(rt)
		stats.histories.Add(1)
	})
	t.Logf("%d histories, %d steps: %d pushes answered (%d lean; %d conflicts: %d edit, %d edit_deleted, %d delete_edit), "+
		"%d resolved (%d restores; %d edits of records edited then deleted elsewhere), %d pull pages (%d records dropped for lost access), %d crashes, %d repairs, %d ops unclaimed, %d undos (%d deletes of records gone from the device restored, %d left out of sight; %d cascades whose matter was back, of %d matters brought back elsewhere), %d full resyncs, %d matters deleted with their records, %d creates answered with the server's copy (%d made here met it: conflicts; %d imports' refused before, taking it), imports over records here: %d updated, %d left, %d refused; conflicts answered again out of sight %d; changes behind a refused create a backup holds %d; opens by another process %d; writes with the disk full %d; notes imported under a gone matter's id %d, undos that met another collection's record under the id %d; records out of sight found with no value in the journal %d, records applied out of sight %d, matters lost while answers were on the way %d, removals of records deleted here before %d (of %d brought back out of sight)",
		stats.histories.Load(), stats.steps.Load(), stats.answers.Load(), stats.lean.Load(), stats.conflicts[0].Load()+stats.conflicts[1].Load()+stats.conflicts[2].Load(),
		stats.conflicts[0].Load(), stats.conflicts[1].Load(), stats.conflicts[2].Load(),
		stats.resolved.Load(), stats.restores.Load(), stats.editedTombstones.Load(), stats.pages.Load(), stats.dropped.Load(), stats.crashes.Load(), stats.repairs.Load(), stats.unclaimed.Load(), stats.undos.Load(), stats.goneRestores.Load(), stats.goneOutOfSight.Load(), stats.cascadeMatterBack.Load(), stats.remoteMatters.Load(), stats.resyncs.Load(), stats.cascades.Load(), stats.alreadyHere.Load(), stats.met.Load(), stats.retriedImports.Load(),
		stats.importedOver[0].Load(), stats.importedOver[1].Load(), stats.importedOver[2].Load(), stats.hiddenConflicts.Load(), stats.behindRefused.Load(), stats.beside.Load(), stats.full.Load(), stats.importedGone.Load(), stats.otherCollection.Load(), stats.leftUnreadable.Load(), stats.appliedHidden.Load(), stats.overtaken.Load(), stats.removedGone.Load(), stats.restoredOutOfSight.Load())
}

// stats counts what the histories exercised, so a run shows it reached the
// interesting cases.
var stats struct {
	histories, steps, answers, resolved, pages, dropped, crashes, resyncs atomic.Int64
	lean                                                                  atomic.Int64 // answers that left out the fields their op sent
	// editedTombstones: records another user edited, then deleted, while
	// this device edited its older copy; restores: edits of deleted
	// records resolved by restoring.
	editedTombstones, restores atomic.Int64
	cascades                   atomic.Int64 // DeleteCascade that took records with it
	// alreadyHere: creates the server answered with its own copy (a
	// backup imported over records it holds); met: creates made here
	// that met such a copy with other values, turned into conflicts;
	// retriedImports: imports' creates refused before that took it.
	alreadyHere, met, retriedImports atomic.Int64
	repairs                          atomic.Int64 // rebuilds by doctor --repair
	unclaimed                        atomic.Int64 // handings out given back unsent
	undos                            atomic.Int64 // changes taken back by Undo
	goneRestores                     atomic.Int64 // deletes undone after their record left the device
	goneOutOfSight                   atomic.Int64 // of those, records out of the user's sight: nothing back
	cascadeMatterBack                atomic.Int64 // cascades undone whose matter was back: their records restored
	remoteMatters                    atomic.Int64 // matters another device brought back
	// importedOver: records an import of records already here updated,
	// left (the same values, or kept), or refused the batch over.
	importedOver [3]atomic.Int64
	conflicts    [3]atomic.Int64 // edit, edit_deleted, delete_edit
	// hiddenConflicts: conflicts answered again once their record was
	// out of the user's sight (fakeServer.replay).
	hiddenConflicts atomic.Int64
	// behindRefused: changes of a refused create a backup holds, queued
	// behind it as it goes again.
	behindRefused atomic.Int64
	// beside: opens of the database by another handle, as another
	// process's (Beside).
	beside atomic.Int64
	// full: writes made while the disk was full (Full).
	full atomic.Int64
	// importedGone: notes imported under the id of a matter that left
	// (ImportGone); otherCollection: undos that met the id held by, or
	// last left as, a record of another collection.
	importedGone, otherCollection atomic.Int64
	// leftUnreadable: checks of a record out of sight, with no op left,
	// whose journal entries were found without values.
	leftUnreadable atomic.Int64
	// appliedHidden: ops answered applied with no record, which left
	// their record out of sight.
	appliedHidden atomic.Int64
	// overtaken: matters lost while answers to their ops were on the
	// way, the drop pulled before the answers came.
	overtaken atomic.Int64
	// removedGone: removals of records that had left the device before,
	// deleted (their copies kept), and were moved out of sight since.
	removedGone atomic.Int64
	// restoredOutOfSight: notes deleted here that another user brought
	// back into a matter this user lost (Remote).
	restoredOutOfSight atomic.Int64
}

var ctx = context.Background()

// memDir is a temporary directory in memory (/dev/shm) when the machine has
// one, else t.TempDir(). The files are real SQLite files either way; on
// disk, the fsync of every FULL-synchronous commit would make the history
// count CI can afford five times smaller, and durability is what the crash
// suites prove, not this one.
func memDir(t *testing.T) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "casefile-model-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}

// actions weighs the steps: syncing and remote changes often, so that
// conflicts, merges and refusals are common.
func (sm *storeMachine) actions() map[string]func(*rapid.T) {
	weighted := []struct {
		name   string
		weight int
		fn     func(*rapid.T)
	}{
		{"CreateMatter", 1, sm.CreateMatter}, {"CreateNote", 2, sm.CreateNote}, {"CreateBad", 1, sm.CreateBad}, {"Import", 1, sm.Import}, {"ImportKnown", 1, sm.ImportKnown}, {"MadeElsewhere", 1, sm.MadeElsewhere}, {"ImportOver", 1, sm.ImportOver}, {"ImportGone", 1, sm.ImportGone}, {"Export", 1, sm.Export},
		{"Edit", 3, sm.Edit}, {"Coalesce", 1, sm.Coalesce}, {"Delete", 1, sm.Delete}, {"DeleteCascade", 1, sm.DeleteCascade},
		{"Batch", 2, sm.Batch}, {"Answer", 2, sm.Answer}, {"Sync", 3, sm.Sync}, {"Retry", 1, sm.Retry},
		{"Remote", 3, sm.Remote}, {"Race", 3, sm.Race}, {"Pull", 2, sm.Pull}, {"Revoke", 1, sm.Revoke}, {"Grant", 1, sm.Grant},
		{"Compact", 1, sm.Compact}, {"Reset", 1, sm.Reset}, {"Crash", 1, sm.Crash}, {"Repair", 1, sm.Repair}, {"Unclaim", 1, sm.Unclaim}, {"Beside", 1, sm.Beside}, {"Full", 1, sm.Full}, {"Undo", 2, sm.Undo},
		{"Resolve", 3, sm.Resolve}, {"RetryOp", 1, sm.RetryOp}, {"RetryAll", 1, sm.RetryAll}, {"Discard", 1, sm.Discard},
	}
	out := map[string]func(*rapid.T){"": sm.Check}
	for _, w := range weighted {
		for i := range w.weight {
			out[fmt.Sprintf("%s%d", w.name, i)] = w.fn
		}
	}
	return out
}

// storeMachine is one history: the real database, the model and the fake server.
type storeMachine struct {
	schema  *model.Schema
	dir     string
	gen     int // crash images taken
	db      *localdb.DB
	m       *clientModel
	srv     *fakeServer
	journal []localdb.JournalEntry        // as last read, oldest first
	burnt   map[string]bool               // every op id the store ever used
	sent    map[string]model.Op           // ops as last handed to the server, by op id
	handed  map[string][]localdb.OutboxOp // every handing out of each op, by op id, oldest first
	ids     []string                      // every record id ever seen, for edits of missing records
	keys    *vault.Keys                   // nil: a plaintext database
	full    atomic.Bool                   // the disk is full: every write transaction fails (Full)
	commits commitWatch                   // every handle's commits that were not durable
}

func (sm *storeMachine) path() string {
	return filepath.Join(sm.dir, fmt.Sprintf("gen%d", sm.gen), "casefile.db")
}

func (sm *storeMachine) open(t *rapid.T) {
	if err := os.MkdirAll(filepath.Dir(sm.path()), 0o700); err != nil {
		t.Fatal(err)
	}
	sm.db = sm.handle(t)
}

// handle opens the history's database file, as one more process would.
func (sm *storeMachine) handle(t *rapid.T) *localdb.DB {
	opts := []localdb.Option{localdb.WithWriteFault(sm.diskFault), localdb.WithCommitWatch(sm.commits.heard)}
	if sm.keys != nil {
		opts = append(opts, localdb.WithSealer(sm.keys))
	}
	db, err := localdb.Open(ctx, sm.path(), sm.schema, opts...)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return db
}

// --- value pools ---

var (
	titles      = []any{"Alpha", "Beta", "Gamma"}
	noteStatus  = []any{nil, "draft", "open", "review", "closed"}
	matterState = []any{nil, "intake", "open", "on_hold", "closed"}
	texts       = []any{nil, "one", "two"}
	tagLists    = []any{nil, []string{"x"}, []string{"x", "y"}, []string{"y"}}
)

func (sm *storeMachine) matters() []string {
	var out []string
	for _, id := range sortedKeys(sm.m.recs) {
		if sm.m.recs[id].coll == model.MatterCollection {
			out = append(out, id)
		}
	}
	return out
}

// someMatters is matters, or skips the step when the device holds none.
func (sm *storeMachine) someMatters(t *rapid.T) []string {
	ms := sm.matters()
	if len(ms) == 0 {
		t.Skip("no matter")
	}
	return ms
}

// fieldChanges draws 1 to 3 changes for a record of coll; bad adds a change
// the schema refuses.
func (sm *storeMachine) fieldChanges(t *rapid.T, coll string, bad bool) model.Fields {
	type gen struct {
		name string
		vals []any
	}
	var gens []gen
	if coll == model.MatterCollection {
		gens = []gen{{"title", titles}, {"client", texts}, {"status", matterState}, {"description", texts}}
	} else {
		gens = []gen{{"title", titles}, {"body", texts}, {"status", noteStatus}, {"tags", tagLists}}
		if ms := sm.matters(); len(ms) > 0 {
			gens = append(gens, gen{model.MatterField, toAny(ms)})
		}
	}
	if bad {
		gens = []gen{{"title", []any{nil}}, {"colour", []any{"red"}}, {"status", []any{"archived"}}, {model.MatterField, []any{model.NewID(), "m-1"}}}
		if coll == model.MatterCollection {
			gens = gens[:3]
		}
	}
	out := model.Fields{}
	n := rapid.IntRange(1, 3).Draw(t, "nfields")
	for range n {
		g := rapid.SampledFrom(gens).Draw(t, "field")
		out[g.name] = cloneValue(rapid.SampledFrom(g.vals).Draw(t, g.name))
	}
	return out
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// pickRecord draws a record the store has, mostly, or one it had or never saw.
func (sm *storeMachine) pickRecord(t *rapid.T) string {
	if live := sortedKeys(sm.m.recs); len(live) > 0 && rapid.IntRange(0, 4).Draw(t, "gone") > 0 {
		return rapid.SampledFrom(live).Draw(t, "record")
	}
	if len(sm.ids) == 0 {
		t.Skip("no records yet")
	}
	return rapid.SampledFrom(sm.ids).Draw(t, "record")
}

func (sm *storeMachine) seen(id string) {
	if !slices.Contains(sm.ids, id) {
		sm.ids = append(sm.ids, id)
	}
}

// short names a record or op in the trace by the end of its id.
func short(id string) string {
	if len(id) > 4 {
		return id[len(id)-4:]
	}
	return id
}

func expect(t *rapid.T, what string, want errKind, err error) {
	t.Helper()
	if !want.matches(err) {
		t.Fatalf("%s: got error %v, want %s", what, err, want)
	}
}
