package localdb_test

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"casefile/assets"
	"casefile/localdb"
	"casefile/model"
	"casefile/protocol"
)

// TestStoreModel runs random histories of user writes, sync answers, pulls,
// crashes and resolutions against a real database file and checks, after
// every step, that records, their states, the outbox, the conflicts, the
// cursor and the journal are exactly what the in-memory model says.
//
// Replay a failure with the seed it prints: go test ./localdb -run TestStoreModel -rapid.seed=N
func TestStoreModel(t *testing.T) {
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
			burnt: map[string]bool{}, sent: map[string]model.Op{}}
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
	t.Logf("%d histories, %d steps: %d pushes answered (%d conflicts: %d edit, %d edit_deleted, %d delete_edit), "+
		"%d resolved, %d pull pages (%d records dropped for lost access), %d crashes, %d full resyncs",
		stats.histories.Load(), stats.steps.Load(), stats.answers.Load(), stats.conflicts[0].Load()+stats.conflicts[1].Load()+stats.conflicts[2].Load(),
		stats.conflicts[0].Load(), stats.conflicts[1].Load(), stats.conflicts[2].Load(),
		stats.resolved.Load(), stats.pages.Load(), stats.dropped.Load(), stats.crashes.Load(), stats.resyncs.Load())
}

// stats counts what the histories exercised, so a run shows it reached the
// interesting cases.
var stats struct {
	histories, steps, answers, resolved, pages, dropped, crashes, resyncs atomic.Int64
	conflicts                                                             [3]atomic.Int64 // edit, edit_deleted, delete_edit
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
		{"CreateMatter", 1, sm.CreateMatter}, {"CreateNote", 2, sm.CreateNote}, {"CreateBad", 1, sm.CreateBad},
		{"Edit", 3, sm.Edit}, {"Coalesce", 1, sm.Coalesce}, {"Delete", 1, sm.Delete},
		{"Batch", 2, sm.Batch}, {"Answer", 2, sm.Answer}, {"Sync", 3, sm.Sync}, {"Retry", 1, sm.Retry},
		{"Remote", 3, sm.Remote}, {"Race", 3, sm.Race}, {"Pull", 2, sm.Pull}, {"Revoke", 1, sm.Revoke}, {"Grant", 1, sm.Grant},
		{"Compact", 1, sm.Compact}, {"Reset", 1, sm.Reset}, {"Crash", 1, sm.Crash},
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
	journal []localdb.JournalEntry // as last read, oldest first
	burnt   map[string]bool        // every op id the store ever used
	sent    map[string]model.Op    // ops as last handed to the server, by op id
	ids     []string               // every record id ever seen, for edits of missing records
}

func (sm *storeMachine) path() string {
	return filepath.Join(sm.dir, fmt.Sprintf("gen%d", sm.gen), "casefile.db")
}

func (sm *storeMachine) open(t *rapid.T) {
	if err := os.MkdirAll(filepath.Dir(sm.path()), 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := localdb.Open(ctx, sm.path(), sm.schema)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	sm.db = db
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

// --- user writes ---

func (sm *storeMachine) CreateMatter(t *rapid.T) {
	fields := model.Fields{"title": rapid.SampledFrom(titles).Draw(t, "title"),
		"status": rapid.SampledFrom(matterState).Draw(t, "status")}
	sm.create(t, model.MatterCollection, fields)
}

func (sm *storeMachine) CreateNote(t *rapid.T) {
	ms := sm.matters()
	if len(ms) == 0 {
		t.Skip("no matter")
	}
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
		sm.seen(rec.ID)
	}
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

func (sm *storeMachine) deleteRecord(t *rapid.T, id string) {
	want := sm.m.delete(id)
	err := sm.db.Delete(ctx, id)
	t.Logf("> delete %s: %v", short(id), err)
	expect(t, "delete "+id, want, err)
}

// --- the sync side ---

func (sm *storeMachine) Batch(t *rapid.T) {
	limit := rapid.IntRange(1, 6).Draw(t, "limit")
	want := sm.m.nextBatch(limit)
	got, err := sm.db.NextBatch(ctx, time.Now(), limit)
	if err != nil {
		t.Fatalf("next batch: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("next batch gave %d ops, want %d", len(got), len(want))
	}
	for i, o := range got {
		if want[i].id == "" && model.ValidID(o.OpID) && !sm.burnt[o.OpID] {
			want[i].id = o.OpID // an op made in this same step, not yet named
			sm.burnt[o.OpID] = true
		}
		if o.OpID != want[i].id || o.State != localdb.OpSyncing || o.Attempts != want[i].attempts {
			t.Fatalf("batch op %d: got %s %s attempts %d, want %s attempts %d", i, o.OpID, o.State, o.Attempts, want[i].id, want[i].attempts)
		}
		sm.sent[o.OpID] = o.Op
		t.Logf("> send %s %s %s base %d %s", short(o.OpID), o.Kind, short(o.RecordID), o.BaseVersion, canon(o.Fields))
		if o.Kind == model.OpUpdate {
			sm.srv.seen[o.OpID] = [2]model.Fields{want[i].baseVals.Clone(), want[i].baseView.Clone()}
		}
	}
}

// Sync sends a batch and gets every answer from the server.
func (sm *storeMachine) Sync(t *rapid.T) {
	sm.Batch(t)
	var results []protocol.OpResult
	for _, o := range sm.m.ops {
		if o.state == localdb.OpSyncing {
			results = append(results, sm.srv.push(sm.sent[o.id]))
		}
	}
	sm.apply(t, results)
}

// Answer answers the ops in flight as the server would: each is decided by
// the server, refused, left unanswered, or applied with its answer lost.
func (sm *storeMachine) Answer(t *rapid.T) {
	var inflight []*mOp
	for _, o := range sm.m.ops {
		if o.state == localdb.OpSyncing {
			inflight = append(inflight, o)
		}
	}
	if len(inflight) == 0 {
		t.Skip("nothing in flight")
	}
	var results []protocol.OpResult
	for _, o := range inflight {
		op, ok := sm.sent[o.id]
		if !ok {
			t.Fatalf("op %s is syncing but was never handed out", o.id)
		}
		switch rapid.SampledFrom([]string{"server", "server", "server", "refuse", "none", "lost"}).Draw(t, "answer") {
		case "server":
			results = append(results, sm.srv.push(op))
		case "refuse":
			res := rejectedResult(op, protocol.CodeForbidden, "refused for this test")
			if old, ok := sm.srv.ledger[op.OpID]; ok {
				res = old
			}
			sm.srv.ledger[op.OpID] = res
			results = append(results, res)
		case "lost":
			sm.srv.push(op)
		}
	}
	sm.apply(t, results)
}

func (sm *storeMachine) apply(t *rapid.T, results []protocol.OpResult) {
	for _, r := range results {
		line := fmt.Sprintf("> answer %s: %s %s %s %v", short(r.OpID), r.Result, r.Code, r.Message, r.ConflictFields)
		if r.Record != nil {
			line += fmt.Sprintf(" record %s v%d deleted=%v %s", short(r.Record.ID), r.Record.Version, r.Record.Deleted, canon(r.Record.Fields))
		}
		t.Log(line)
	}
	before := maps.Clone(sm.m.conflicts)
	sm.m.applyResults(results)
	if err := sm.db.ApplyPushResults(ctx, results); err != nil {
		t.Fatalf("apply push results: %v", err)
	}
	stats.answers.Add(int64(len(results)))
	for id, c := range sm.m.conflicts {
		if before[id] != c {
			stats.conflicts[slices.Index([]model.ConflictKind{model.ConflictEdit, model.ConflictEditDeleted, model.ConflictDeleteEdit}, c.Kind)].Add(1)
		}
	}
}

// Retry returns some ops in flight to the queue after a failed send.
func (sm *storeMachine) Retry(t *rapid.T) {
	var ids []string
	for _, o := range sm.m.ops {
		if o.state == localdb.OpSyncing && rapid.Bool().Draw(t, "pick") {
			ids = append(ids, o.id)
		}
	}
	if rapid.Bool().Draw(t, "stale") && len(sm.m.ops) > 0 {
		ids = append(ids, rapid.SampledFrom(sm.m.ops).Draw(t, "op").id) // not syncing: ignored
	}
	due := rapid.Bool().Draw(t, "due")
	next := time.Now().Add(time.Hour)
	if due {
		next = time.Now().Add(-time.Hour)
	}
	sm.m.markRetry(ids, due)
	t.Logf("> retry later %v due=%v", ids, due)
	if err := sm.db.MarkRetry(ctx, ids, "connection reset", next); err != nil {
		t.Fatalf("mark retry: %v", err)
	}
}

// Race makes a change here and another device's change of the same record
// on the server, then syncs: the usual way to a conflict.
func (sm *storeMachine) Race(t *rapid.T) {
	var ids []string
	for _, id := range sortedKeys(sm.m.recs) {
		r, s := sm.m.recs[id], sm.srv.recs[id]
		if s != nil && !s.deleted && r.base != nil && !r.deleted && r.state != model.StateConflict {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		t.Skip("no record both sides have")
	}
	id := rapid.SampledFrom(ids).Draw(t, "record")
	r, s := sm.m.recs[id], sm.srv.recs[id]
	switch rapid.SampledFrom([]string{"edit/edit", "edit/edit", "delete/edit", "edit/delete"}).Draw(t, "race") {
	case "edit/edit", "delete/edit":
		changes := sm.fieldChanges(t, r.coll, false)
		delete(changes, model.MatterField)
		norm, probs := sm.schemaCol(r.coll).Validate(changes, false)
		if len(probs) > 0 || len(norm) == 0 {
			t.Skip("no valid change")
		}
		sm.srv.change(s, norm)
		t.Logf("> remote edit %s v%d %s", short(id), s.version, canon(norm))
		if rapid.Bool().Draw(t, "delete") {
			sm.deleteRecord(t, id)
		} else {
			sm.edit(t, id, false)
		}
	default:
		sm.srv.remoteDelete(s)
		t.Logf("> remote delete %s v%d", short(id), s.version)
		sm.edit(t, id, false)
	}
	sm.Sync(t)
}

// Remote changes the server as another user would.
func (sm *storeMachine) Remote(t *rapid.T) {
	var live, matters []*sRecord
	for _, id := range sortedKeys(sm.srv.recs) {
		r := sm.srv.recs[id]
		if !r.deleted {
			live = append(live, r)
			if r.coll == model.MatterCollection {
				matters = append(matters, r)
			}
		}
	}
	switch rapid.SampledFrom([]string{"create matter", "create note", "edit", "edit", "delete", "move"}).Draw(t, "remote") {
	case "create matter":
		id := model.NewID()
		sm.srv.remoteCreate(id, model.MatterCollection, model.Fields{"title": rapid.SampledFrom(titles).Draw(t, "title")})
		sm.seen(id)
	case "create note":
		if len(matters) == 0 {
			t.Skip("no matter on the server")
		}
		id, m := model.NewID(), rapid.SampledFrom(matters).Draw(t, "matter")
		sm.srv.remoteCreate(id, "note", model.Fields{model.MatterField: m.id, "title": rapid.SampledFrom(titles).Draw(t, "title")})
		sm.seen(id)
	case "edit":
		if len(live) == 0 {
			t.Skip("nothing on the server")
		}
		r := rapid.SampledFrom(live).Draw(t, "rec")
		if busy := sm.busy(live); len(busy) > 0 && rapid.Bool().Draw(t, "busy") {
			r = rapid.SampledFrom(busy).Draw(t, "busy rec") // one with changes queued here: a likely conflict
		}
		changes := sm.fieldChanges(t, r.coll, false)
		delete(changes, model.MatterField)
		norm, probs := sm.schemaCol(r.coll).Validate(changes, false)
		if len(probs) > 0 || len(norm) == 0 {
			t.Skip("no valid change")
		}
		sm.srv.change(r, norm)
		t.Logf("> remote edit %s v%d %s", short(r.id), r.version, canon(norm))
	case "delete":
		if len(live) == 0 {
			t.Skip("nothing on the server")
		}
		r := rapid.SampledFrom(live).Draw(t, "rec")
		sm.srv.remoteDelete(r)
		t.Logf("> remote delete %s v%d", short(r.id), r.version)
	case "move":
		var notes []*sRecord
		for _, r := range live {
			if r.coll == "note" {
				notes = append(notes, r)
			}
		}
		if len(notes) == 0 || len(matters) < 2 {
			t.Skip("nothing to move")
		}
		r, m := rapid.SampledFrom(notes).Draw(t, "note"), rapid.SampledFrom(matters).Draw(t, "to")
		if m.id == r.matter {
			t.Skip("same matter")
		}
		sm.srv.change(r, model.Fields{model.MatterField: m.id})
		t.Logf("> remote move %s v%d to %s", short(r.id), r.version, short(m.id))
	}
}

// busy returns the server records that have ops queued on this device.
func (sm *storeMachine) busy(live []*sRecord) []*sRecord {
	var out []*sRecord
	for _, r := range live {
		if len(sm.m.recordOps(r.id)) > 0 {
			out = append(out, r)
		}
	}
	return out
}

func (sm *storeMachine) schemaCol(name string) *model.Collection {
	c, _ := sm.schema.Collection(name)
	return c
}

// Pull applies one to three pages of the server's changes.
func (sm *storeMachine) Pull(t *rapid.T) {
	pages := rapid.IntRange(1, 3).Draw(t, "pages")
	for range pages {
		if sm.srv.tooOld(sm.m.cursor) {
			// The syncer's answer to cursor_too_old: a full resync.
			stats.resyncs.Add(1)
			sm.Reset(t)
		}
		page := sm.srv.pull(sm.m.cursor, rapid.IntRange(1, 4).Draw(t, "limit"))
		for _, r := range page.Records {
			sm.seen(r.ID)
		}
		for _, r := range page.Records {
			t.Logf("> pulled %s v%d deleted=%v %s", short(r.ID), r.Version, r.Deleted, canon(r.Fields))
		}
		t.Logf("> pull page removed %v dropped %v cursor %d more %v", page.Removed, page.DroppedMatters, page.Cursor, page.More)
		n := len(sm.m.recs)
		sm.m.applyPull(page)
		stats.pages.Add(1)
		if len(page.Removed)+len(page.DroppedMatters) > 0 {
			stats.dropped.Add(int64(max(0, n+len(page.Records)-len(sm.m.recs))))
		}
		if err := sm.db.ApplyPull(ctx, page); err != nil {
			t.Fatalf("apply pull: %v", err)
		}
		if !page.More {
			break
		}
	}
	sm.checkStatus(t)
}

// Compact makes the server forget its tombstones.
func (sm *storeMachine) Compact(t *rapid.T) {
	sm.srv.compact()
	t.Log("> server compacts")
}

// Revoke takes a matter away from the user; Grant gives one back.
func (sm *storeMachine) Revoke(t *rapid.T) {
	var ms []string
	for _, id := range sortedKeys(sm.srv.recs) {
		if r := sm.srv.recs[id]; r.coll == model.MatterCollection && !sm.srv.hidden[id] {
			ms = append(ms, id)
		}
	}
	if len(ms) == 0 {
		t.Skip("no matter to revoke")
	}
	m := rapid.SampledFrom(ms).Draw(t, "matter")
	sm.srv.revoke(m)
	t.Logf("> revoke %s", short(m))
}

func (sm *storeMachine) Grant(t *rapid.T) {
	hidden := sortedKeys(sm.srv.hidden)
	if len(hidden) == 0 {
		t.Skip("nothing revoked")
	}
	m := rapid.SampledFrom(hidden).Draw(t, "matter")
	sm.srv.grant(m)
	t.Logf("> grant %s", short(m))
}

func (sm *storeMachine) Reset(t *rapid.T) {
	t.Log("> reset cursor")
	sm.m.resetCursor()
	if err := sm.db.ResetCursor(ctx); err != nil {
		t.Fatalf("reset cursor: %v", err)
	}
	sm.checkStatus(t)
}

// Crash abandons the open handle and opens what is on disk: a copy of the
// database file and its WAL taken with no transaction running, which is
// what a killed process leaves behind.
func (sm *storeMachine) Crash(t *rapid.T) {
	from := sm.path()
	sm.gen++
	if err := os.MkdirAll(filepath.Dir(sm.path()), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal"} {
		if err := copyFile(from+suffix, sm.path()+suffix); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	old := sm.db
	sm.open(t)
	old.Close() // only after the copy is open: a clean close would checkpoint first
	sm.m.reopen()
	stats.crashes.Add(1)
	t.Log("> crash and reopen")
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
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
