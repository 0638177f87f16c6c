package localdb_test

// A small stand-in for the sync server, used by TestStoreModel to answer
// pushes and serve pull pages the way the real server would: versions and
// change sequences it assigns, the field merge of model.ThreeWay, a ledger
// that replays an op id's first answer, matters this user loses access to,
// and changes made by other users.

import (
	"fmt"
	"slices"
	"time"

	"casefile/model"
	"casefile/protocol"
)

type sRecord struct {
	id, coll, matter string
	version, seq     int64
	fields           model.Fields
	fver             map[string]int64
	deleted          bool
}

// sEvent is a removal (a record moved to a matter the user cannot see) or
// a lost matter, at its change sequence.
type sEvent struct {
	seq      int64
	recordID string // removal
	matterID string // removal: the matter it left; drop: the matter lost
	drop     bool
}

type fakeServer struct {
	schema *model.Schema
	recs   map[string]*sRecord
	seq    int64
	hidden map[string]bool // matters this user lost
	events []sEvent
	ledger map[string]protocol.OpResult
	// seen holds, per update op id, what its author saw of each changed
	// field: the value shown and the server copy's value under it. blind
	// lists updates that overwrote a value their author never saw.
	seen  map[string][2]model.Fields
	blind []string
	// restores holds, per restore op id, the fields its author changed:
	// every other field must come back as the tombstone kept it.
	restores map[string]map[string]bool
	// compacted is the sequence through which tombstones and events are
	// forgotten; a pull from an older cursor must start again from 0.
	compacted int64
	// graves are the tombstones compaction forgot, as the server keeps
	// them: a restore reads where the record was and how far its
	// versions went.
	graves map[string]*sRecord
	// oldReplays: the server is one before hidden conflicts were refused
	// (see replay).
	oldReplays bool
}

func newFakeServer(s *model.Schema) *fakeServer {
	return &fakeServer{schema: s, recs: map[string]*sRecord{}, hidden: map[string]bool{},
		ledger: map[string]protocol.OpResult{}, seen: map[string][2]model.Fields{}, restores: map[string]map[string]bool{},
		graves: map[string]*sRecord{}}
}

func (s *fakeServer) wire(r *sRecord) *protocol.Record {
	return &protocol.Record{ID: r.id, Collection: r.coll, MatterID: r.matter, Version: r.version, Seq: r.seq,
		Deleted: r.deleted, Fields: r.fields.Clone(), CreatedBy: "alice", UpdatedBy: "alice",
		UpdatedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.seq) * time.Second)}
}

// visible reports whether the user sees a record now.
func (s *fakeServer) visible(r *sRecord) bool { return !s.hidden[r.matter] }

// matterOf is the matter the server holds op's record in, after the op:
// "" when it holds none (a create it refused).
func (s *fakeServer) matterOf(op model.Op) string {
	if r := s.recs[op.RecordID]; r != nil {
		return r.matter
	}
	return ""
}

func (s *fakeServer) usableMatter(id string) bool {
	m := s.recs[id]
	return m != nil && m.coll == model.MatterCollection && !m.deleted && !s.hidden[id]
}

func rejectedResult(op model.Op, code protocol.Code, msg string) protocol.OpResult {
	return protocol.OpResult{OpID: op.OpID, Result: model.ResultRejected, Code: code, Message: msg}
}

// push applies one op as the user and returns the answer; a known op id
// gets its first answer again.
func (s *fakeServer) push(op model.Op) protocol.OpResult {
	if res, ok := s.ledger[op.OpID]; ok {
		return s.replay(op, res)
	}
	res := s.apply(op)
	s.ledger[op.OpID] = res
	return res
}

// replay is a stored answer as the server gives it again: a record the
// user no longer sees (its matter lost, in the answer or now) is left
// out, and a conflict over one is answered as the op would be now, "no
// such record" — by a server before that (oldReplays), without its
// record, as the client must read the same way.
func (s *fakeServer) replay(op model.Op, res protocol.OpResult) protocol.OpResult {
	if res.Record == nil {
		return res
	}
	hidden := s.hidden[res.Record.MatterID]
	if cur := s.recs[res.Record.ID]; cur != nil && !s.visible(cur) {
		hidden = true
	}
	if !hidden {
		return res
	}
	if res.Result == model.ResultConflict {
		stats.hiddenConflicts.Add(1)
		if !s.oldReplays {
			return rejectedResult(op, protocol.CodeNotFound, "No such record.")
		}
	}
	res.Record = nil
	return res
}

func (s *fakeServer) apply(op model.Op) protocol.OpResult {
	col, ok := s.schema.Collection(op.Collection)
	if !ok {
		return rejectedResult(op, protocol.CodeValidation, "No such collection.")
	}
	cur := s.recs[op.RecordID]
	switch op.Kind {
	case model.OpCreate:
		fields, probs := col.Validate(op.Fields, true)
		if len(probs) > 0 {
			return rejectedResult(op, protocol.CodeValidation, probs.Error())
		}
		// A create on no version of a record the user sees (a backup
		// restored, a create sent again) changes nothing: the server's
		// copy stands, a tombstone or a grave stays deleted.
		if cur != nil && s.visible(cur) && cur.coll == col.Name && op.BaseVersion == 0 {
			return s.alreadyHere(op, col, s.wire(cur), fields)
		}
		if cur != nil && (!cur.deleted || !s.visible(cur) || cur.coll != col.Name || op.BaseVersion != cur.version) {
			return rejectedResult(op, protocol.CodeIDConflict, "A record with this id already exists.")
		}
		// A create of a tombstone compaction forgot: its grave has the
		// tombstone's rules.
		g := s.graves[op.RecordID]
		if cur == nil && g != nil && (!s.visible(g) || g.coll != col.Name) {
			return rejectedResult(op, protocol.CodeIDConflict, "A record with this id already exists.")
		}
		if cur == nil && g != nil && op.BaseVersion == 0 {
			return s.alreadyHere(op, col, &protocol.Record{ID: g.id, Collection: g.coll, MatterID: g.matter, Version: g.version, Deleted: true}, fields)
		}
		matter := model.MatterOf(col.Name, op.RecordID, fields)
		if col.Name != model.MatterCollection && !s.usableMatter(matter) {
			return rejectedResult(op, protocol.CodeNotFound, "No such matter.")
		}
		r := &sRecord{id: op.RecordID, coll: col.Name, matter: matter, version: 1, fields: fields, fver: map[string]int64{}}
		if cur == nil && op.BaseVersion > 0 {
			// It comes back after every version it had, so that no device
			// that saw the tombstone takes it for older news.
			r.version = op.BaseVersion + 1
			if g != nil {
				r.version = max(op.BaseVersion, g.version) + 1
			}
		}
		if mine, ok := s.restores[op.OpID]; ok && cur != nil {
			s.revertedBy(op, cur, fields, mine)
		}
		if cur != nil {
			r.version = cur.version + 1
			for k := range cur.fields {
				r.fver[k] = r.version
			}
		}
		for k := range fields {
			r.fver[k] = r.version
		}
		s.seq++
		r.seq = s.seq
		s.recs[r.id] = r
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: s.wire(r)}
	case model.OpUpdate:
		if cur == nil || !s.visible(cur) || cur.coll != op.Collection {
			return rejectedResult(op, protocol.CodeNotFound, "No such record.")
		}
		if cur.deleted {
			var names []string
			for k := range op.Fields {
				names = append(names, k)
			}
			slices.Sort(names)
			return protocol.OpResult{OpID: op.OpID, Result: model.ResultConflict, Record: s.wire(cur),
				ConflictFields: names, Message: "The record was deleted on the server."}
		}
		if op.BaseVersion > cur.version {
			return rejectedResult(op, protocol.CodeValidation, "The op is based on a version the server never had.")
		}
		changes, probs := col.Validate(op.Fields, false)
		if len(probs) > 0 {
			return rejectedResult(op, protocol.CodeValidation, probs.Error())
		}
		m := model.ThreeWay(col, cur.version, cur.fields, cur.fver, op.BaseVersion, changes)
		if len(m.Conflicts) > 0 {
			return protocol.OpResult{OpID: op.OpID, Result: model.ResultConflict, Record: s.wire(cur),
				ConflictFields: m.Conflicts, Message: "The record changed on the server."}
		}
		result := model.ResultApplied
		if m.Merged {
			result = model.ResultMerged
		}
		if v, ok := m.Apply[model.MatterField]; ok {
			if mid, _ := v.(string); !s.usableMatter(mid) {
				return rejectedResult(op, protocol.CodeNotFound, "No such matter.")
			}
		}
		for f := range m.Apply {
			seen, ok := s.seen[op.OpID]
			if ok && cur.fver[f] <= op.BaseVersion && !model.Equal(seen[0][f], cur.fields[f]) && !model.Equal(seen[1][f], cur.fields[f]) {
				s.blind = append(s.blind, fmt.Sprintf("op %s set %s.%s over %v, a value its author never saw (they saw %v over %v)",
					op.OpID, op.RecordID, f, cur.fields[f], seen[0][f], seen[1][f]))
			}
		}
		if len(m.Apply) == 0 {
			return protocol.OpResult{OpID: op.OpID, Result: result, Record: s.wire(cur)}
		}
		s.change(cur, m.Apply)
		return protocol.OpResult{OpID: op.OpID, Result: result, Record: s.wire(cur)}
	default:
		if cur == nil || !s.visible(cur) || cur.coll != op.Collection {
			return rejectedResult(op, protocol.CodeNotFound, "No such record.")
		}
		if cur.deleted {
			return protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: s.wire(cur)}
		}
		if op.BaseVersion > cur.version {
			return rejectedResult(op, protocol.CodeValidation, "The op is based on a version the server never had.")
		}
		var changed []string
		for k, v := range cur.fver {
			if v > op.BaseVersion {
				changed = append(changed, k)
			}
		}
		if len(changed) > 0 {
			slices.Sort(changed)
			return protocol.OpResult{OpID: op.OpID, Result: model.ResultConflict, Record: s.wire(cur),
				ConflictFields: changed, Message: "The record changed on the server."}
		}
		s.seq++
		cur.deleted, cur.version, cur.seq = true, cur.version+1, s.seq
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: s.wire(cur)}
	}
}

// revertedBy notes, as a lost update, every field a restore sets to
// other than the tombstone's value without its author having changed it:
// a value of another user's the restore would undo.
// alreadyHere answers a create of a record the user already sees on the
// server, old as the server holds it: nothing changes, and the answer is
// applied when the create holds the same values, merged naming the values
// that lost when not. The answer's record is the server's copy; a
// tombstone's stays deleted.
func (s *fakeServer) alreadyHere(op model.Op, col *model.Collection, old *protocol.Record, fields model.Fields) protocol.OpResult {
	stats.alreadyHere.Add(1)
	res := protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: old}
	for i := range col.Fields {
		name := col.Fields[i].Name
		if old.Deleted && fields[name] != nil || !old.Deleted && !model.Equal(old.Fields[name], fields[name]) {
			res.Dropped = append(res.Dropped, name)
		}
	}
	switch {
	case old.Deleted:
		res.Result, res.Message = model.ResultMerged, "The server already had this record and it was deleted there; it stays deleted."
	case len(res.Dropped) > 0:
		res.Result, res.Message = model.ResultMerged, "The server already had this record; its copy stands."
	}
	return res
}

func (s *fakeServer) revertedBy(op model.Op, tomb *sRecord, fields model.Fields, mine map[string]bool) {
	names := map[string]bool{}
	for _, set := range []model.Fields{tomb.fields, fields} {
		for f := range set {
			names[f] = true
		}
	}
	for _, f := range sortedKeys(names) {
		if !mine[f] && !model.Equal(fields[f], tomb.fields[f]) {
			s.blind = append(s.blind, fmt.Sprintf("restore %s set %s.%s to %v over the server's %v, a change its author never made",
				op.OpID, op.RecordID, f, fields[f], tomb.fields[f]))
		}
	}
}

// change writes field changes as a new version.
func (s *fakeServer) change(r *sRecord, apply model.Fields) {
	s.seq++
	r.version, r.seq = r.version+1, s.seq
	r.fields = r.fields.Clone()
	if r.fields == nil {
		r.fields = model.Fields{}
	}
	for k, v := range apply {
		if v == nil {
			delete(r.fields, k)
		} else {
			r.fields[k] = v
		}
		r.fver[k] = r.version
	}
	if mid, ok := apply[model.MatterField].(string); ok && mid != r.matter {
		from := r.matter
		r.matter = mid
		if !s.hidden[from] && s.hidden[mid] {
			s.events = append(s.events, sEvent{seq: r.seq, recordID: r.id, matterID: from})
		}
	}
}

// remoteCreate adds a record made by another user.
func (s *fakeServer) remoteCreate(id, coll string, fields model.Fields) {
	r := &sRecord{id: id, coll: coll, version: 1, fields: fields, fver: map[string]int64{}}
	r.matter = model.MatterOf(coll, id, fields)
	for k := range fields {
		r.fver[k] = 1
	}
	s.seq++
	r.seq = s.seq
	s.recs[id] = r
}

// remoteDelete deletes a record as another user.
func (s *fakeServer) remoteDelete(r *sRecord) {
	s.seq++
	r.deleted, r.version, r.seq = true, r.version+1, s.seq
}

// remoteRestore brings a tombstone back, as another device's undo or
// resolution does: live again, on a new version.
func (s *fakeServer) remoteRestore(r *sRecord) {
	s.seq++
	r.deleted, r.version, r.seq = false, r.version+1, s.seq
	for k := range r.fields {
		r.fver[k] = r.version
	}
}

// revoke takes a matter away from the user.
func (s *fakeServer) revoke(matterID string) {
	s.seq++
	s.hidden[matterID] = true
	s.events = append(s.events, sEvent{seq: s.seq, matterID: matterID, drop: true})
}

// grant gives a matter back: its records take new sequences so they reach
// the next pull.
func (s *fakeServer) grant(matterID string) {
	delete(s.hidden, matterID)
	for _, id := range sortedKeys(s.recs) {
		if r := s.recs[id]; r.matter == matterID {
			s.seq++
			r.seq = s.seq
		}
	}
}

// compact forgets tombstones and events, as the server does after its retention.
func (s *fakeServer) compact() {
	for id, r := range s.recs {
		if r.deleted {
			s.graves[id] = r
			delete(s.recs, id)
		}
	}
	s.events = nil
	s.compacted = s.seq
}

// tooOld reports whether a pull from cursor would be answered cursor_too_old.
func (s *fakeServer) tooOld(cursor int64) bool {
	return cursor > 0 && cursor < s.compacted
}

// pull returns the page after cursor holding at most limit items.
func (s *fakeServer) pull(cursor int64, limit int) protocol.PullResponse {
	type item struct {
		seq int64
		rec *sRecord
		ev  *sEvent
	}
	var items []item
	for _, r := range s.recs {
		if r.seq > cursor && s.visible(r) {
			items = append(items, item{seq: r.seq, rec: r})
		}
	}
	for i := range s.events {
		e := &s.events[i]
		if e.seq <= cursor {
			continue
		}
		if e.drop && s.hidden[e.matterID] {
			items = append(items, item{seq: e.seq, ev: e})
		}
		if !e.drop {
			if r := s.recs[e.recordID]; r != nil && !s.visible(r) && !s.hidden[e.matterID] {
				items = append(items, item{seq: e.seq, ev: e})
			}
		}
	}
	slices.SortFunc(items, func(a, b item) int { return int(a.seq - b.seq) })
	page := protocol.PullResponse{Records: []protocol.Record{}, Cursor: s.seq, Head: s.seq}
	if len(items) > limit {
		items = items[:limit]
		page.More = true
		page.Cursor = items[len(items)-1].seq
	}
	for _, it := range items {
		switch {
		case it.rec != nil:
			page.Records = append(page.Records, *s.wire(it.rec))
		case it.ev.drop:
			page.DroppedMatters = append(page.DroppedMatters, it.ev.matterID)
		default:
			page.Removed = append(page.Removed, protocol.Removal{ID: it.ev.recordID, MatterID: it.ev.matterID})
		}
	}
	return page
}
