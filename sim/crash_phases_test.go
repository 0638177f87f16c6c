package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"casefile/config"
	"casefile/localdb"
	"casefile/model"
)

// startPhase kills new data directories' first command (casefile status,
// which makes the directory's key, then its database) until target kills
// landed. The kill moments are spread evenly over how long a first start
// takes here, each at a seeded point of its own slice, so that every part
// of it is drawn, the few milliseconds between the key and the database's
// first page among them. After each kill doctor finds nothing (afterKill,
// which is the directory's next start), and a later command runs and
// leaves no note of an unfinished start.
func (r *crashRig) startPhase(target int) {
	var took []time.Duration
	for i := range 3 {
		data := filepath.Join(r.dir, fmt.Sprintf("start-unkilled-%d", i))
		began := time.Now()
		r.mustRun(data, "status")
		took = append(took, time.Since(began))
	}
	slices.Sort(took)
	slice := took[1] / time.Duration(target)
	for n := 0; r.kills["start"] < target; n++ {
		if n > 4*target {
			r.t.Fatalf("only %d first-start kills landed in %d runs", r.kills["start"], n)
		}
		data := filepath.Join(r.dir, fmt.Sprintf("start-%d", n))
		delay := time.Duration(n%target)*slice + time.Duration(r.rnd.Float64()*float64(slice))
		killed, code, out := r.runAt("start", delay, data, "status")
		if !killed && code != 0 {
			r.t.Fatalf("a first start exited %d:\n%s", code, out)
		}
		r.mustRun(data, "status")
		if _, err := os.Stat(config.DBPath(data) + ".starting"); err == nil {
			r.t.Errorf("%s: a start ran to its end and left its note of an unfinished start", data)
		}
	}
}

// Import sizes: a file is imported in batches, each one transaction.
const (
	importNotes = 400
	importBatch = 20
)

// writeImport writes notes with given ids (so that a resumed import can
// tell what is already here) to a JSON Lines file.
func (r *crashRig) writeImport(name string, ids []string, first int) string {
	var b strings.Builder
	for i, id := range ids {
		line, err := json.Marshal(map[string]any{"id": id, model.MatterField: r.matter, "title": fmt.Sprintf("note %d", first+i)})
		if err != nil {
			r.t.Fatal(err)
		}
		b.Write(append(line, '\n'))
	}
	path := filepath.Join(r.dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		r.t.Fatal(err)
	}
	return path
}

// importPhase kills `casefile import` until target kills landed. After
// each kill the notes here are exactly a prefix of the file in whole
// batches; the import resumes with the rest of the file. Now and then the
// whole file is imported again after a kill: it skips the notes already
// here and imports the rest.
func (r *crashRig) importPhase(target int) {
	for file := 0; r.kills["import"] < target; file++ {
		if file > 50 {
			r.t.Fatalf("only %d import kills landed in %d files", r.kills["import"], file)
		}
		ids := make([]string, importNotes)
		for i := range ids {
			ids[i] = model.NewID()
		}
		whole := r.writeImport(fmt.Sprintf("notes-%d.jsonl", file), ids, len(r.ids))
		done := 0
		for done < len(ids) {
			rest := r.writeImport(fmt.Sprintf("notes-%d-from-%d.jsonl", file, done), ids[done:], len(r.ids)+done)
			args := []string{"import", "note", "--file", rest, "--batch", strconv.Itoa(importBatch)}
			var killed bool
			var code int
			var out string
			if r.kills["import"] < target {
				killed, code, out = r.run("import", r.data, args...)
			} else {
				out = r.mustRun(r.data, args...)
			}
			held := r.heldIDs(r.data)
			k := 0
			for k < len(ids) && held[ids[k]] {
				k++
			}
			for j := k; j < len(ids); j++ {
				if held[ids[j]] {
					r.t.Fatalf("file %d: note %d is here but note %d is not: the import is not a prefix", file, j, k)
				}
			}
			if (k-done)%importBatch != 0 && k != len(ids) {
				r.t.Errorf("file %d: the run imported %d notes, not whole batches of %d", file, k-done, importBatch)
			}
			if !killed && (code != 0 || k != len(ids)) {
				r.t.Fatalf("file %d: import exited %d with %d of %d notes here:\n%s", file, code, k, len(ids), out)
			}
			if killed && k > 0 && r.rnd.IntN(4) == 0 {
				r.reimport(whole, ids, len(held), k)
				k = len(ids)
			}
			done = k
		}
		r.ids = append(r.ids, ids...)
	}
}

// reimport runs the whole file again: the notes already here are
// skipped (the same values) and counted, the rest imported; nothing is
// here twice.
func (r *crashRig) reimport(path string, ids []string, before, here int) {
	r.t.Helper()
	var out strings.Builder
	cmd := r.command(r.data, "import", "note", "--file", path, "--batch", strconv.Itoa(importBatch))
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil || !strings.Contains(out.String(), fmt.Sprintf("skipped %d records already here with the same values", here)) {
		r.t.Errorf("importing a file again after a kill: %v\n%s", err, out.String())
	}
	held := r.heldIDs(r.data)
	if len(held) != before+len(ids)-here {
		r.t.Errorf("importing the file again took the records here from %d to %d, want %d", before, len(held), before+len(ids)-here)
	}
	for _, id := range ids {
		if !held[id] {
			r.t.Fatalf("importing the file again left out %s", id)
		}
	}
}

// editSome edits the titles of n random imported notes here, between runs.
func (r *crashRig) editSome(n int) {
	r.local(r.data, func(db *localdb.DB) {
		for range n {
			id := r.ids[r.rnd.IntN(len(r.ids))]
			title := fmt.Sprintf("edit %d of %s", len(r.edits)+r.nedits[id], id[len(id)-6:])
			title = fmt.Sprintf("%s #%d", title, r.rnd.Uint32())
			if _, err := db.Update(context.Background(), id, model.Fields{"title": title}); err != nil {
				r.t.Fatal(err)
			}
			r.edits[id], r.nedits[id] = title, r.nedits[id]+1
		}
	})
}

// cascadeSome makes a matter holding a few notes here, and once the
// server has it, deletes it with its notes: the kills then land in pushes
// that carry a matter's delete behind its records'.
func (r *crashRig) cascadeSome() {
	r.local(r.data, func(db *localdb.DB) {
		ctx := context.Background()
		if r.doomed == "" {
			m, err := db.Create(ctx, model.MatterCollection, "", model.Fields{"title": fmt.Sprintf("doomed %d", r.cascades)})
			if err != nil {
				r.t.Fatal(err)
			}
			for i := range 3 {
				if _, err := db.Create(ctx, "note", "", model.Fields{model.MatterField: m.ID, "title": fmt.Sprintf("held %d", i)}); err != nil {
					r.t.Fatal(err)
				}
			}
			r.doomed = m.ID
			return
		}
		if m, err := db.Get(ctx, r.doomed); err != nil || m.State != model.StateSynced {
			return // not on the server yet: a later round deletes it
		}
		if n, err := db.DeleteCascade(ctx, r.doomed); err != nil || n != 3 {
			r.t.Fatalf("delete the doomed matter with its notes: %d, %v", n, err)
		}
		r.doomed = ""
		r.cascades++
	})
}

// syncPhase kills `casefile sync` pushing thousands of ops until target
// kills landed, with local edits between the runs. After each kill no op
// has taken effect twice on the server.
func (r *crashRig) syncPhase(target int) {
	for round := 0; r.kills["sync"] < target; round++ {
		if round > 400 {
			r.t.Fatalf("only %d sync kills landed in %d runs", r.kills["sync"], round)
		}
		r.editSome(5)
		r.cascadeSome()
		killed, code, out := r.run("sync", r.data, "sync")
		r.checkOnce(fmt.Sprintf("sync kill %d", r.kills["sync"]))
		if killed {
			continue
		}
		if code != 0 {
			r.t.Fatalf("sync exited %d:\n%s", code, out)
		}
		r.checkMirror(r.data, true)
		// Everything went: give the next runs more to push.
		r.editSome(100)
	}
	r.mustRun(r.data, "sync")
	r.checkOnce("after the sync kills")
	r.checkMirror(r.data, true)
}

// checkMirror checks that a client holds exactly the server's records,
// field for field, with nothing left to send; with edits, that every
// note's last local title is the server's.
func (r *crashRig) checkMirror(data string, edits bool) {
	r.t.Helper()
	recs, _ := r.serverState()
	r.local(data, func(db *localdb.DB) {
		ctx := context.Background()
		ops, err := db.Outbox(ctx)
		if err != nil {
			r.t.Fatal(err)
		}
		if len(ops) > 0 {
			r.t.Errorf("%d op(s) left after a complete sync, the first %s %s", len(ops), ops[0].State, ops[0].Kind)
		}
		local, err := db.List(ctx, localdb.ListQuery{IncludeDeleted: true})
		if err != nil {
			r.t.Fatal(err)
		}
		live := 0
		for _, sr := range recs {
			if !sr.Deleted {
				live++
			}
		}
		if len(local) != live {
			r.t.Errorf("the client holds %d records, the server %d live ones", len(local), live)
		}
		for _, rec := range local {
			sr, ok := recs[rec.ID]
			switch {
			case !ok:
				r.t.Errorf("%s %s is here, not on the server", rec.Collection, rec.ID)
			case rec.Version != sr.Version || len(diffFields(r.schema, rec.Collection, rec.Fields, sr.Fields)) > 0:
				r.t.Errorf("%s differs: here version %d %v, server version %d %v", rec.ID, rec.Version, rec.Fields, sr.Version, sr.Fields)
			case edits && r.edits[rec.ID] != "" && sr.Fields["title"] != r.edits[rec.ID]:
				r.t.Errorf("note %s: the server's title is %q, the last edit here %q", rec.ID, sr.Fields["title"], r.edits[rec.ID])
			}
		}
	})
}

// pullPhase kills fresh clients' first sync, which pulls every record,
// until target kills landed. After each kill the client holds exactly the
// server's records up to its cursor: each page went in whole with it.
func (r *crashRig) pullPhase(target int) {
	recs, _ := r.serverState()
	for n := 0; r.kills["pull"] < target; n++ {
		if n > 60 {
			r.t.Fatalf("only %d pull kills landed for %d fresh clients", r.kills["pull"], n)
		}
		data := filepath.Join(r.dir, fmt.Sprintf("fresh-%d", n))
		r.login(data, fmt.Sprintf("fresh-%d", n))
		for runs := 0; ; runs++ {
			if runs > 100 {
				r.t.Fatalf("fresh client %d never finished its pull", n)
			}
			var killed bool
			var code int
			var out string
			if r.kills["pull"] < target {
				killed, code, out = r.run("pull", data, "sync")
			} else {
				out = r.mustRun(data, "sync") // enough kills: finish the pull
			}
			if !killed && code != 0 {
				r.t.Fatalf("fresh client %d: sync exited %d:\n%s", n, code, out)
			}
			var cursor int64
			r.local(data, func(db *localdb.DB) {
				st, err := db.Status(context.Background())
				if err != nil {
					r.t.Fatal(err)
				}
				cursor = st.Cursor
			})
			held := r.heldIDs(data)
			for id, rec := range recs {
				if want := rec.Seq <= cursor && !rec.Deleted; held[id] != want {
					r.t.Errorf("fresh client %d at cursor %d: holds %s (seq %d): %v, want %v", n, cursor, id, rec.Seq, held[id], want)
				}
			}
			if len(held) > len(recs) {
				r.t.Errorf("fresh client %d holds %d records, the server has %d", n, len(held), len(recs))
			}
			if !killed {
				break
			}
		}
		r.checkMirror(data, false)
	}
}

// undoPhase kills `casefile undo` until target kills landed. Each round
// edits a note's title here and runs an undo of that edit: after a kill
// the undo happened whole (the title is back, and the journal holds one
// more undo, whose op is queued) or not at all (the edit stands, the
// journal as it was); an undo that did not happen is run again to its
// end. Every few rounds a sync sends the undos, and no op takes effect
// twice.
func (r *crashRig) undoPhase(target int) {
	ctx := context.Background()
	state := func(id string) (title string, undos int, queued bool) {
		r.local(r.data, func(db *localdb.DB) {
			rec, err := db.Get(ctx, id)
			if err != nil {
				r.t.Fatal(err)
			}
			title, _ = rec.Fields["title"].(string)
			js, err := db.Journal(ctx, localdb.JournalQuery{})
			if err != nil {
				r.t.Fatal(err)
			}
			for _, e := range js {
				if e.Kind == localdb.JournalUndo {
					undos++
					if e.RecordID == id && undos == 1 {
						ops, err := db.Outbox(ctx)
						if err != nil {
							r.t.Fatal(err)
						}
						for _, o := range ops {
							queued = queued || o.OpID == e.OpID
						}
					}
				}
			}
		})
		return title, undos, queued
	}
	for round := 0; r.kills["undo"] < target; round++ {
		if round > 400 {
			r.t.Fatalf("only %d undo kills landed in %d runs", r.kills["undo"], round)
		}
		id := r.ids[r.rnd.IntN(len(r.ids))]
		before, undos, _ := state(id)
		edited := fmt.Sprintf("undo round %d #%d", round, r.rnd.Uint32())
		r.local(r.data, func(db *localdb.DB) {
			if _, err := db.Update(ctx, id, model.Fields{"title": edited}); err != nil {
				r.t.Fatal(err)
			}
		})
		r.nedits[id]++ // the edit and its undo fold into one op
		killed, code, out := r.run("undo", r.data, "undo")
		if !killed && code != 0 {
			r.t.Fatalf("undo exited %d:\n%s", code, out)
		}
		title, after, queued := state(id)
		switch {
		case title == before && after == undos+1 && queued:
		case title == edited && after == undos && killed:
			r.mustRun(r.data, "undo")
			if title, after, _ = state(id); title != before || after != undos+1 {
				r.t.Fatalf("undo after a kill: title %q, %d undos; want %q and %d", title, after, before, undos+1)
			}
		default:
			r.t.Fatalf("undo round %d (killed %v): title %q with %d undo(s) (queued %v); before %q with %d, edited %q",
				round, killed, title, after, queued, before, undos, edited)
		}
		if round%5 == 4 {
			r.mustRun(r.data, "sync")
			r.checkOnce(fmt.Sprintf("undo kill %d", r.kills["undo"]))
		}
	}
	r.mustRun(r.data, "sync")
	r.checkOnce("after the undo kills")
	r.checkMirror(r.data, true)
}
