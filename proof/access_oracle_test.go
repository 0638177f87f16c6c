package proof

import (
	"encoding/json"
	"fmt"
	"strings"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
)

// oracle is the permission model the access property is checked against:
// who is a member of which matter, and where every record is, at each
// moment of a history. It never asks the server.
type oracle struct {
	role       map[string]protocol.Role
	member     map[string]map[string]bool // user → matters now
	everMember map[string]map[string]bool // user → matters at any moment
	everSeen   map[string]map[string]bool // user → records visible at any moment
	recs       map[string]*oRecord
	order      []string // record ids in creation order
	step       int      // the history's step now, in a history that compacts
}

// oRecord is a record as the oracle knows it.
type oRecord struct {
	id, coll, matter string
	version          int64
	deleted          bool
	deletedAt        int      // the step that deleted it
	compacted        bool     // deleted, and its tombstone compacted: the server keeps only its grave
	texts            []string // every title it ever had: none may reach a user who cannot see it
}

func newOracle() *oracle {
	return &oracle{role: map[string]protocol.Role{}, member: map[string]map[string]bool{},
		everMember: map[string]map[string]bool{}, everSeen: map[string]map[string]bool{}, recs: map[string]*oRecord{}}
}

func (o *oracle) addUser(name string, role protocol.Role) {
	o.role[name] = role
	o.member[name], o.everMember[name], o.everSeen[name] = map[string]bool{}, map[string]bool{}, map[string]bool{}
}

// sees reports whether the user may see a matter's records now.
func (o *oracle) sees(user, matter string) bool {
	return o.role[user] == server.RoleAdmin || o.member[user][matter]
}

// seesNow reports whether the user may see now a record a stored answer
// holds: in the matter the answer shows and in the one it is in now (a
// compacted record's grave shows no more than the answer).
func (o *oracle) seesNow(user string, r *protocol.Record) bool {
	if r == nil || !o.sees(user, r.MatterID) {
		return false
	}
	cur := o.recs[r.ID]
	return cur == nil || cur.compacted || o.sees(user, cur.matter)
}

// usable reports whether the user may put records in a matter now.
func (o *oracle) usable(user, matter string) bool {
	m := o.recs[matter]
	return m != nil && m.coll == model.MatterCollection && !m.deleted && o.sees(user, matter)
}

func (o *oracle) grant(user, matter string) {
	o.member[user][matter], o.everMember[user][matter] = true, true
	o.noteSeen()
}

func (o *oracle) revoke(user, matter string) { delete(o.member[user], matter) }

// noteSeen records, after any change, which records each user may see.
func (o *oracle) noteSeen() {
	for u := range o.role {
		for _, r := range o.recs {
			if o.sees(u, r.matter) {
				o.everSeen[u][r.id] = true
			}
		}
	}
}

// expect is what the server must answer an op.
type expect struct {
	result model.OpResult
	code   protocol.Code
}

// predict says what the server must do with an op from user. No op in
// these histories races another: every base version is current, but for
// updates drawn on the version before, whose title changed since.
func (o *oracle) predict(user string, op model.Op) expect {
	if o.role[user] == server.RoleViewer {
		return expect{model.ResultRejected, protocol.CodeReadOnly}
	}
	cur := o.recs[op.RecordID]
	switch op.Kind {
	case model.OpCreate:
		if cur != nil && op.BaseVersion == 0 {
			// The record stands (a tombstone or a grave stays deleted);
			// who sees it is told what the server holds.
			if cur.coll == op.Collection && o.sees(user, cur.matter) {
				return expect{result: model.ResultMerged}
			}
			return expect{model.ResultRejected, protocol.CodeIDConflict}
		}
		restore := cur != nil && cur.deleted && cur.coll == op.Collection && op.BaseVersion == cur.version && o.sees(user, cur.matter)
		if cur != nil && !restore {
			return expect{model.ResultRejected, protocol.CodeIDConflict}
		}
		if op.Collection != model.MatterCollection && !o.usable(user, op.Fields[model.MatterField].(string)) {
			return expect{model.ResultRejected, protocol.CodeNotFound}
		}
		return expect{result: model.ResultApplied}
	case model.OpUpdate:
		if cur == nil || cur.compacted || !o.sees(user, cur.matter) {
			return expect{model.ResultRejected, protocol.CodeNotFound}
		}
		if cur.deleted || op.BaseVersion < cur.version {
			return expect{result: model.ResultConflict}
		}
		if to, ok := op.Fields[model.MatterField].(string); ok && to != cur.matter && !o.usable(user, to) {
			return expect{model.ResultRejected, protocol.CodeNotFound}
		}
		return expect{result: model.ResultApplied}
	default:
		if cur == nil || cur.compacted || !o.sees(user, cur.matter) {
			return expect{model.ResultRejected, protocol.CodeNotFound}
		}
		if cur.coll == model.MatterCollection && !cur.deleted && o.holdsLive(cur.id) {
			return expect{model.ResultRejected, protocol.CodeMatterNotEmpty}
		}
		return expect{result: model.ResultApplied}
	}
}

// deleted lists the tombstones, compacted or not, in creation order.
func (o *oracle) deleted() []string { return o.ids(func(r *oRecord) bool { return r.deleted }) }

// compactedOnes lists the records whose tombstones are compacted, in
// creation order.
func (o *oracle) compactedOnes() []string { return o.ids(func(r *oRecord) bool { return r.compacted }) }

// ids lists the records that match, in creation order.
func (o *oracle) ids(match func(*oRecord) bool) []string {
	var out []string
	for _, id := range o.order {
		if match(o.recs[id]) {
			out = append(out, id)
		}
	}
	return out
}

// compact takes a compaction of everything older than step before into
// the oracle: the tombstones of records deleted before it go, and the
// server keeps their graves. It returns how many went.
func (o *oracle) compact(before int) int {
	n := 0
	for _, r := range o.recs {
		if r.deleted && !r.compacted && r.deletedAt < before {
			r.compacted = true
			n++
		}
	}
	return n
}

// holdsLive reports whether any record not deleted is in the matter: a
// matter is never deleted out from under its records.
func (o *oracle) holdsLive(matter string) bool {
	for _, r := range o.recs {
		if r.matter == matter && r.id != matter && !r.deleted {
			return true
		}
	}
	return false
}

// applied takes an op the server applied into the oracle.
func (o *oracle) applied(user string, op model.Op, version int64) {
	r := o.recs[op.RecordID]
	switch op.Kind {
	case model.OpCreate:
		if r == nil {
			r = &oRecord{id: op.RecordID, coll: op.Collection}
			o.recs[r.id] = r
			o.order = append(o.order, r.id)
		}
		r.matter, r.deleted, r.compacted = model.MatterOf(op.Collection, op.RecordID, op.Fields), false, false // a restore keeps what it had
		if r.coll == model.MatterCollection {
			o.member[user][r.id], o.everMember[user][r.id] = true, true
		}
	case model.OpUpdate:
		if to, ok := op.Fields[model.MatterField].(string); ok {
			r.matter = to
		}
	default:
		if !r.deleted { // deleting a tombstone writes nothing
			r.deletedAt = o.step
		}
		r.deleted = true
	}
	if t, ok := op.Fields["title"].(string); ok {
		r.texts = append(r.texts, t)
	}
	r.version = version
	o.noteSeen()
}

// secrets returns what no answer to user may hold now: the ids and texts of
// every record the user cannot see.
func (o *oracle) secrets(user string) []string {
	var out []string
	for _, id := range o.order {
		r := o.recs[id]
		if o.sees(user, r.matter) {
			continue
		}
		if !o.everSeen[user][id] {
			out = append(out, id)
		}
		out = append(out, r.texts...)
	}
	return out
}

// leak returns the first secret of user found in text.
func (o *oracle) leak(user, text string) string {
	for _, s := range o.secrets(user) {
		if strings.Contains(text, s) {
			return s
		}
	}
	return ""
}

// checkResult checks one push answer against the oracle's prediction,
// made before the op.
func (o *oracle) checkResult(user string, op model.Op, res protocol.OpResult) error {
	want := o.predict(user, op)
	if res.Result != want.result || res.Code != want.code {
		return fmt.Errorf("%s's %s of %s %s: got %s %q (%s), want %s %q", user, op.Kind, op.Collection, op.RecordID,
			res.Result, res.Code, res.Message, want.result, want.code)
	}
	return nil
}

// checkReveal checks, after the op took effect, that its answer shows
// nothing the user cannot see.
func (o *oracle) checkReveal(user string, op model.Op, res protocol.OpResult) error {
	if res.Record != nil && !o.sees(user, res.Record.MatterID) {
		return fmt.Errorf("%s's %s of %s: the answer shows a record of matter %s, which they cannot see", user, op.Kind, op.RecordID, res.Record.MatterID)
	}
	if res.Result == model.ResultConflict && res.Record == nil {
		return fmt.Errorf("%s's %s of %s: a conflict without its record (a client takes it for a delete)", user, op.Kind, op.RecordID)
	}
	if res.Result == model.ResultRejected && res.Record != nil {
		return fmt.Errorf("%s's refused %s of %s carries a record", user, op.Kind, op.RecordID)
	}
	b, _ := json.Marshal(res)
	if s := o.leak(user, string(b)); s != "" {
		return fmt.Errorf("%s's %s of %s: the answer reveals %q of a record they cannot see: %s", user, op.Kind, op.RecordID, s, b)
	}
	return nil
}
