package sim

import (
	"errors"
	"math/rand/v2"

	"casefile/localdb"
	"casefile/model"
	"casefile/server/store"
)

// A backup is what `casefile export` writes of a device's records and
// `casefile import` reads back: each record's id and fields. At every
// compaction one device, in turn, is backed up; a fresh device of the same
// user imports the user's last backup before its first sync, as a person
// restoring a laptop does, or half the time a backup taken just then of
// another of the user's devices. Its creates (on no version) must change
// nothing the server holds or held: a live record or a tombstone stands as
// it is, and a record whose tombstone compaction removed stays deleted.
// Until the device's syncs get through, its person works on the restored
// records like any others; those changes must reach the server behind the
// import's creates (the check of lost writes holds them to it), not be
// folded into creates the server answers with its own copy. A record the
// device backed up still holds unsent reaches the server from the
// restored device first; the first device's create then meets it, and
// what its person changed since the backup must not vanish either.

// backup is one device's records at a moment, matters first, so that an
// import finds each record's matter.
type backup struct {
	from  *client // the device backed up
	items []backupItem
}

type backupItem struct {
	collection string
	item       localdb.ImportItem
}

// takeBackup backs up the next device in turn, for its user.
func (w *world) takeBackup() {
	c := w.clients[w.backupTurn%len(w.clients)]
	w.backupTurn++
	w.backups[c.user.name] = w.backupOf(c)
}

// newBackupRand is the stream that picks which backup a fresh device
// restores: apart from the scenario's, so that adding it moved no seed's
// story.
func newBackupRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed^0x6261636b7570, seed)) }

// backupFor picks the backup a fresh device of c's user restores: the
// user's last (taken at a compaction), or, half the time, one taken now of
// another of the user's devices, which may still hold records the server
// has never had: its creates unsent.
func (w *world) backupFor(c *client) backup {
	w.rmu.Lock()
	now := w.brnd.IntN(2) == 0
	w.rmu.Unlock()
	if now {
		for _, o := range w.clients {
			if o != c && o.user == c.user {
				return w.backupOf(o)
			}
		}
	}
	return w.backups[c.user.name]
}

// backupOf is c's records now, exported as `casefile export` does: its
// queued creates are marked first (localdb.MarkBackedUp). Attachments'
// records are in it, as an export writes them, and their bytes are not:
// the restored device downloads each file from the server, once a device
// has uploaded it (checkFiles).
func (w *world) backupOf(c *client) backup {
	_, err := c.db.MarkBackedUp(w.ctx)
	w.must(c.name+": mark a backup's creates", err)
	b := backup{from: c}
	names := []string{model.MatterCollection}
	for _, n := range w.schema.Names() {
		if n != model.MatterCollection {
			names = append(names, n)
		}
	}
	for _, coll := range names {
		recs, err := c.db.List(w.ctx, localdb.ListQuery{Collection: coll})
		w.must(c.name+": list for a backup", err)
		for _, r := range recs {
			b.items = append(b.items, backupItem{coll, localdb.ImportItem{ID: r.ID, Fields: r.Fields}})
		}
	}
	return b
}

// held is what the server holds of a record: its row, or its grave.
type held struct {
	row     bool
	version int64
	deleted bool
	grave   bool
}

// restoreBackup imports into c's (fresh, empty) database the records of b
// the server holds or held (a row, or a grave), a record at a time as the
// import's batches would take them, and returns what the server holds of
// each.
//
// A record the server never had goes too while the device backed up,
// another than c, still holds it with its create unsent: c syncs first,
// so that create then meets the backup's copy on the server, with the
// values it had at the backup, and the device's later changes must not
// vanish (the check of lost writes holds them to it). Any other record
// the server never had (created and deleted, or discarded, before it left
// its device) would come back from the backup, rightly, as a new write;
// the harness's check of lost writes knows nothing of such writes, so it
// is left out.
func (w *world) restoreBackup(c *client, b backup) map[string]held {
	before := map[string]held{}
	unsent := w.unsentCreates(c, b)
	err := w.reader.Read(w.ctx, func(r store.Reader) error {
		for _, it := range b.items {
			h, err := serverHolds(w, r, it.item.ID)
			if err != nil {
				return err
			}
			if h.row || h.grave {
				before[it.item.ID] = h
			}
		}
		return nil
	})
	w.must("read what the server holds of a backup", err)
	n, graves, first, files := 0, 0, 0, 0
	for _, it := range b.items {
		h, ok := before[it.item.ID]
		if !ok && !unsent[it.item.ID] {
			continue
		}
		// A record the import refuses (a field the schema no longer
		// takes) is left out, as `casefile import` stops at it and the
		// person fixes the line.
		if _, err := c.db.ImportWith(w.ctx, it.collection, []localdb.ImportItem{it.item}, localdb.ExistingSkip); err != nil {
			w.tracef("%s: the backup's %s %s is refused: %v", c.name, it.collection, it.item.ID, err)
			delete(before, it.item.ID)
			continue
		}
		n++
		if it.collection == model.AttachmentCollection {
			files++
		}
		if h.grave {
			graves++
		}
		if !ok {
			first++
			// The backup brings the device's values to the server before
			// the device's own ops: one of those (a resolution that keeps
			// the device's side, say) may set a value once more.
			for _, f := range tracked[it.collection] {
				if s, _ := it.item.Fields[f].(string); s != "" {
					w.resets[it.item.ID+"\x00"+f+"\x00"+s]++
				}
			}
		}
	}
	// A restored file is not on this device; one whose record the server
	// never had is not on the server either (its device may upload it
	// later, or never), and must not be shown as there.
	list, err := c.db.Files(w.ctx, "")
	w.must(c.name+": list files", err)
	for _, f := range list {
		if _, had := before[f.ID]; had {
			continue
		}
		switch f.State {
		case localdb.FileOnServer:
			w.violate("%s: file %s restored from a backup is %q, and the server never had its record", c.name, f.ID, f.StateText())
		case localdb.FileAwaiting:
			w.stats.inc("contract: backups restored: files the server did not hold yet", 1)
		}
	}
	if first > 0 {
		w.tracef("%s imports its user's backup: %d records, %d of them compacted on the server, %d still unsent on %s", c.name, n, graves, first, b.from.name)
	} else {
		w.tracef("%s imports its user's backup: %d records, %d of them compacted on the server", c.name, n, graves)
	}
	w.stats.inc("contract: backups restored on fresh devices", 1)
	w.stats.inc("contract: backups restored: records", n)
	w.stats.inc("contract: backups restored: records compacted on the server", graves)
	w.stats.inc("contract: backups restored: attachments", files)
	w.stats.inc("contract: backups restored: records still unsent on the device backed up", first)
	return before
}

// unsentCreates lists the records of b whose device, when another than c,
// still holds them live with their create queued: the server has not
// taken them yet.
func (w *world) unsentCreates(c *client, b backup) map[string]bool {
	out := map[string]bool{}
	if b.from == nil || b.from == c {
		return out
	}
	ops, err := b.from.db.Outbox(w.ctx)
	w.must(b.from.name+": outbox", err)
	for _, o := range ops {
		if o.Kind != model.OpCreate || o.BaseVersion != 0 {
			continue
		}
		if r, err := b.from.db.Get(w.ctx, o.RecordID); err == nil && !r.Deleted {
			out[o.RecordID] = true
		}
	}
	return out
}

func serverHolds(w *world, r store.Reader, id string) (held, error) {
	rec, err := r.Record(w.ctx, id)
	if err == nil {
		return held{row: true, version: rec.Version, deleted: rec.Deleted}, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return held{}, err
	}
	if _, err := r.Grave(w.ctx, id); err == nil {
		return held{grave: true}, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return held{}, err
	}
	return held{}, nil
}

// checkRestored checks, after the fresh device's syncs, that its backup
// changed nothing the server held or held a grave of.
func (w *world) checkRestored(c *client, before map[string]held) {
	err := w.reader.Read(w.ctx, func(r store.Reader) error {
		for id, was := range before {
			now, err := serverHolds(w, r, id)
			if err != nil {
				return err
			}
			switch {
			case was.grave && now.row:
				w.violate("%s: its backup brought back record %s, deleted and compacted on the server (now version %d)", c.name, id, now.version)
			case was.row && now != was:
				w.violate("%s: its backup changed record %s on the server: %+v, was %+v", c.name, id, now, was)
			}
		}
		return nil
	})
	w.must("read what the server holds after a backup", err)
}
