package sim

import (
	"errors"

	"casefile/localdb"
	"casefile/model"
	"casefile/server/store"
)

// A backup is what `casefile export` writes of a device's records and
// `casefile import` reads back: each record's id and fields. At every
// compaction one device, in turn, is backed up; a fresh device of the same
// user imports the user's last backup before its first sync, as a person
// restoring a laptop does. Its creates (on no version) must change nothing
// the server holds or held: a live record or a tombstone stands as it is,
// and a record whose tombstone compaction removed stays deleted. Until the
// device's syncs get through, its person works on the restored records
// like any others; those changes must reach the server behind the
// import's creates (the check of lost writes holds them to it), not be
// folded into creates the server answers with its own copy.

// backup is one device's records at a moment, matters first, so that an
// import finds each record's matter.
type backup []backupItem

type backupItem struct {
	collection string
	item       localdb.ImportItem
}

// takeBackup backs up the next device in turn, for its user. The files
// attached to records are not in a backup (their records are left out).
func (w *world) takeBackup() {
	c := w.clients[w.backupTurn%len(w.clients)]
	w.backupTurn++
	var b backup
	names := []string{model.MatterCollection}
	for _, n := range w.schema.Names() {
		if n != model.MatterCollection && n != model.AttachmentCollection {
			names = append(names, n)
		}
	}
	for _, coll := range names {
		recs, err := c.db.List(w.ctx, localdb.ListQuery{Collection: coll})
		w.must(c.name+": list for a backup", err)
		for _, r := range recs {
			b = append(b, backupItem{coll, localdb.ImportItem{ID: r.ID, Fields: r.Fields}})
		}
	}
	w.backups[c.user.name] = b
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
// each. A record the server never had (created and deleted, or discarded,
// before it left its device) would come back from the backup, rightly, as
// a new write; the harness's check of lost writes knows nothing of such
// writes, so it is left out.
func (w *world) restoreBackup(c *client, b backup) map[string]held {
	before := map[string]held{}
	err := w.reader.Read(w.ctx, func(r store.Reader) error {
		for _, it := range b {
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
	n, graves := 0, 0
	for _, it := range b {
		h, ok := before[it.item.ID]
		if !ok {
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
		if h.grave {
			graves++
		}
	}
	w.tracef("%s imports its user's backup: %d records, %d of them compacted on the server", c.name, n, graves)
	w.stats.inc("contract: backups restored on fresh devices", 1)
	w.stats.inc("contract: backups restored: records", n)
	w.stats.inc("contract: backups restored: records compacted on the server", graves)
	return before
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
