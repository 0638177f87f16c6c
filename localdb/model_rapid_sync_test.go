package localdb_test

// The steps of TestStoreModel on the sync side: batches, answers, retries,
// other devices' changes, pulls, revocations, compaction, resets, crashes.

import (
	"context"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"pgregory.net/rapid"

	"casefile/localdb"
	"casefile/model"
	"casefile/protocol"
)

// --- the sync side ---

func (sm *storeMachine) Batch(t *rapid.T) {
	limit := rapid.IntRange(1, 6).Draw(t, "limit")
	next, asJSON := sm.db.NextBatch, rapid.Bool().Draw(t, "as json")
	var cut, wantCut bool
	if asJSON {
		// An answer budget smaller than any result holds a batch to its
		// first op, whatever the records' sizes, and says it was cut when
		// more were due.
		budget, asked := rapid.SampledFrom([]int{0, 1}).Draw(t, "answer budget"), limit
		if budget > 0 {
			limit = 1
			wantCut = len(sm.m.due(asked)) > 1
		}
		next = func(ctx context.Context, now time.Time, _ int) (ops []localdb.OutboxOp, err error) {
			ops, cut, err = sm.db.NextPushBatch(ctx, now, asked, budget)
			return ops, err
		}
	}
	want := sm.m.nextBatch(limit)
	got, err := next(ctx, time.Now(), limit)
	if err != nil {
		t.Fatalf("next batch: %v", err)
	}
	if cut != wantCut {
		t.Fatalf("next batch of %d ops says it was cut by the answer budget: %v, want %v", len(got), cut, wantCut)
	}
	for i := range got {
		sm.handed[got[i].OpID] = append(sm.handed[got[i].OpID], got[i])
		if asJSON {
			if got[i].Fields != nil {
				t.Fatalf("batch op %d: fields decoded as well as in FieldsJSON", i)
			}
			if got[i].Fields, err = localdb.DecodeFieldsJSON(got[i].FieldsJSON); err != nil {
				t.Fatalf("batch op %d: FieldsJSON %q: %v", i, got[i].FieldsJSON, err)
			}
		}
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
		if want[i].restoreMine != nil {
			sm.srv.restores[o.OpID] = want[i].restoreMine
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
	var walls []string // matters lost while their ops' answers were on the way
	for _, o := range inflight {
		op, ok := sm.sent[o.id]
		if !ok {
			t.Fatalf("op %s is syncing but was never handed out", o.id)
		}
		switch rapid.SampledFrom([]string{"server", "server", "server", "refuse", "none", "lost", "overtaken", "walled"}).Draw(t, "answer") {
		case "server":
			results = append(results, sm.srv.push(op))
		case "overtaken":
			// The server decides, then the user loses the record's
			// matter, and the pull that drops it reaches the device
			// before the answer does.
			results = append(results, sm.srv.push(op))
			if m := sm.srv.matterOf(op); m != "" && !sm.srv.hidden[m] && !slices.Contains(walls, m) {
				walls = append(walls, m)
			}
		case "refuse":
			res := rejectedResult(op, protocol.CodeForbidden, "refused for this test")
			if old, ok := sm.srv.ledger[op.OpID]; ok {
				res = old
			}
			sm.srv.ledger[op.OpID] = res
			results = append(results, res)
		case "lost":
			sm.srv.push(op)
		case "walled":
			// The server decides and the answer is lost; the user loses
			// the record's matter; the op, sent again, is answered from
			// the ledger, without the record the user no longer sees.
			sm.srv.push(op)
			if m := sm.srv.matterOf(op); m != "" && !sm.srv.hidden[m] {
				sm.srv.revoke(m)
				t.Logf("> revoke %s before %s is sent again", short(m), short(op.OpID))
			}
			results = append(results, sm.srv.push(op))
		}
	}
	if len(walls) > 0 {
		for _, m := range walls {
			sm.srv.revoke(m)
			t.Logf("> revoke %s while an answer is on the way", short(m))
		}
		sm.pullAll(t)
		stats.overtaken.Add(int64(len(walls)))
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
	// The answers come with the ops as handed out or without them; those
	// given may be any handing out of each, also one the queue has moved
	// past (put back, taken again), whose fields must then be read again.
	if rapid.Bool().Draw(t, "with the ops sent") {
		var sent []localdb.OutboxOp
		results = slices.Clone(results)
		for i, r := range results {
			// A lean answer leaves out the fields its op sent, when the
			// record holds exactly those; it comes with the op as it was
			// sent (its last handing out), as the syncer gives it.
			if h := sm.handed[r.OpID]; len(h) > 0 && holdsSent(t, r, h[len(h)-1]) && rapid.Bool().Draw(t, "lean answer") {
				rec := *r.Record
				rec.Fields = nil
				results[i].Record, results[i].FieldsSent = &rec, true
				sent = append(sent, h[len(h)-1])
				t.Logf("> answer %s lean", short(r.OpID))
				stats.lean.Add(1)
				continue
			}
			if h := sm.handed[r.OpID]; len(h) > 0 && rapid.IntRange(0, 5).Draw(t, "give op") > 0 {
				sent = append(sent, h[len(h)-1-rapid.IntRange(0, len(h)-1).Draw(t, "handing out, from the last")])
			}
		}
		if _, err := sm.db.ApplyPushResultsAndAdvance(ctx, sent, results, 0, 0); err != nil {
			t.Fatalf("apply push results with the ops sent: %v", err)
		}
	} else if err := sm.db.ApplyPushResults(ctx, results); err != nil {
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
	switch race := rapid.SampledFrom([]string{"edit/edit", "edit/edit", "delete/edit", "edit/delete", "edit+delete/edit"}).Draw(t, "race"); race {
	case "edit+delete/edit":
		// Another user changes the record, then deletes it; this device,
		// on its older copy, edits it: the tombstone keeps the other
		// user's change, which a restore must not undo.
		norm := sm.remoteChange(t, r.coll)
		sm.srv.change(s, norm)
		sm.srv.remoteDelete(s)
		stats.editedTombstones.Add(1)
		t.Logf("> remote edit %s %s and delete v%d", short(id), canon(norm), s.version)
		sm.edit(t, id, false)
	case "edit/edit", "delete/edit":
		norm := sm.remoteChange(t, r.coll)
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

// remoteChange draws a valid change of some fields of a record of coll,
// its matter left alone, as another user would make it; a step that draws
// none is skipped.
func (sm *storeMachine) remoteChange(t *rapid.T, coll string) model.Fields {
	changes := sm.fieldChanges(t, coll, false)
	delete(changes, model.MatterField)
	norm, probs := sm.schemaCol(coll).Validate(changes, false)
	if len(probs) > 0 || len(norm) == 0 {
		t.Skip("no valid change")
	}
	return norm
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
	switch rapid.SampledFrom([]string{"create matter", "create note", "edit", "edit", "delete", "move", "restore", "restore out of sight"}).Draw(t, "remote") {
	case "restore out of sight":
		// Another user deletes a note this device holds, the device pulls
		// the tombstone (keeping a copy), then the note is brought back
		// into a matter this user lost: the device, which holds only its
		// kept copy, hears of it by a removal.
		var held []*sRecord
		for _, r := range live {
			if lr := sm.m.recs[r.id]; lr != nil && r.coll == "note" && !sm.srv.hidden[r.matter] && len(sm.m.recordOps(r.id)) == 0 && lr.state == model.StateSynced {
				held = append(held, r)
			}
		}
		if len(held) == 0 {
			t.Skip("no synced note here to bring back out of sight")
		}
		r := rapid.SampledFrom(held).Draw(t, "note")
		var others []string
		for _, m := range matters {
			if m.id != r.matter {
				others = append(others, m.id)
			}
		}
		if len(others) == 0 {
			t.Skip("no other matter to bring it back into")
		}
		to := rapid.SampledFrom(others).Draw(t, "to")
		sm.srv.remoteDelete(r)
		t.Logf("> remote delete %s v%d", short(r.id), r.version)
		sm.pullAll(t)
		if !sm.srv.hidden[to] {
			sm.srv.revoke(to)
			t.Logf("> revoke %s", short(to))
		}
		sm.srv.remoteRestore(r)
		sm.srv.change(r, model.Fields{model.MatterField: to})
		t.Logf("> remote restore %s and move to %s, out of sight, v%d", short(r.id), short(to), r.version)
		stats.restoredOutOfSight.Add(1)
		if rapid.Bool().Draw(t, "pull now") {
			sm.pullAll(t)
		}
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
		norm := sm.remoteChange(t, r.coll)
		sm.srv.change(r, norm)
		t.Logf("> remote edit %s v%d %s", short(r.id), r.version, canon(norm))
	case "delete":
		if len(live) == 0 {
			t.Skip("nothing on the server")
		}
		r := rapid.SampledFrom(live).Draw(t, "rec")
		if n := sm.srv.recs[sm.newestRecord()]; n != nil && !n.deleted && rapid.Bool().Draw(t, "the newest change's") {
			r = n // the record an undo here would take a change of back next
		}
		sm.srv.remoteDelete(r)
		t.Logf("> remote delete %s v%d", short(r.id), r.version)
	case "restore":
		// A tombstone back, a matter's first (a record comes back only
		// into a live matter): a device here that deleted it, and undoes
		// that, finds it back already.
		var dead, matters []*sRecord
		for _, id := range sortedKeys(sm.srv.recs) {
			r := sm.srv.recs[id]
			m := sm.srv.recs[r.matter]
			if r.deleted && (r.coll == model.MatterCollection || (m != nil && !m.deleted)) {
				dead = append(dead, r)
				if r.coll == model.MatterCollection {
					matters = append(matters, r)
				}
			}
		}
		if len(dead) == 0 {
			t.Skip("nothing deleted on the server")
		}
		if len(matters) > 0 && rapid.Bool().Draw(t, "a matter") {
			dead = matters
			// One this device deleted with its records, most of all: its
			// undo then finds the matter back.
			var mine []*sRecord
			for _, r := range matters {
				if slices.ContainsFunc(sm.m.changes, func(ch *mChange) bool { return ch.record == r.id && ch.group != 0 && !ch.undone }) {
					mine = append(mine, r)
				}
			}
			if len(mine) > 0 {
				dead = mine
			}
		}
		r := rapid.SampledFrom(dead).Draw(t, "dead")
		sm.srv.remoteRestore(r)
		t.Logf("> remote restore %s v%d", short(r.id), r.version)
		if r.coll == model.MatterCollection {
			stats.remoteMatters.Add(1)
		}
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
	sm.pull(t, rapid.IntRange(1, 3).Draw(t, "pages"), func() int { return rapid.IntRange(1, 4).Draw(t, "limit") })
}

// pullAll applies what the server has to give, in one page: a page left
// short of a compaction's sequence would be answered cursor_too_old.
func (sm *storeMachine) pullAll(t *rapid.T) {
	sm.pull(t, 1, func() int { return math.MaxInt })
}

func (sm *storeMachine) pull(t *rapid.T, pages int, limit func() int) {
	for range pages {
		if sm.srv.tooOld(sm.m.cursor) {
			// The syncer's answer to cursor_too_old: a full resync.
			stats.resyncs.Add(1)
			sm.Reset(t)
		}
		page := sm.srv.pull(sm.m.cursor, limit())
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
	m := drawMatter(t, ms, "no matter to revoke")
	if id := sm.newestRecord(); slices.Contains(ms, id) && rapid.Bool().Draw(t, "the newest change's") {
		m = id // the matter an undo here would take a change of back next
	}
	sm.srv.revoke(m)
	t.Logf("> revoke %s", short(m))
}

func (sm *storeMachine) Grant(t *rapid.T) {
	m := drawMatter(t, sortedKeys(sm.srv.hidden), "nothing revoked")
	sm.srv.grant(m)
	t.Logf("> grant %s", short(m))
}

// newestRecord is the record of the change an undo would take back next,
// or "".
func (sm *storeMachine) newestRecord() string {
	if i := sm.m.newest(); i >= 0 {
		return sm.m.changes[i].record
	}
	return ""
}

// drawMatter draws one of ms, or skips the step, saying why, when ms is
// empty.
func drawMatter(t *rapid.T, ms []string, why string) string {
	if len(ms) == 0 {
		t.Skip(why)
	}
	return rapid.SampledFrom(ms).Draw(t, "matter")
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
// database file and its WAL taken with no transaction of the model's
// running, which is what a killed process leaves behind.
//
// The handle's own background work goes on meanwhile: its checkpointer
// may copy the WAL into the file, and its search indexer may then write,
// which starts the WAL again from its first frame. Between the copy of
// the file and the copy of the WAL, that left a file from before the
// checkpoint beside a WAL from after it: a database no process ever
// held, with none of the records. A read transaction held across the
// copy keeps the WAL from starting again under it (and a checkpoint from
// writing into the file what the WAL does not hold), as a killed
// process's two files are of one moment.
func (sm *storeMachine) Crash(t *rapid.T) {
	from := sm.path()
	sm.gen++
	if err := os.MkdirAll(filepath.Dir(sm.path()), 0o700); err != nil {
		t.Fatal(err)
	}
	end, err := localdb.HoldSnapshot(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal"} {
		if err := localdb.CopyFile(from+suffix, sm.path()+suffix); err != nil {
			t.Fatal(err)
		}
	}
	end()
	old := sm.db
	sm.open(t)
	old.Close() // only after the copy is open: a clean close would checkpoint first
	sm.m.reopen()
	stats.crashes.Add(1)
	t.Log("> crash and reopen")
}

// Beside is another process opening the database and closing it again
// (a script's casefile command beside the UI): nothing changes, and the
// ops this handle has in flight stay syncing (the next Check holds every
// op's state to the model's).
func (sm *storeMachine) Beside(t *rapid.T) {
	if err := sm.handle(t).Close(); err != nil {
		t.Fatalf("close beside: %v", err)
	}
	stats.beside.Add(1)
	t.Log("> another process opens and closes the database")
}

// holdsSent says whether an answer's record holds exactly the fields op
// sent, so that a server asked for a lean answer leaves them out.
func holdsSent(t *rapid.T, r protocol.OpResult, op localdb.OutboxOp) bool {
	fields := op.Fields
	if op.FieldsJSON != nil {
		var err error
		if fields, err = localdb.DecodeFieldsJSON(op.FieldsJSON); err != nil {
			t.Fatalf("op %s: FieldsJSON %q: %v", op.OpID, op.FieldsJSON, err)
		}
	}
	return r.Record != nil && len(fields) > 0 && canon(r.Record.Fields) == canon(fields)
}

// Repair runs casefile doctor --repair's rebuild on the file as it is:
// the queued ops salvaged from it go back, under their own ids and with
// their marks, into a new database that holds nothing else; the records
// they change stand in for their records until the next pull, from the
// first sequence, brings the server's copies back.
func (sm *storeMachine) Repair(t *rapid.T) {
	from := sm.path()
	var opts []localdb.Option
	if sm.keys != nil {
		opts = append(opts, localdb.WithSealer(sm.keys))
	}
	if err := sm.db.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	s, err := localdb.Salvage(ctx, from, opts...)
	if err != nil {
		t.Fatalf("salvage: %v", err)
	}
	if len(s.Lost) > 0 {
		t.Fatalf("salvage of a whole file lost %q", s.Lost)
	}
	sm.gen++
	sm.open(t)
	if err := sm.db.RestoreOps(ctx, s); err != nil {
		t.Fatalf("restore ops: %v", err)
	}
	sm.m.repair()
	sm.journal = nil
	stats.repairs.Add(1)
	t.Log("> repair")
}

// Unclaim puts back ops a batch handed out and that never reached the
// server, as the syncer does with a batch it took ahead and does not
// send; now and then it gives an older handing out of an op taken again
// since, which must change nothing.
func (sm *storeMachine) Unclaim(t *rapid.T) {
	var give []localdb.OutboxOp
	handed := map[string]int{}
	for _, o := range sm.m.ops {
		h := sm.handed[o.id]
		if o.state != localdb.OpSyncing || len(h) == 0 {
			continue
		}
		if _, reached := sm.srv.ledger[o.id]; reached {
			continue
		}
		if !rapid.Bool().Draw(t, "unclaim "+short(o.id)) {
			continue
		}
		g := h[len(h)-1-rapid.IntRange(0, len(h)-1).Draw(t, "handing out, from the last")]
		give = append(give, g)
		handed[g.OpID] = g.Attempts
	}
	if len(give) == 0 {
		t.Skip("nothing handed out and unsent")
	}
	if err := sm.db.Unclaim(ctx, give); err != nil {
		t.Fatalf("unclaim: %v", err)
	}
	sm.m.unclaim(handed)
	stats.unclaimed.Add(int64(len(give)))
	t.Logf("> unclaim %d ops", len(give))
}
