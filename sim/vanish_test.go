package sim

import (
	"casefile/localdb"
)

// checkWrites checks that no acknowledged write vanished: each is on the
// server (it took effect in some version of its record), or its client
// shows the record's change as failed or in conflict, or the same client
// replaced it by a later write before it left, or a person took it back
// (a discard, a resolution that kept the server's side).
func (w *world) checkWrites(tr *truth) {
	stuck := map[int]map[string]bool{}
	for _, c := range w.clients {
		stuck[c.i] = map[string]bool{}
		for _, o := range tr.outboxes[c.i] {
			if o.State == localdb.OpFailed || o.State == localdb.OpConflict {
				stuck[c.i][o.RecordID] = true
			}
		}
	}
	type recKey struct {
		client int
		rec    string
	}
	byRec := map[recKey][]entry{}
	for _, e := range w.entries {
		k := recKey{e.client, e.rec}
		byRec[k] = append(byRec[k], e)
	}
	later := func(e entry, match func(entry) bool) bool {
		for _, e2 := range byRec[recKey{e.client, e.rec}] {
			if e2.at > e.at && match(e2) {
				return true
			}
		}
		return false
	}
	took := func(k wkey, at int) bool {
		t, ok := w.withdrawn[k]
		return ok && t > at
	}
	for _, e := range w.entries {
		if stuck[e.client][e.rec] || took(wkey{e.client, e.rec, "*", "", ""}, e.at) {
			continue
		}
		sr, onServer := tr.records[e.rec]
		h := tr.all[e.rec]
		name := w.clients[e.client].name
		switch e.kind {
		case "create":
			if onServer || len(h) > 0 || later(e, func(e2 entry) bool { return e2.kind == "delete" }) {
				continue
			}
			// Restored with another record (a file with its record), then
			// deleted with it: its create and delete may never have left.
			if with, ok := w.cameBackWith[e.rec]; ok && later(entry{client: e.client, rec: with, at: e.at}, func(e2 entry) bool { return e2.kind == "delete" }) {
				continue
			}
			w.violate("%s's create of %s #%d vanished", name, w.kinds[e.rec], w.index[e.rec])
		case "delete":
			// An edit after the delete replaced it: the delete was refused,
			// the record showed again, and the person edited it.
			if took(wkey{e.client, e.rec, "delete", "", ""}, e.at) || !onServer || sr.Deleted ||
				later(e, func(e2 entry) bool { return e2.kind == "field" }) {
				continue
			}
			deleted := false
			for _, r := range h {
				deleted = deleted || r.Deleted
			}
			if !deleted {
				w.violate("%s's delete of %s #%d vanished: the server still has it at version %d", name, w.kinds[e.rec], w.index[e.rec], sr.Version)
			}
		case "field":
			if took(wkey{e.client, e.rec, "field", e.field, e.value}, e.at) {
				continue
			}
			found := onServer && sr.Fields[e.field] == e.value
			for _, r := range h {
				found = found || r.Fields[e.field] == e.value
			}
			if found || later(e, func(e2 entry) bool {
				return e2.kind == "delete" || (e2.kind == "field" && e2.field == e.field)
			}) {
				continue
			}
			w.violate("%s's edit of %s #%d (%s = %q) vanished: no version of the record ever had it", name, w.kinds[e.rec], w.index[e.rec], e.field, e.value)
		}
	}
}
