package sim

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"casefile/config"
	"casefile/localdb"
	"casefile/model"
	"casefile/server"
)

// repairQueued is how many notes the repair phase's client holds queued
// when its database is damaged: enough that salvaging and restoring them
// is a good part of a repair's run, where a kill draws it.
const repairQueued = 300

// repairPhase kills `casefile doctor --repair` of a damaged database
// holding queued changes until target kills landed. Each run repairs a
// fresh copy of one damaged client (its own user, so that the repair's
// pull stays small); the kill moments are spread evenly over how long an
// unkilled repair takes here, as startPhase's are. After each kill
// doctor --repair runs again to its end and every queued change is still
// queued (the server has them from earlier copies, so only the queue
// tells a change lost), and a sync empties the queue; at the end the
// notes are on the server and no op applied twice.
func (r *crashRig) repairPhase(target int) {
	tpl, ops := r.damagedClient()
	copyOf := func(name string) string {
		data := filepath.Join(r.dir, name)
		if err := os.CopyFS(data, os.DirFS(tpl)); err != nil {
			r.t.Fatal(err)
		}
		return data
	}
	var took []time.Duration
	for i := range 3 {
		data := copyOf(fmt.Sprintf("repair-unkilled-%d", i))
		began := time.Now()
		r.mustRun(data, "doctor", "--repair")
		took = append(took, time.Since(began))
	}
	notes := r.checkRepaired(filepath.Join(r.dir, "repair-unkilled-0"), ops)
	slices.Sort(took)
	slice := took[1] / time.Duration(target)
	for n := 0; r.kills["repair"] < target; n++ {
		if n > 4*target {
			r.t.Fatalf("only %d repair kills landed in %d runs", r.kills["repair"], n)
		}
		data := copyOf(fmt.Sprintf("repair-%d", n))
		delay := time.Duration(n%target)*slice + time.Duration(r.rnd.Float64()*float64(slice))
		killed, code, out := r.killAt("repair", delay, data, "doctor", "--repair")
		if !killed && code != 0 {
			r.t.Fatalf("doctor --repair exited %d:\n%s", code, out)
		}
		if killed {
			r.mustRun(data, "doctor", "--repair")
		}
		r.checkRepaired(data, ops)
	}
	r.checkRepairedOnServer(notes)
}

// damagedClient makes a client of a user of its own with repairQueued
// notes queued and a page of an index of its records overwritten, so
// that doctor finds the file damaged, and returns its data directory and
// the ids of its queued ops.
func (r *crashRig) damagedClient() (data string, ops []string) {
	carol := r.srv.NewUser(r.t, "carol", server.RoleMember)
	matter := carol.CreateMatter(r.t, "Repair site").ID
	data = filepath.Join(r.dir, "repair-template")
	r.loginAs(data, "carol", "repair")
	r.mustRun(data, "sync")
	var first string
	r.local(data, func(db *localdb.DB) {
		ctx := context.Background()
		for i := range repairQueued {
			rec, err := db.Create(ctx, "note", "", model.Fields{model.MatterField: matter, "title": fmt.Sprintf("queued %d", i)})
			if err != nil {
				r.t.Fatal(err)
			}
			if i == 0 {
				first = rec.ID
			}
		}
	})
	// A file attached offline: its record is salvaged with the notes, and
	// its bytes must still go up after the repair.
	src := filepath.Join(r.dir, "repair exhibit.pdf")
	if err := os.WriteFile(src, []byte(strings.Repeat("exhibit bytes ", 5000)), 0o600); err != nil {
		r.t.Fatal(err)
	}
	r.mustRun(data, "attach", first, src)
	r.local(data, func(db *localdb.DB) {
		ctx := context.Background()
		queued, err := db.Outbox(ctx)
		if err != nil {
			r.t.Fatal(err)
		}
		for _, o := range queued {
			ops = append(ops, o.OpID)
		}
	})
	path := config.DBPath(data)
	sdb, err := sql.Open("sqlite", path)
	if err != nil {
		r.t.Fatal(err)
	}
	var page int64
	err = sdb.QueryRow("SELECT rootpage FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records' AND rootpage > 0 ORDER BY name LIMIT 1").Scan(&page)
	if err == nil {
		_, err = sdb.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	}
	if cerr := sdb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		r.t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	const pageSize = 4096 // SQLite's default, casefile's
	_, err = f.WriteAt([]byte(strings.Repeat("\xde\xad", pageSize/2)), (page-1)*pageSize)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		r.t.Fatal(err)
	}
	// SQLite says so in the check's lines or, as often, by failing it.
	if bad, err := integrityCheck(path); err == nil && len(bad) == 0 {
		r.t.Fatalf("the overwritten page %d left the file whole: the repair phase would test nothing", page)
	}
	return data, ops
}

// checkRepaired checks a client a repair ran to its end on: the file
// whole, every op of ops queued, no unfinished repair left beside it;
// then a sync sends them all. It returns the queued notes' ids.
func (r *crashRig) checkRepaired(data string, ops []string) (notes []string) {
	r.t.Helper()
	path := config.DBPath(data)
	if bad, err := integrityCheck(path); err != nil || len(bad) > 0 {
		r.t.Fatalf("%s after the repair: %q %v", data, bad, err)
	}
	r.local(data, func(db *localdb.DB) {
		queued, err := db.Outbox(context.Background())
		if err != nil {
			r.t.Fatal(err)
		}
		var ids []string
		for _, o := range queued {
			ids = append(ids, o.OpID)
			notes = append(notes, o.RecordID)
		}
		var lost []string
		for _, id := range ops {
			if !slices.Contains(ids, id) {
				lost = append(lost, id)
			}
		}
		if len(lost) > 0 {
			r.t.Errorf("%s: the repair lost %d of %d queued ops, the first %s", data, len(lost), len(ops), lost[0])
		}
	})
	for _, p := range []string{localdb.RepairingPath(path), localdb.RepairedPath(path)} {
		if _, err := os.Stat(p); err == nil {
			r.t.Errorf("%s: %s is still there after the repair", data, filepath.Base(p))
		}
	}
	r.mustRun(data, "sync")
	r.local(data, func(db *localdb.DB) {
		if left, err := db.Outbox(context.Background()); err != nil || len(left) > 0 {
			r.t.Errorf("%s: %d op(s) left after the sync (%v)", data, len(left), err)
		}
	})
	var files []struct{ Name, State string }
	if err := json.Unmarshal([]byte(r.mustRun(data, "files", "--json")), &files); err != nil {
		r.t.Fatal(err)
	}
	if len(files) != 1 || files[0].State != "uploaded" {
		r.t.Errorf("%s: the file attached before the repair, after a sync: %+v (want one, uploaded)", data, files)
	}
	return notes
}

// checkRepairedOnServer checks, once all the copies synced, that no op
// applied twice and that the server holds each of the queued notes.
func (r *crashRig) checkRepairedOnServer(notes []string) {
	r.t.Helper()
	recs := r.checkOnce("after the repair kills")
	for _, id := range notes {
		if rec, ok := recs[id]; !ok || rec.Deleted {
			r.t.Errorf("note %s, queued before the repair, is not on the server", id)
		}
	}
}

// newRepairRand is the stream that picks which crashes the simulation
// follows with a repair: its own, so that no other draw moves.
func newRepairRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed^0x726570616972, seed)) }

// repairs reports whether this crash is one after which the file is
// rebuilt (one in eight).
func (w *world) repairs() bool {
	w.rmu.Lock()
	defer w.rmu.Unlock()
	return w.prnd.IntN(8) == 0
}

// repair rebuilds c's database as casefile doctor --repair does once a
// crash has left it damaged: the queued ops salvaged from the file go,
// under their own ids and with their marks, into a new one that takes its
// place; the records, conflicts and journal go with the old file, and the
// next syncs pull the rest from the first sequence. The convergence
// checks then hold the device to every write it made before.
func (w *world) repair(c *client) {
	var opts []localdb.Option
	if c.keys != nil {
		opts = append(opts, localdb.WithSealer(c.keys))
	}
	old, err := c.dead[len(c.dead)-1].Journal(w.ctx, localdb.JournalQuery{})
	w.must(c.name+": the journal of the file put aside", err)
	c.past = append(old, c.past...)
	s, err := localdb.Salvage(w.ctx, c.path, opts...)
	w.must("salvage", err)
	if len(s.Lost) > 0 {
		w.violate("%s: the salvage of a whole file lost %q", c.name, s.Lost)
	}
	w.must("remove a half-built repair", localdb.RemoveRepairing(c.path))
	db, err := localdb.Open(w.ctx, localdb.RepairingPath(c.path), w.schema, opts...)
	w.must("open the new database", err)
	w.must("restore the salvaged ops", db.RestoreOps(w.ctx, s))
	w.must("close the new database", db.Close())
	w.must("complete the repair", localdb.CompleteRepairing(w.ctx, c.path))
	_, err = localdb.FinishRepair(c.path)
	w.must("put the new database in place", err)
	// A new file: its cursor and journal start again.
	c.cursor, c.resyncSeen = 0, 0
	w.stats.inc("contract: repairs after a crash", 1)
	w.tracef("%s repair", c.name)
}

// journalOf is c's journal, newest first: its file's, then those of the
// files repairs put aside.
func (w *world) journalOf(c *client) []localdb.JournalEntry {
	j, err := c.db.Journal(w.ctx, localdb.JournalQuery{})
	w.must(c.name+": journal", err)
	return append(j, c.past...)
}
