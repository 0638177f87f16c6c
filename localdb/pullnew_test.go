package localdb

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"casefile/internal/racetest"
	"casefile/model"
	"casefile/protocol"
)

// TestPullPageMixingNewAndOldPaths: pages whose new records take the
// multi-row path and whose others take pullRecord — updates, a conflicting
// queued edit, tombstones with and without queued ops, a move between
// matters, a record held twice, a dropped record coming back to its failed
// ops, a removed record, a dropped matter, a full resync — leave the
// database as the one-by-one path leaves it: rows and rids, full-text
// entries and what they find, ops, conflicts, journal and meta.
func TestPullPageMixingNewAndOldPaths(t *testing.T) {
	racetest.Plain(t)
	for _, sealed := range []bool{false, true} {
		for _, resync := range []bool{false, true} {
			t.Run(fmt.Sprintf("sealed=%v/resync=%v", sealed, resync), func(t *testing.T) {
				var opts []Option
				if sealed {
					opts = append(opts, WithSealer(mustKeys(t)))
				}
				at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
				opts = append(opts, WithClock(func() time.Time { return at }))
				seed := filepath.Join(t.TempDir(), "seed")
				pages := seedMixedPull(t, seed, opts, resync)
				var views [2]string
				for _, ahead := range []bool{false, true} {
					views = bothWays(t, seed, opts, func(db *DB, oneByOne bool) string {
						db.pullOneByOne = oneByOne
						for _, p := range pages {
							var a *PullAhead
							if ahead {
								// Prepared before the transaction, not knowing
								// which records the device holds.
								var err error
								if a, err = db.PrepareAhead(p.Records); err != nil {
									t.Fatal(err)
								}
							}
							if err := db.ApplyPrepared(bg, p, a); err != nil {
								t.Fatal(err)
							}
						}
						return pulledView(t, db, pages)
					})
					if views[0] != views[1] {
						t.Fatalf("one by one:\n%s\nmulti-row (prepared ahead: %v):\n%s", views[0], ahead, views[1])
					}
				}
				if !strings.Contains(views[0], "title:B, mine] map[") || !strings.Contains(views[0], "title:B, theirs]") ||
					!strings.Contains(views[0], "Note 80 about the filing") {
					t.Fatalf("the pages did not reach what they test:\n%s", views[0])
				}
			})
		}
	}
}

// seedMixedPull leaves in dir a closed database holding what the pages it
// returns meet: synced records, queued edits, failed ops of a dropped
// record.
func seedMixedPull(t *testing.T, dir string, opts []Option, resync bool) []protocol.PullResponse {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := Open(bg, filepath.Join(dir, "casefile.db"), testSchema(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m1, m2, m4 := syncedMatter(t, db), syncedMatter(t, db), syncedMatter(t, db)
	note := func(m string, v int64, title string) protocol.Record {
		return serverRecord(model.NewID(), "note", m, v, model.Fields{"matter_id": m, "title": title})
	}
	again := func(r protocol.Record, v int64, fields model.Fields) protocol.Record {
		return serverRecord(r.ID, r.Collection, r.MatterID, v, fields)
	}
	a, b, c, d, e, g, h, rm, inM4, unshown, unshownEdited := note(m1, 1, "A"), note(m1, 1, "B"), note(m1, 1, "C"),
		note(m1, 1, "D"), note(m1, 1, "E"), note(m4, 1, "G"), note(m1, 1, "H"), note(m1, 1, "R"), note(m4, 1, "in four"),
		note(m1, 1, "unshown"), note(m1, 1, "unshown, edited")
	pull(t, db, 10, a, b, c, d, e, g, h, rm, inM4, unshown, unshownEdited)
	mustUpdate(t, db, b.ID, model.Fields{"title": "B, mine"})
	mustUpdate(t, db, c.ID, model.Fields{"body": "C, mine"})
	mustUpdate(t, db, g.ID, model.Fields{"body": "G, mine"})
	mustUpdate(t, db, unshownEdited.ID, model.Fields{"body": "mine"})
	// G's matter goes: G leaves the device, its edit stays as a failed op.
	if err := db.ApplyPull(bg, protocol.PullResponse{DroppedMatters: []string{m4}, Cursor: 11}); err != nil {
		t.Fatal(err)
	}
	if resync {
		if err := db.ResetCursor(bg); err != nil {
			t.Fatal(err)
		}
	}
	x := note(m1, 1, "X")
	newNote := func(m string, i int) protocol.Record {
		r := note(m, 1, fmt.Sprintf("Note %d about the filing", i))
		r.Fields["body"] = fmt.Sprintf("Spoke to the clerk, item %d; bring the bundle.", i)
		r.UpdatedBy = "bob"
		return r
	}
	gone := note(m1, 3, "gone")
	gone.Deleted = true
	page1 := []protocol.Record{newNote(m1, 1), again(a, 2, model.Fields{"matter_id": m1, "title": "A2"}), newNote(m2, 2),
		again(b, 2, model.Fields{"matter_id": m1, "title": "B, theirs"}), newNote(m1, 3), x,
		again(x, 2, model.Fields{"matter_id": m1, "title": "X2"}), tombstone(c, 2), newNote(m1, 4), tombstone(d, 2),
		again(e, 2, model.Fields{"matter_id": m2, "title": "E moved"}), again(g, 2, model.Fields{"matter_id": m1, "title": "G back"}),
		gone, newNote(m4, 5), newNote(m1, 6)}
	page2 := []protocol.Record{serverRecord(m1, "matter", m1, 1, model.Fields{"title": "Smith v Jones"}),
		serverRecord(m2, "matter", m2, 1, model.Fields{"title": "Smith v Jones"})}
	for i := 10; i < 200; i++ { // three chunks: prepared beside the transaction
		page2 = append(page2, newNote(m1, i))
		switch i {
		case 40:
			page2 = append(page2, again(h, 2, model.Fields{"matter_id": m1, "title": "H2"}))
		case 41:
			page2 = append(page2, a, again(e, 2, model.Fields{"matter_id": m2, "title": "E moved"}))
		case 70:
			page2[len(page2)-1].UpdatedAt = time.Time{} // stamped with the device's clock
		}
	}
	return []protocol.PullResponse{
		{Records: page1, Removed: []protocol.Removal{{ID: rm.ID}}, DroppedMatters: []string{m4}, Cursor: 100, More: true},
		{Records: page2, Cursor: 200},
	}
}

func tombstone(r protocol.Record, v int64) protocol.Record {
	r = serverRecord(r.ID, r.Collection, r.MatterID, v, r.Fields)
	r.Deleted = true
	return r
}

// pulledView renders what a pull leaves, opened where sealed: records
// with their rids and fields, full-text rowids and what searches find,
// ops, conflicts, journal and meta.
func pulledView(t *testing.T, db *DB, pages []protocol.PullResponse) string {
	t.Helper()
	var b strings.Builder
	caughtUp(t, db)
	rows, err := db.r.QueryContext(bg, "SELECT rid, id FROM records ORDER BY rid")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		var rid int64
		var id string
		if err := rows.Scan(&rid, &id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		r, err := db.getRow(bg, db.r, id)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%d %s %s %s v%d %v %v %s %d %v %v\n", r.rid, r.id, r.collection, r.matterID, r.version,
			r.baseDeleted, r.deleted, r.state, r.updatedAt, r.fields, r.base)
	}
	for _, q := range []string{
		"SELECT rowid FROM records_fts ORDER BY rowid",
		"SELECT resync_mark, id FROM records ORDER BY rid",
		"SELECT seq, op_id, record_id, collection, kind, base_version, state, attempts, error_code, last_error, next_attempt, created_at, updated_at FROM outbox ORDER BY seq",
		"SELECT key, value FROM meta ORDER BY key",
	} {
		b.WriteString("--\n")
		dumpRows(t, &b, db.r, q)
	}
	cs, err := db.Conflicts(bg)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "--\n%+v\n", cs)
	j, err := db.Journal(bg, JournalQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range j {
		fmt.Fprintf(&b, "%+v\n", e)
	}
	searchView(t, &b, db, "clerk", "filing", "A2", "H2", "X2", "moved", "back", "Note 42", "bundle")
	return b.String()
}

// bothWays applies what apply applies to two copies of the closed
// database in seed, one by one (oneByOne true) and by the path under test,
// and returns the views apply returns: [one by one, under test].
func bothWays(t *testing.T, seed string, opts []Option, apply func(db *DB, oneByOne bool) string) [2]string {
	t.Helper()
	var views [2]string
	for i, oneByOne := range []bool{true, false} {
		dir := filepath.Join(t.TempDir(), fmt.Sprint(i))
		copyDir(t, seed, dir)
		db, err := Open(bg, filepath.Join(dir, "casefile.db"), testSchema(t), opts...)
		if err != nil {
			t.Fatal(err)
		}
		views[i] = apply(db, oneByOne)
		db.Close()
	}
	return views
}

// searchView writes to b the ids each word finds, sorted.
func searchView(t *testing.T, b *strings.Builder, db *DB, words ...string) {
	t.Helper()
	for _, word := range words {
		fmt.Fprintf(b, "search %q: %v\n", word, searchIDs(t, db, word))
	}
}

// copyDir copies the database files of a closed database.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue // the senders' locks (claimsSuffix), no database file
		}
		src, err := os.Open(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.Create(filepath.Join(to, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			t.Fatal(err)
		}
		src.Close()
		if err := dst.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestApplyPreparedTakesTheRowsPreparedAhead: ApplyPrepared writes the
// rows PrepareAhead made for the very records it applies, and prepares
// again for any other records, even equal ones; an ahead never applied
// stops.
func TestApplyPreparedTakesTheRowsPreparedAhead(t *testing.T) {
	db := openTest(t)
	m := syncedMatter(t, db)
	page := func(n int) []protocol.Record {
		var recs []protocol.Record
		for i := range n {
			recs = append(recs, serverRecord(model.NewID(), "note", m, 1, model.Fields{"matter_id": m, "title": fmt.Sprint("note ", i)}))
		}
		return recs
	}
	// Three chunks: prepared on a goroutine of its own.
	recs := page(3 * pullPrepChunk)
	ahead, err := db.PrepareAhead(recs)
	if err != nil {
		t.Fatal(err)
	}
	ahead.pp.wg.Wait()
	// Changed after preparing: what is written tells which rows were taken.
	recs[0].Fields = model.Fields{"matter_id": m, "title": "changed after preparing"}
	if err := db.ApplyPrepared(bg, protocol.PullResponse{Records: recs, Cursor: 2}, ahead); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, db, recs[0].ID).Fields["title"]; got != "note 0" {
		t.Fatalf("title %q: the rows prepared ahead were not taken", got)
	}
	if got := mustGet(t, db, recs[len(recs)-1].ID).Fields["title"]; got != fmt.Sprint("note ", len(recs)-1) {
		t.Fatalf("last record's title %q", got)
	}

	// Equal records in another slice are prepared again.
	recs = page(2)
	if ahead, err = db.PrepareAhead(recs); err != nil {
		t.Fatal(err)
	}
	other := slices.Clone(recs)
	other[0].Fields = model.Fields{"matter_id": m, "title": "another slice"}
	if err := db.ApplyPrepared(bg, protocol.PullResponse{Records: other, Cursor: 3}, ahead); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, db, recs[0].ID).Fields["title"]; got != "another slice" {
		t.Fatalf("title %q: rows prepared for other records were taken", got)
	}
	if !ahead.used {
		t.Fatal("the ahead of other records was not stopped")
	}

	// An ahead nobody applies stops, and stops once.
	if ahead, err = db.PrepareAhead(page(3 * pullPrepChunk)); err != nil {
		t.Fatal(err)
	}
	ahead.Stop()
	ahead.Stop()
	if !ahead.pp.stopped.Load() {
		t.Fatal("Stop did not stop the preparing")
	}
	var none *PullAhead
	none.Stop()

	// Close waits for the preparing.
	if ahead, err = db.PrepareAhead(page(3 * pullPrepChunk)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for c, ready := range ahead.pp.ready {
		select {
		case <-ready:
		default:
			t.Fatalf("chunk %d was still being prepared after Close", c)
		}
	}
}

// TestPulledRecordsIndexedAtTheirRids: new records pulled many per
// statement take the rids after the largest, and each one's full-text row
// goes to its own rid. A database whose largest rid is the largest
// possible makes SQLite draw rids at random instead: the writer reads
// them back, and every record is still found by its own words and no
// other's.
func TestPulledRecordsIndexedAtTheirRids(t *testing.T) {
	for _, top := range []bool{false, true} {
		t.Run(fmt.Sprint("largest rid taken ", top), func(t *testing.T) {
			db := openTest(t)
			m := syncedMatter(t, db)
			if top {
				id := model.NewID()
				fj := `{"matter_id":"` + m + `","title":"at the top"}`
				if _, err := db.w.Exec(`INSERT INTO records (rid, id, collection, matter_id, fields, base_fields, version, state, updated_at)
					VALUES (9223372036854775807, ?, 'note', ?, ?, ?, 1, ?, 1)`,
					id, m, db.sealText(fj, recordPlace("fields", "note", id)), baseSame, model.StateSynced); err != nil {
					t.Fatal(err)
				}
			}
			// 64 + 16 + 4 + 1 + 1 rows: every statement size, prepared on
			// a goroutine of its own.
			var recs []protocol.Record
			for i := range 86 {
				recs = append(recs, serverRecord(model.NewID(), "note", m, 1,
					model.Fields{"matter_id": m, "title": fmt.Sprintf("word%dx visit", i)}))
			}
			ahead, err := db.PrepareAhead(recs)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.ApplyPrepared(bg, protocol.PullResponse{Records: recs, Cursor: 2}, ahead); err != nil {
				t.Fatal(err)
			}
			for i, r := range recs {
				found, err := db.Search(bg, fmt.Sprintf("word%dx", i), 10)
				if err != nil {
					t.Fatal(err)
				}
				if len(found) != 1 || found[0].ID != r.ID {
					t.Fatalf("search for record %d's word finds %v, want %s", i, found, r.ID)
				}
			}
			if found, err := db.Search(bg, "visit", 200); err != nil || len(found) != len(recs) {
				t.Fatalf("search for the shared word finds %d records (%v), want %d", len(found), err, len(recs))
			}
		})
	}
}
