package sim

import (
	"errors"
	"fmt"
	"slices"

	"casefile/localdb"
	"casefile/model"
)

// entry is one effect of a write a client acknowledged locally: a record
// created or deleted, or a field set to a value. Text values are unique to
// their write, so the server's history shows whether (and how often) each
// took effect.
type entry struct {
	client       int
	rec          string
	kind         string // "create", "field" or "delete"
	field, value string
	unique       bool // the value was never written before
	at           int  // the client's action counter when it was acknowledged
}

// wkey names what a person took back: a field value, a delete, or ("*")
// everything a client wrote on a record.
type wkey struct {
	client       int
	rec, kind    string
	field, value string
}

// hotField is a field a client edited recently: others edit it too, for
// overlapping edits.
type hotField struct {
	client     int
	rec, field string
}

// tracked are the text fields whose values the harness makes unique.
var tracked = map[string][]string{
	"matter": {"title", "client", "description"},
	"note":   {"title", "body"},
	"task":   {"title", "details"},
}

// untracked sets another field now and then; nil clears an optional one.
var untracked = map[string][]struct {
	field  string
	values []any
}{
	"matter": {{"status", []any{"intake", "open", "on_hold", "closed", nil}}},
	"note":   {{"status", []any{"draft", "open", "review", "closed", nil}}, {"tags", []any{[]string{"urgent"}, []string{"a", "b"}, nil}}},
	"task":   {{"done", []any{true, false, nil}}, {"priority", []any{"low", "normal", "high", "urgent", nil}}},
}

// action advances the clock of people's actions and returns it.
func (w *world) action() int {
	w.nwrite++
	return w.nwrite
}

// value returns a text value no one wrote before.
func (w *world) value(c *client, field string) string {
	return fmt.Sprintf("%s %s#%d", field, c.name, w.nwrite)
}

func (w *world) ack(c *client, e entry) {
	e.client, e.at = c.i, w.nwrite
	w.entries = append(w.entries, e)
}

func (w *world) withdraw(c *client, rec, kind, field, value string) {
	w.withdrawn[wkey{c.i, rec, kind, field, value}] = w.action()
}

// write makes one local write on c, as a person would.
func (w *world) write(c *client) {
	c.writes++
	w.stats.inc("writes", 1)
	x := w.float()
	switch {
	case x < 0.05:
		w.createMatter(c)
	case x < 0.30:
		w.createChild(c)
	case x < 0.61:
		w.edit(c, w.chance(0.4))
	case x < 0.64:
		w.undo(c)
	case x < 0.71:
		w.remove(c)
	case x < 0.77:
		w.editDeleted(c)
	case x < 0.80:
		w.move(c)
	case x < 0.91:
		if !w.resolveOne(c, false) {
			w.edit(c, true)
		}
	default:
		if !w.settleFailed(c, false) {
			w.edit(c, false)
		}
	}
}

func (w *world) createMatter(c *client) {
	w.action()
	fields := model.Fields{"title": w.value(c, "title")}
	if w.chance(0.5) {
		fields["client"] = w.value(c, "client")
	}
	w.addUntracked("matter", fields)
	rec, err := c.db.Create(w.ctx, "matter", "", fields)
	w.must(c.name+": create matter", err)
	w.meet(rec.ID, "matter")
	w.tracef("%s create matter#%d", c.name, w.index[rec.ID])
	w.ackCreate(c, rec.ID, fields)
}

func (w *world) ackCreate(c *client, id string, fields model.Fields) {
	w.ack(c, entry{rec: id, kind: "create"})
	for _, f := range sortedFields(fields) {
		if s, ok := fields[f].(string); ok && slices.Contains(tracked[w.kinds[id]], f) {
			w.ack(c, entry{rec: id, kind: "field", field: f, value: s, unique: true})
		}
	}
}

func (w *world) addUntracked(collection string, fields model.Fields) {
	if !w.chance(0.3) {
		return
	}
	opts := untracked[collection]
	u := opts[w.intn(len(opts))]
	fields[u.field] = u.values[w.intn(len(u.values))]
}

// pick returns a record c holds live and may edit, drawn at random from
// the records the harness knows; ok is false when a few draws find none.
func (w *world) pick(c *client, want func(collection string) bool) (model.Record, bool) {
	if len(w.ids) == 0 {
		return model.Record{}, false
	}
	for range 8 {
		id := w.ids[w.intn(len(w.ids))]
		if !want(w.kinds[id]) {
			continue
		}
		rec, err := c.db.Get(w.ctx, id)
		if errors.Is(err, localdb.ErrNotFound) {
			continue
		}
		w.must(c.name+": get", err)
		if !rec.Deleted && rec.State != model.StateConflict {
			return rec, true
		}
	}
	return model.Record{}, false
}

func isMatter(k string) bool { return k == "matter" }
func isChild(k string) bool  { return k == "note" || k == "task" }
func anyKind(k string) bool  { return k != "" }

func (w *world) createChild(c *client) {
	m, ok := w.pick(c, isMatter)
	if !ok {
		w.createMatter(c)
		return
	}
	w.action()
	col := "note"
	if w.chance(0.4) {
		col = "task"
	}
	fields := model.Fields{model.MatterField: m.ID, "title": w.value(c, "title")}
	if w.chance(0.5) {
		fields[tracked[col][1]] = w.value(c, tracked[col][1])
	}
	w.addUntracked(col, fields)
	rec, err := c.db.Create(w.ctx, col, "", fields)
	w.must(c.name+": create "+col, err)
	w.meet(rec.ID, col)
	w.tracef("%s create %s#%d in matter#%d", c.name, col, w.index[rec.ID], w.index[m.ID])
	w.ackCreate(c, rec.ID, fields)
}

// edit changes one tracked field of a record (one another client edited
// lately, when overlap is asked for), sometimes with another field.
func (w *world) edit(c *client, overlap bool) {
	var rec model.Record
	var field string
	if overlap {
		for i := len(w.hot) - 1; i >= 0 && i >= len(w.hot)-12; i-- {
			h := w.hot[i]
			if h.client == c.i || !w.chance(0.5) {
				continue
			}
			r, err := c.db.Get(w.ctx, h.rec)
			if err == nil && !r.Deleted && r.State != model.StateConflict {
				rec, field = r, h.field
				break
			}
		}
	}
	if rec.ID == "" {
		var ok bool
		if rec, ok = w.pick(c, anyKind); !ok {
			w.createChild(c)
			return
		}
		fs := tracked[rec.Collection]
		field = fs[w.intn(len(fs))]
	}
	w.update(c, rec, field, "edit")
}

// update sets field of rec to a new unique value and acknowledges it.
func (w *world) update(c *client, rec model.Record, field, what string) {
	w.action()
	changes := model.Fields{field: w.value(c, field)}
	w.addUntracked(rec.Collection, changes)
	if _, err := c.db.Update(w.ctx, rec.ID, changes); err != nil {
		w.refused(c, what, rec.ID, err)
		return
	}
	w.tracef("%s %s %s#%d.%s", c.name, what, rec.Collection, w.index[rec.ID], field)
	w.ack(c, entry{rec: rec.ID, kind: "field", field: field, value: changes[field].(string), unique: true})
	w.hot = append(w.hot, hotField{c.i, rec.ID, field})
	if len(w.hot) > 64 {
		w.hot = w.hot[len(w.hot)-32:]
	}
}

// refused handles a write the local database refused. Only a record in
// conflict or deleted may be refused here; anything else is a bug.
func (w *world) refused(c *client, what, id string, err error) {
	w.stats.inc("refused", 1)
	w.tracef("%s %s #%d refused: %s", c.name, what, w.index[id], refusal(err))
	if !errors.Is(err, localdb.ErrInConflict) && !errors.Is(err, localdb.ErrDeleted) && !errors.Is(err, localdb.ErrMatterNotEmpty) {
		w.violate("%s: %s of %s refused: %v", c.name, what, id, err)
	}
}

func refusal(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, localdb.ErrRecordGone):
		return "record gone"
	case errors.Is(err, localdb.ErrInConflict):
		return "in conflict"
	case errors.Is(err, localdb.ErrDeleted):
		return "deleted"
	case errors.Is(err, localdb.ErrMatterNotEmpty):
		return "matter not empty"
	}
	return "error"
}

// remove deletes a record, mostly a note or task.
func (w *world) remove(c *client) {
	want := isChild
	if w.chance(0.15) {
		want = isMatter
	}
	rec, ok := w.pick(c, want)
	if !ok {
		w.edit(c, false)
		return
	}
	both := w.chance(0.3)
	if both {
		// Edit, sync, delete, sync: the tombstone keeps a change that
		// devices holding an older copy lack, which their restore of the
		// record must not undo.
		fs := tracked[rec.Collection]
		w.update(c, rec, fs[w.intn(len(fs))], "edit before delete")
		w.sync(c)
		w.stats.inc("contract: edits synced before a delete", 1)
		if r, err := c.db.Get(w.ctx, rec.ID); err != nil || r.Deleted || r.State == model.StateConflict {
			return
		}
	}
	w.action()
	attached, err := c.db.Files(w.ctx, rec.ID)
	w.must(c.name+": list a record's files", err)
	err = c.db.Delete(w.ctx, rec.ID)
	if errors.Is(err, localdb.ErrMatterNotEmpty) && w.chance(0.5) {
		w.cascade(c, rec.ID)
		return
	}
	if err != nil {
		w.refused(c, "delete", rec.ID, err)
		return
	}
	// Its attached files went with it, in the same change.
	if left, err := c.db.Files(w.ctx, rec.ID); err != nil || len(left) > 0 {
		w.violate("%s: %d file(s) of %s #%d outlived its delete (%v)", c.name, len(left), rec.Collection, w.index[rec.ID], err)
	}
	if len(attached) > 0 {
		w.stats.inc("files deleted with their record", len(attached))
	}
	w.tracef("%s delete %s#%d", c.name, rec.Collection, w.index[rec.ID])
	w.ack(c, entry{rec: rec.ID, kind: "delete"})
	if both {
		w.sync(c)
		w.editStale(c, rec)
	}
}

// editStale has another device that still shows rec as it was before c
// edited and deleted it edit another field of it: its push meets the
// delete, and a restore must keep c's edit.
func (w *world) editStale(c *client, rec model.Record) {
	d := w.clients[w.intn(len(w.clients))]
	if d == c {
		return
	}
	r, err := d.db.Get(w.ctx, rec.ID)
	if err != nil || r.Deleted || r.State == model.StateConflict {
		return
	}
	fs := tracked[r.Collection]
	if len(fs) == 0 {
		return
	}
	w.update(d, r, fs[w.intn(len(fs))], "edit-stale")
	w.stats.inc("contract: stale edits of a record edited then deleted", 1)
}

// cascade deletes a matter with the records c holds of it, as a person
// told that the matter holds records does.
func (w *world) cascade(c *client, matter string) {
	recs, err := c.db.List(w.ctx, localdb.ListQuery{MatterID: matter})
	w.must(c.name+": list a matter's records", err)
	n, err := c.db.DeleteCascade(w.ctx, matter)
	if err != nil {
		w.refused(c, "delete with its records", matter, err)
		return
	}
	w.stats.inc("matters deleted with their records", 1)
	w.tracef("%s delete matter#%d with %d records", c.name, w.index[matter], n)
	var held []string
	for _, r := range recs {
		if r.ID != matter {
			held = append(held, r.ID)
			w.ack(c, entry{rec: r.ID, kind: "delete"})
		}
	}
	w.cascaded[c.name+"\x00"+matter] = held
	if len(held) != n {
		w.violate("%s: the matter #%d held %d records, its cascade deleted %d", c.name, w.index[matter], len(held), n)
	}
	w.ack(c, entry{rec: matter, kind: "delete"})
}

// editDeleted edits a record another client deleted (it may not know yet),
// or tries to edit one it deleted itself, which must be refused and change
// nothing.
func (w *world) editDeleted(c *client) {
	for i := len(w.entries) - 1; i >= 0 && i >= len(w.entries)-200; i-- {
		e := w.entries[i]
		if e.kind != "delete" {
			continue
		}
		rec, err := c.db.Get(w.ctx, e.rec)
		// A record hidden because the server refused its create shows as
		// deleted and failed, and may still be edited: not this case.
		if err != nil || rec.State == model.StateConflict || (rec.Deleted && rec.State == model.StateFailed) {
			continue
		}
		fs := tracked[rec.Collection]
		if len(fs) == 0 {
			continue // a collection the harness writes no text to (attachments, deleted with their matter)
		}
		if !rec.Deleted {
			w.update(c, rec, fs[w.intn(len(fs))], "edit-deleted")
			return
		}
		before, err := c.db.Outbox(w.ctx)
		w.must("outbox", err)
		_, err = c.db.Update(w.ctx, rec.ID, model.Fields{fs[0]: "never stored"})
		w.stats.inc("refused", 1)
		if !errors.Is(err, localdb.ErrDeleted) {
			w.violate("%s: editing its own deleted record %s gave %v, not ErrDeleted", c.name, rec.ID, err)
		}
		after, err := c.db.Outbox(w.ctx)
		w.must("outbox", err)
		if len(before) != len(after) {
			w.violate("%s: a refused edit changed the outbox from %d to %d ops", c.name, len(before), len(after))
		}
		w.tracef("%s edit own deleted #%d refused", c.name, w.index[rec.ID])
		return
	}
	w.edit(c, false)
}

// move puts a note or task in another matter the client holds.
func (w *world) move(c *client) {
	rec, ok := w.pick(c, isChild)
	m, ok2 := w.pick(c, isMatter)
	if !ok || !ok2 || rec.Fields[model.MatterField] == m.ID {
		w.edit(c, false)
		return
	}
	w.action()
	if _, err := c.db.Update(w.ctx, rec.ID, model.Fields{model.MatterField: m.ID}); err != nil {
		w.refused(c, "move", rec.ID, err)
		return
	}
	w.tracef("%s move %s#%d to matter#%d", c.name, rec.Collection, w.index[rec.ID], w.index[m.ID])
	w.ack(c, entry{rec: rec.ID, kind: "field", field: model.MatterField, value: m.ID})
}

func sortedFields(f model.Fields) []string {
	names := make([]string, 0, len(f))
	for k := range f {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
