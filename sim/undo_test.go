package sim

import (
	"errors"

	"casefile/localdb"
	"casefile/model"
)

// undo takes back c's last local change, as a person pressing u would,
// and tells the oracle what it did: an undone create is a delete, an
// undone delete a restore (the delete taken back), an undone edit sets
// fields back to earlier values (the edit's values taken back), which the
// server may then hold a second time.
func (w *world) undo(c *client) {
	w.action()
	u, err := c.db.Undo(w.ctx)
	var probs model.Problems
	switch {
	case errors.Is(err, localdb.ErrNothingToUndo):
		w.stats.inc("undo: nothing left", 1)
		w.edit(c, false)
		return
	case errors.Is(err, localdb.ErrInConflict), errors.Is(err, localdb.ErrMatterNotEmpty):
		w.stats.inc("undo: refused (conflict, matter not empty)", 1)
		w.tracef("%s undo #%d refused: %s", c.name, w.index[u.Change.RecordID], refusal(err))
		return
	case errors.As(err, &probs):
		// Restoring into a matter deleted since, moving back to one.
		w.stats.inc("undo: refused (its matter is gone)", 1)
		w.tracef("%s undo #%d refused: %v", c.name, w.index[u.Change.RecordID], err)
		return
	case err != nil:
		w.violate("%s: undo: %v", c.name, err)
		return
	}
	id := u.Change.RecordID
	w.tracef("%s undo %s of %s#%d: %s", c.name, u.Change.Kind, u.Change.Collection, w.index[id], u.Action)
	w.stats.inc("undo: "+string(u.Action), 1)
	if u.OutOfSight {
		// The record left this device out of sight: nothing came back,
		// and its delete stays as the failed op it was.
		w.stats.inc("undo: nothing, its record out of sight", 1)
	}
	switch u.Action {
	case localdb.UndoDeleted:
		w.ack(c, entry{rec: id, kind: "delete"})
	case localdb.UndoRestored:
		// The records deleted with a matter come back with it: their
		// deletes are taken back too.
		for _, rid := range append([]string{id}, u.Restored...) {
			w.withdraw(c, rid, "delete", "", "")
			w.ack(c, entry{rec: rid, kind: "create"})
			if rid != id {
				w.cameBackWith[rid] = id
			}
		}
		w.stats.inc("undo: restored with their matter", len(u.Restored))
		w.checkCascadeBack(c, u)
	case localdb.UndoReverted:
		for _, f := range u.Fields {
			if s, ok := u.Change.After[f].(string); ok {
				w.withdraw(c, id, "field", f, s)
			}
			if s, ok := u.Change.Before[f].(string); ok && s != "" {
				w.resets[id+"\x00"+f+"\x00"+s]++
			}
		}
	}
}

// checkCascadeBack holds an undo that brought a matter back to "all of it
// or nothing": no record its cascade delete took, still on the device, is
// left deleted. (One that left the device is not here to come back: out
// of sight, or deleted on the server and gone, it is the server's now.)
func (w *world) checkCascadeBack(c *client, u localdb.Undone) {
	key := c.name + "\x00" + u.Change.RecordID
	took, ok := w.cascaded[key]
	if !ok || u.Change.Collection != model.MatterCollection {
		return
	}
	delete(w.cascaded, key)
	back := 0
	for _, id := range took {
		rec, err := c.db.Get(w.ctx, id)
		if errors.Is(err, localdb.ErrNotFound) {
			continue
		}
		w.must(c.name+": read a record the cascade took", err)
		if rec.Deleted {
			w.violate("%s: undo brought matter #%d back, and #%d it was deleted with is still deleted (restored %d of %d)",
				c.name, w.index[u.Change.RecordID], w.index[id], len(u.Restored), len(took))
			return
		}
		back++
	}
	w.stats.inc("undo: cascades brought back whole", 1)
	w.stats.inc("undo: cascades brought back whole: records", back)
}
