package localdb_test

import (
	"slices"
	"strings"

	"pgregory.net/rapid"

	"casefile/localdb"
	"casefile/model"
)

// Check compares the database with the model after every step.
func (sm *storeMachine) Check(t *rapid.T) {
	stats.steps.Add(1)
	if len(sm.srv.blind) > 0 {
		t.Fatalf("lost update: %s", sm.srv.blind[0])
	}
	if u := sm.commits.taken(); len(u) > 0 {
		t.Fatalf("%d commits did not wait for the disk, the first by %s", len(u), u[0])
	}
	sm.checkRecords(t)
	sm.checkLeftUnreadable(t)
	sm.checkOutbox(t)
	sm.checkConflicts(t)
	sm.checkNewJournal(t)
}

// checkStatus compares the sync summary: cursor, queue and conflict counts.
func (sm *storeMachine) checkStatus(t *rapid.T) {
	st, err := sm.db.Status(ctx)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if st.Cursor != sm.m.cursor {
		t.Fatalf("cursor %d, want %d", st.Cursor, sm.m.cursor)
	}
	if st.OutboxOps != len(sm.m.ops) || st.Conflicts != len(sm.m.conflicts) {
		t.Fatalf("status counts %d ops %d conflicts, want %d and %d", st.OutboxOps, st.Conflicts, len(sm.m.ops), len(sm.m.conflicts))
	}
	n := 0
	for _, c := range st.Counts {
		n += c
	}
	if n != len(sm.m.recs) {
		t.Fatalf("status counts %d records, want %d", n, len(sm.m.recs))
	}
}

// finalCheck runs the costlier comparisons once a history ends.
func (sm *storeMachine) finalCheck(t *rapid.T) {
	sm.checkStatus(t)
	sm.checkMatters(t)
	sm.checkJournal(t)
	for _, w := range searchWords {
		sm.checkSearch(t, w)
	}
	sm.doctor(t)
}

func (sm *storeMachine) checkRecords(t *rapid.T) {
	got, err := sm.db.List(ctx, localdb.ListQuery{IncludeDeleted: true})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(got) != len(sm.m.recs) {
		var ids []string
		for _, r := range got {
			ids = append(ids, r.ID)
		}
		t.Fatalf("the store has %d records %v, the model %d %v", len(got), ids, len(sm.m.recs), sortedKeys(sm.m.recs))
	}
	for _, r := range got {
		w := sm.m.recs[r.ID]
		switch {
		case w == nil:
			t.Fatalf("record %s is in the store but not in the model", r.ID)
		case r.Collection != w.coll || r.Version != w.version || r.State != w.state || r.Deleted != w.deleted:
			t.Fatalf("record %s: got %s v%d %s deleted=%v, want %s v%d %s deleted=%v", r.ID,
				r.Collection, r.Version, r.State, r.Deleted, w.coll, w.version, w.state, w.deleted)
		case canon(r.Fields) != canon(w.fields):
			t.Fatalf("record %s fields:\n got %s\nwant %s", r.ID, canon(r.Fields), canon(w.fields))
		}
	}
	// The server's copy each record stands on: an op made on it claims to
	// have seen it at the record's version.
	copies, err := sm.db.ServerCopies(ctx)
	if err != nil {
		t.Fatalf("server copies: %v", err)
	}
	for id, r := range sm.m.recs {
		_, held := copies[id]
		if held != (r.base != nil) {
			t.Fatalf("record %s holds a server copy: %v, want %v", id, held, r.base != nil)
		}
	}
	for id, c := range copies {
		w := sm.m.recs[id]
		if canon(c.Fields) != canon(w.base) || c.Deleted != w.baseDeleted {
			t.Fatalf("record %s server copy v%d: got %s deleted=%v, want %s deleted=%v", id, w.version,
				canon(c.Fields), c.Deleted, canon(w.base), w.baseDeleted)
		}
	}
}

// checkMatters: every record is filed under its matter.
func (sm *storeMachine) checkMatters(t *rapid.T) {
	matters := map[string]int{}
	for _, r := range sm.m.recs {
		matters[r.matter]++
	}
	for _, mid := range sortedKeys(matters) {
		if mid == "" {
			// A repair's stand-in for a record it has only a change of
			// is filed under no matter until a pull brings the record;
			// no MatterID filters for those.
			continue
		}
		n, err := sm.db.Count(ctx, localdb.ListQuery{MatterID: mid, IncludeDeleted: true})
		if err != nil {
			t.Fatalf("count: %v", err)
		}
		if n != matters[mid] {
			t.Fatalf("matter %s holds %d records, want %d", mid, n, matters[mid])
		}
	}
}

// checkOutbox compares the queue op by op. An op the model has not named
// yet (new, or renewed after a refusal) takes the store's id, which must
// be one the store never used before: a sent op's id is burnt.
func (sm *storeMachine) checkOutbox(t *rapid.T) {
	got, err := sm.db.Outbox(ctx)
	if err != nil {
		t.Fatalf("outbox: %v", err)
	}
	if len(got) != len(sm.m.ops) {
		t.Fatalf("outbox holds %d ops, want %d:\n%s", len(got), len(sm.m.ops), sm.describeOps(got))
	}
	for i, g := range got {
		w := sm.m.ops[i]
		if w.id == "" {
			if !model.ValidID(g.OpID) || sm.burnt[g.OpID] {
				t.Fatalf("op %d got id %q, which is not a fresh id", i, g.OpID)
			}
			w.id = g.OpID
		}
		sm.burnt[g.OpID] = true
		switch {
		case g.OpID != w.id:
			t.Fatalf("op %d has id %s, want %s (an op's id changed)\n%s", i, g.OpID, w.id, sm.describeOps(got))
		case g.RecordID != w.record || g.Collection != w.coll || g.Kind != w.kind:
			t.Fatalf("op %d: got %s of %s, want %s of %s\n%s", i, g.Kind, g.RecordID, w.kind, w.record, sm.describeOps(got))
		case canon(g.Fields) != canon(w.fields):
			t.Fatalf("op %d (%s %s) fields:\n got %s\nwant %s", i, g.Kind, g.RecordID, canon(g.Fields), canon(w.fields))
		case g.BaseVersion != w.baseVer:
			t.Fatalf("op %d (%s %s) base version %d, want %d", i, g.Kind, g.RecordID, g.BaseVersion, w.baseVer)
		case g.State != w.state || g.Attempts != w.attempts:
			t.Fatalf("op %d (%s %s): %s after %d attempts, want %s after %d\n%s", i, g.Kind, g.RecordID,
				g.State, g.Attempts, w.state, w.attempts, sm.describeOps(got))
		case w.state == localdb.OpFailed && g.ErrorCode != w.code:
			t.Fatalf("op %d failed with code %q, want %q", i, g.ErrorCode, w.code)
		case w.state == localdb.OpFailed && g.LastError == "":
			t.Fatalf("op %d failed without a reason for people", i)
		}
	}
}

func (sm *storeMachine) describeOps(got []localdb.OutboxOp) string {
	var b strings.Builder
	b.WriteString(" store:\n")
	for _, g := range got {
		b.WriteString("  " + g.OpID + " " + string(g.Kind) + " " + g.RecordID + " " + string(g.State) + " " + canon(g.Fields) + "\n")
	}
	b.WriteString(" model:\n")
	for _, w := range sm.m.ops {
		b.WriteString("  " + w.id + " " + string(w.kind) + " " + w.record + " " + string(w.state) + " " + canon(w.fields) + "\n")
	}
	return b.String()
}

func (sm *storeMachine) checkConflicts(t *rapid.T) {
	got, err := sm.db.Conflicts(ctx)
	if err != nil {
		t.Fatalf("conflicts: %v", err)
	}
	if len(got) != len(sm.m.conflicts) {
		t.Fatalf("%d conflicts, want %d", len(got), len(sm.m.conflicts))
	}
	for _, g := range got {
		w := sm.m.conflicts[g.RecordID]
		if w == nil {
			t.Fatalf("conflict of %s is not in the model", g.RecordID)
		}
		if g.OpID != w.OpID || g.Kind != w.Kind || g.BaseVersion != w.BaseVersion || g.TheirsVersion != w.TheirsVersion {
			t.Fatalf("conflict of %s: got op %s %s v%d/v%d, want op %s %s v%d/v%d", g.RecordID,
				g.OpID, g.Kind, g.BaseVersion, g.TheirsVersion, w.OpID, w.Kind, w.BaseVersion, w.TheirsVersion)
		}
		if canon(g.Mine) != canon(w.Mine) || canon(g.Theirs) != canon(w.Theirs) {
			t.Fatalf("conflict of %s: mine/theirs\n got %s %s\nwant %s %s", g.RecordID, canon(g.Mine), canon(g.Theirs), canon(w.Mine), canon(w.Theirs))
		}
		if canonAny(g.Fields) != canonAny(w.Fields) {
			t.Fatalf("conflict of %s fields:\n got %s\nwant %s", g.RecordID, canonAny(g.Fields), canonAny(w.Fields))
		}
	}
}

// checkNewJournal reads only the entries a step added: their number is
// what the step did, their seqs follow the last.
func (sm *storeMachine) checkNewJournal(t *rapid.T) {
	var last int64
	if n := len(sm.journal); n > 0 {
		last = sm.journal[n-1].Seq
	}
	added, err := sm.db.Journal(ctx, localdb.JournalQuery{AfterSeq: last})
	if err != nil {
		t.Fatalf("journal: %v", err)
	}
	slices.Reverse(added)
	if len(sm.journal)+len(added) != sm.m.journal {
		var kinds []string
		for _, e := range added {
			kinds = append(kinds, string(e.Kind)+": "+e.Summary)
		}
		t.Fatalf("the journal has %d entries, want %d; this step added %q", len(sm.journal)+len(added), sm.m.journal, kinds)
	}
	for i, e := range added {
		if e.Seq <= last || (i > 0 && e.Seq <= added[i-1].Seq) {
			t.Fatalf("journal seq %d after %d", e.Seq, last)
		}
	}
	sm.journal = append(sm.journal, added...)
}

// checkJournal: the whole journal still says, entry for entry, what it said
// when each entry was written.
func (sm *storeMachine) checkJournal(t *rapid.T) {
	got, err := sm.db.Journal(ctx, localdb.JournalQuery{})
	if err != nil {
		t.Fatalf("journal: %v", err)
	}
	slices.Reverse(got)
	if len(got) < len(sm.journal) {
		t.Fatalf("the journal shrank from %d to %d entries", len(sm.journal), len(got))
	}
	for i, old := range sm.journal {
		g := got[i]
		// Only a record that left out of sight loses its entries' values.
		redacted := sm.m.leftOutOfSight[old.RecordID] && g.Before == nil && g.After == nil
		if g.Seq != old.Seq || !g.At.Equal(old.At) || g.Kind != old.Kind || g.RecordID != old.RecordID ||
			g.OpID != old.OpID || g.Summary != old.Summary ||
			!redacted && (canon(g.Before) != canon(old.Before) || canon(g.After) != canon(old.After)) {
			t.Fatalf("journal entry %d changed: %+v became %+v", old.Seq, old, g)
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Fatalf("journal seqs out of order: %d after %d", got[i].Seq, got[i-1].Seq)
		}
	}
	if len(got) != sm.m.journal {
		var kinds []string
		for _, e := range got[len(sm.journal):] {
			kinds = append(kinds, string(e.Kind)+": "+e.Summary)
		}
		t.Fatalf("the journal has %d entries, want %d; this step added %q", len(got), sm.m.journal, kinds)
	}
	sm.journal = got
}

// doctor: whatever happened, the store finds nothing to repair.
func (sm *storeMachine) doctor(t *rapid.T) {
	rep, err := sm.db.Doctor(ctx, false)
	if err != nil {
		t.Fatalf("doctor: %v", err)
	}
	// An op kept after its matter was revoked keeps its access_revoked
	// code while its record is away (a retry is refused, an answer leaves
	// it), so Doctor never calls it orphaned: any problem is a real one.
	if len(rep.Problems) > 0 {
		t.Fatalf("doctor found problems: %q", rep.Problems)
	}
}

// checkLeftUnreadable: a record that left the device out of its user's
// sight and is not back keeps no value in the journal, once no op of it
// is left in the outbox (an op kept as failed is the user's own unsent
// work, and may keep the entry it names).
func (sm *storeMachine) checkLeftUnreadable(t *rapid.T) {
	for _, id := range sortedKeys(sm.m.gone) {
		if !sm.m.gone[id].outOfSight || sm.m.recs[id] != nil || len(sm.m.recordOps(id)) > 0 {
			continue
		}
		entries, err := sm.db.Journal(ctx, localdb.JournalQuery{RecordID: id})
		if err != nil {
			t.Fatalf("journal: %v", err)
		}
		for _, e := range entries {
			if e.Before != nil || e.After != nil {
				t.Fatalf("record %s left out of sight, and its journal entry %d (%s, %q) still holds before %v after %v",
					short(id), e.Seq, e.Kind, e.Summary, e.Before, e.After)
			}
		}
		stats.leftUnreadable.Add(1)
	}
}
