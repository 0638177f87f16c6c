package localdb_test

// The in-memory client model, continued: what the store does with the
// server's answers and pages.

import (
	"slices"

	"casefile/localdb"
	"casefile/model"
	"casefile/protocol"
)

// normalizeWire is a server record's fields in their local form.
func (m *clientModel) normalizeWire(coll string, in model.Fields) model.Fields {
	col := m.col(coll)
	out := model.Fields{}
	for k, v := range in {
		if col != nil {
			if f, ok := col.Field(k); ok {
				if nv, err := f.Normalize(v); err == nil {
					v = nv
				}
			}
		}
		if v != nil {
			out[k] = cloneValue(v)
		}
	}
	return out
}

// setBase takes a server copy unless the row holds a newer one.
func (m *clientModel) setBase(r *mRecord, sr *protocol.Record) {
	if sr == nil || sr.Version < r.version {
		return
	}
	if !sr.Deleted || sr.Fields != nil {
		r.base = m.normalizeWire(r.coll, sr.Fields)
	}
	if r.base == nil {
		r.base = model.Fields{}
	}
	r.version, r.baseDeleted, r.mark = sr.Version, sr.Deleted, false
}

// applyResults models ApplyPushResults.
func (m *clientModel) applyResults(results []protocol.OpResult) {
	for _, res := range results {
		o := m.opByID(res.OpID)
		if o == nil {
			continue
		}
		if res.Result == model.ResultConflict && res.Record == nil {
			// An older server's conflict out of sight: refused as one now.
			res = protocol.OpResult{OpID: res.OpID, Result: model.ResultRejected, Code: protocol.CodeNotFound}
		}
		met := m.metFields(o, res)
		switch {
		case len(met) > 0:
			// A create made here met the server's own copy of its record
			// (made first on another device): this device's values go to
			// review.
			res.Result, res.ConflictFields = model.ResultConflict, met
			stats.met.Add(1)
			m.applyConflict(o, res)
		case res.Result == model.ResultApplied, res.Result == model.ResultMerged:
			if o.imported && o.refused && o.kind == model.OpCreate && res.Record != nil {
				stats.retriedImports.Add(1)
			}
			m.applyAck(o, res)
		case res.Result == model.ResultConflict:
			m.applyConflict(o, res)
		case res.Result == model.ResultRejected:
			m.applyRejected(o, res.Code)
		}
		m.journal++
	}
}

// metFields models which fields of a create made here (not an import's)
// the server's own copy of its record overrode: those it set and the
// answer dropped, but for the ones its policy leaves to the server and,
// on a tombstone with fields, those its deleter saw as the create holds
// them.
func (m *clientModel) metFields(o *mOp, res protocol.OpResult) []string {
	if o.kind != model.OpCreate || o.baseVer != 0 || o.imported || res.Result != model.ResultMerged || res.Record == nil {
		return nil
	}
	var seen model.Fields // what a tombstone's deleter saw
	if res.Record.Deleted && len(res.Record.Fields) > 0 {
		seen = m.normalizeWire(o.coll, res.Record.Fields)
	}
	var out []string
	for _, f := range res.Dropped {
		v, set := o.fields[f]
		if set && m.col(o.coll).Policy(f) != model.PolicyServerWins && (seen == nil || !model.Equal(seen[f], v)) {
			out = append(out, f)
		}
	}
	return out
}

func (m *clientModel) applyAck(o *mOp, res protocol.OpResult) {
	ops := m.recordOps(o.record)
	later := ops[slices.Index(ops, o)+1:]
	m.removeOp(o)
	r := m.recs[o.record]
	if r == nil {
		m.appliedOutOfSight(o, res)
		return
	}
	m.setBase(r, res.Record)
	if res.Record != nil {
		m.rebase(o, later, res)
	}
	m.recompute(o.record)
	m.appliedOutOfSight(o, res)
}

// appliedOutOfSight models applyAck's answer without a record: applied
// out of this user's sight, the record leaves out of sight, its changes
// still queued kept as failed.
func (m *clientModel) appliedOutOfSight(o *mOp, res protocol.OpResult) {
	if res.Record != nil {
		return
	}
	if m.recs[o.record] != nil {
		stats.appliedHidden.Add(1)
		m.dropRecords(func(r *mRecord) bool { return r.id == o.record }, true, protocol.CodeAccessRevoked)
		return
	}
	if g, left := m.gone[o.record]; left {
		stats.appliedHidden.Add(1)
		m.gone[o.record] = mGone{coll: g.coll, version: g.version, outOfSight: true}
		m.leaveOutOfSight(o.record)
	}
}

// rebase moves the ops queued behind an acknowledged op onto the version the
// server gave it. An update moves only if every field it changes has, at
// that version, the value its author saw: otherwise it would overwrite a
// change of another device its author never saw. Other ops move when the
// acknowledged op applied on the base they share.
func (m *clientModel) rebase(acked *mOp, later []*mOp, res protocol.OpResult) {
	server := m.normalizeWire(acked.coll, res.Record.Fields)
	for _, o := range later {
		if o.state == localdb.OpConflict || o.baseVer >= res.Record.Version {
			continue
		}
		move := o.baseVer == acked.baseVer && res.Result == model.ResultApplied
		if o.kind == model.OpUpdate && !res.Record.Deleted {
			move = true
			for f := range o.fields {
				seen, ok := o.baseVals[f]
				if !ok || !model.Equal(seen, server[f]) {
					move = false
				}
			}
		}
		if move {
			o.baseVer = res.Record.Version
		}
	}
}

func (m *clientModel) applyRejected(o *mOp, code protocol.Code) {
	if (o.code == protocol.CodeAccessRevoked || o.code == protocol.CodeGone) && code != protocol.CodeOutcomeUnknown && m.recs[o.record] == nil {
		code = o.code // answered after the revocation took its record
	}
	o.state, o.code, o.refused = localdb.OpFailed, code, true
	m.recompute(o.record)
}

// applyConflict models a conflict answer from what the model knows: the
// server's side (the record it answered with — for a tombstone, the
// fields it kept — or, with no record, this device's copy), the copy
// this device's change was made on, and the change. A person reviews, per
// field, the value the change was made on, this device's value and the
// server's: the fields the server named for an edit or a delete, and
// every field either side has for an edit of a deleted record, since
// restoring it recreates the whole record.
func (m *clientModel) applyConflict(o *mOp, res protocol.OpResult) {
	r := m.recs[o.record]
	if r == nil {
		m.applyRejected(o, "conflict")
		return
	}
	o.state, o.imported = localdb.OpConflict, false
	var theirs model.Fields
	theirsVer := r.version
	if res.Record != nil {
		theirsVer = res.Record.Version
		if !res.Record.Deleted || len(res.Record.Fields) > 0 {
			theirs = m.normalizeWire(o.coll, res.Record.Fields)
		}
	}
	c := &model.Conflict{RecordID: o.record, Collection: o.coll, OpID: o.id, BaseVersion: o.baseVer,
		TheirsVersion: theirsVer, Mine: o.fields.Clone(), Theirs: theirs}
	// seen is the value the change was made on; mine this device's value.
	seen := func(f string) any {
		if v, ok := o.baseVals[f]; ok {
			return cloneValue(v)
		}
		return cloneValue(r.base[f])
	}
	mine := func(f string) any {
		if v, ok := o.fields[f]; ok || o.kind != model.OpUpdate {
			return cloneValue(v)
		}
		return seen(f)
	}
	names := res.ConflictFields
	switch {
	case o.kind == model.OpDelete:
		c.Kind = model.ConflictDeleteEdit
	case res.Record == nil || res.Record.Deleted:
		c.Kind = model.ConflictEditDeleted
		if theirs == nil {
			theirs = r.base.Clone() // no fields came: the last copy this device knows
			c.Theirs = theirs
		}
		all := map[string]bool{}
		for _, set := range []model.Fields{theirs, r.base, o.fields, o.baseVals} {
			for f := range set {
				all[f] = true
			}
		}
		names = sortedKeys(all)
	default:
		c.Kind = model.ConflictEdit
	}
	for _, f := range names {
		c.Fields = append(c.Fields, model.FieldConflict{Field: f, Base: seen(f), Mine: mine(f), Theirs: cloneValue(theirs[f])})
	}
	m.setBase(r, res.Record)
	if res.Record == nil {
		r.baseDeleted = true
	}
	m.conflicts[o.record] = c
	if res.Record != nil && r.version > res.Record.Version {
		// A pull overtook the answer (a replay of an older one): the
		// review follows the newer copy this device holds.
		m.refreshConflict(protocol.Record{ID: r.id, Collection: r.coll, Version: r.version, Deleted: r.baseDeleted, Fields: r.base.Clone()})
	}
	m.recompute(o.record)
}

// restored is what "restore with my edits" must send for an edit of a
// deleted record: the server's last fields, with each field this device
// changed laid on top where the server left it as the change saw it, or
// where it changed it too and the field does not keep the server's value
// (server-wins). A field this device did not change keeps the server's
// value: a restore never undoes another user's change.
func (m *clientModel) restored(c *model.Conflict, o *mOp) model.Fields {
	out := c.Theirs.Clone()
	if out == nil {
		out = model.Fields{}
	}
	col := m.col(c.Collection)
	for f, v := range o.fields {
		seen := o.baseVals[f]
		switch {
		case model.Equal(v, out[f]):
		case model.Equal(seen, out[f]) || col.Policy(f) != model.PolicyServerWins:
			out[f] = cloneValue(v)
		}
	}
	for f, v := range out {
		if v == nil {
			delete(out, f)
		}
	}
	return out
}

// pullRecord models one server record of a pull page.
// It reports whether the record changed here (the journal names each
// such change when a page has few).
func (m *clientModel) pullRecord(sr protocol.Record) bool {
	r := m.recs[sr.ID]
	if r != nil && sr.Version < r.version {
		r.mark = false
		return false
	}
	queued := len(m.recordOps(sr.ID))
	if sr.Deleted {
		switch {
		case r == nil:
			return false
		case queued == 0:
			// It leaves with the tombstone (or, without its fields, the
			// last copy this device had).
			r.version = sr.Version
			if len(sr.Fields) > 0 {
				r.base = m.normalizeWire(sr.Collection, sr.Fields)
			}
			m.purge(sr.ID, false)
		default:
			// The server's last fields become the copy a restore starts from.
			if len(sr.Fields) > 0 {
				r.base = m.normalizeWire(sr.Collection, sr.Fields)
			}
			r.baseDeleted, r.version, r.mark = true, sr.Version, false
			m.refreshConflict(sr)
			m.recompute(sr.ID)
		}
		return true
	}
	fields := m.normalizeWire(sr.Collection, sr.Fields)
	if r == nil {
		matter := sr.MatterID
		if matter == "" {
			matter = model.MatterOf(sr.Collection, sr.ID, sr.Fields)
		}
		m.recs[sr.ID] = &mRecord{id: sr.ID, coll: sr.Collection, matter: matter, base: fields,
			version: sr.Version, fields: fields.Clone(), state: model.StateSynced}
		if queued > 0 {
			m.recompute(sr.ID)
		}
		return true
	}
	if r.version == sr.Version && !r.baseDeleted && r.base != nil && canon(r.base) == canon(fields) {
		r.mark = false
		return false
	}
	r.base, r.version, r.baseDeleted, r.mark = fields, sr.Version, false, false
	if queued > 0 {
		m.refreshConflict(sr)
	}
	m.recompute(sr.ID)
	return true
}

// dropRecords models records removed for lost access (code
// access_revoked) or not shown by a full resync (gone): their ops stay,
// failed.
func (m *clientModel) dropRecords(match func(*mRecord) bool, perRecordJournal bool, code protocol.Code) {
	for _, id := range sortedKeys(m.recs) {
		r := m.recs[id]
		if !match(r) {
			continue
		}
		for _, o := range m.recordOps(id) {
			if o.state == localdb.OpFailed && o.code == protocol.CodeOutcomeUnknown {
				continue // keeps saying it may have taken effect
			}
			o.state, o.code, o.refused = localdb.OpFailed, code, true
		}
		m.purge(id, true)
		if perRecordJournal {
			m.journal++
		}
	}
}

// leaveSight models leaveSightWith: records that left deleted, in a
// matter lost, leave out of sight.
func (m *clientModel) leaveSight(lost func(matter string) bool) {
	for _, id := range sortedKeys(m.gone) {
		g := m.gone[id]
		if mid := model.MatterOf(g.coll, id, g.base); !g.outOfSight && g.base != nil && m.recs[id] == nil && mid != "" && lost(mid) {
			m.gone[id] = mGone{coll: g.coll, version: g.version, outOfSight: true}
			m.leaveOutOfSight(id)
		}
	}
}

// applyPull models ApplyPull of one page.
func (m *clientModel) applyPull(p protocol.PullResponse) {
	changed := 0
	for _, sr := range p.Records {
		if m.pullRecord(sr) {
			changed++
		}
	}
	for _, rm := range p.Removed {
		m.dropRecords(func(r *mRecord) bool { return r.id == rm.ID }, true, protocol.CodeAccessRevoked)
		// One that left before, deleted, moved out of sight since.
		if g, left := m.gone[rm.ID]; left && !g.outOfSight && m.recs[rm.ID] == nil {
			m.gone[rm.ID] = mGone{coll: g.coll, version: g.version, outOfSight: true}
			m.leaveOutOfSight(rm.ID)
			stats.removedGone.Add(1)
		}
	}
	for _, mid := range p.DroppedMatters {
		m.dropRecords(func(r *mRecord) bool { return r.serverMatter() == mid }, false, protocol.CodeAccessRevoked)
		// Those that left before it, deleted on the server, leave the
		// user's sight with it.
		m.leaveSight(func(m string) bool { return m == mid })
		m.journal++
	}
	if p.Cursor >= m.cursor {
		m.cursor = p.Cursor
	}
	if !p.More && m.resync {
		for id, r := range m.recs {
			if r.mark && len(m.recordOps(id)) == 0 {
				m.purge(id, true)
			}
		}
		// Unshown with queued ops: the server's copy is gone or out of
		// sight; the record goes, its ops stay as failed. One the server
		// never had stays.
		m.dropRecords(func(r *mRecord) bool { return r.mark && r.base != nil }, true, protocol.CodeGone)
		// Records that left before, deleted, in a matter no longer shown,
		// leave the user's sight with it.
		shown := map[string]bool{}
		for id, r := range m.recs {
			if r.coll == model.MatterCollection {
				shown[id] = true
			}
		}
		m.leaveSight(func(mid string) bool { return !shown[mid] })
		for _, r := range m.recs {
			r.mark = false
		}
		m.resync = false
		m.journal++
	}
	switch {
	case len(p.Records) == 0:
	case changed > 0 && changed <= localdb.PullJournalEach:
		m.journal += changed // one entry per change, naming who made it
	default:
		m.journal++
	}
}

// resetCursor models ResetCursor.
func (m *clientModel) resetCursor() {
	was := m.cursor
	m.cursor = 0
	marked := 0
	for _, r := range m.recs {
		if !r.mark && r.base != nil {
			r.mark = true
			marked++
		}
	}
	if marked == 0 && was == 0 {
		return // a pull from 0 with nothing from the server held, or a resync's marks already stand
	}
	m.resync = true
	m.journal++
}

// refreshConflict models a pull of a newer server copy sr of a record
// whose conflict waits for review: the review follows it. Theirs becomes
// the new copy (a tombstone's fields, if it kept any) at its version; for
// an edit, the fields to review are those already listed and any field
// of the edit the newer copy made differ from both the value the edit
// was made on and the edit's own; for a delete, those listed and any
// field the newer copy changed; an edit of a record the newer copy
// deletes lists every field either side has. A field keeps the value it
// was made on; one newly listed takes the op's noted value (a delete's,
// the older copy's: the server had listed every field it had changed).
func (m *clientModel) refreshConflict(sr protocol.Record) {
	c := m.conflicts[sr.ID]
	if c == nil || sr.Version <= c.TheirsVersion {
		return
	}
	var o *mOp
	for _, op := range m.ops {
		if op.id == c.OpID {
			o = op
		}
	}
	if o == nil {
		return
	}
	listed := map[string]model.FieldConflict{}
	for _, fc := range c.Fields {
		listed[fc.Field] = fc
	}
	oldTheirs, wasKind := c.Theirs, c.Kind
	base := func(f string) any {
		if fc, ok := listed[f]; ok {
			return cloneValue(fc.Base)
		}
		if o.kind == model.OpDelete {
			return cloneValue(oldTheirs[f])
		}
		return cloneValue(o.baseVals[f])
	}
	c.TheirsVersion, c.Theirs = sr.Version, nil
	if !sr.Deleted || len(sr.Fields) > 0 {
		c.Theirs = m.normalizeWire(sr.Collection, sr.Fields)
	}
	switch {
	case sr.Deleted && o.kind != model.OpDelete:
		c.Kind = model.ConflictEditDeleted
		if c.Theirs == nil {
			c.Theirs = model.Fields{}
			for f, fc := range listed {
				c.Theirs[f] = cloneValue(fc.Theirs)
			}
		}
		all := map[string]bool{}
		for _, set := range []model.Fields{c.Theirs, o.fields, o.baseVals} {
			for f := range set {
				all[f] = true
			}
		}
		c.Fields = nil
		for _, f := range sortedKeys(all) {
			mine, ok := o.fields[f]
			if !ok && o.kind != model.OpCreate {
				mine = base(f)
			}
			c.Fields = append(c.Fields, model.FieldConflict{Field: f, Base: base(f), Mine: cloneValue(mine), Theirs: cloneValue(c.Theirs[f])})
		}
	case sr.Deleted:
	default:
		names := map[string]bool{}
		if wasKind != model.ConflictEditDeleted {
			for f := range listed {
				names[f] = true
			}
		}
		if o.kind == model.OpDelete {
			c.Kind = model.ConflictDeleteEdit
			for f, v := range c.Theirs {
				if !model.Equal(v, base(f)) {
					names[f] = true
				}
			}
		} else {
			c.Kind = model.ConflictEdit
			for f, mine := range o.fields {
				if !model.Equal(c.Theirs[f], base(f)) && !model.Equal(c.Theirs[f], mine) {
					names[f] = true
				}
			}
		}
		c.Fields = nil
		for _, f := range sortedKeys(names) {
			fc := model.FieldConflict{Field: f, Base: base(f), Theirs: cloneValue(c.Theirs[f])}
			if o.kind != model.OpDelete {
				fc.Mine = cloneValue(o.fields[f])
			}
			c.Fields = append(c.Fields, fc)
		}
	}
}
