package localdb

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
)

// TestPushAnswersMixingSimpleAndGeneralPaths: a batch of answers whose
// simple acks take their own path (fields as stored text, journal rows
// many to a statement, only changed indexed columns written) interleaved
// with answers of the general path leaves the database as answering every
// one through the general path (applyAck) leaves it: records with their
// stored texts, full-text entries and what they find, ops, conflicts, the
// journal in order with its stored texts, and meta.
func TestPushAnswersMixingSimpleAndGeneralPaths(t *testing.T) {
	for _, sealed := range []bool{false, true} {
		t.Run(fmt.Sprintf("sealed=%v", sealed), func(t *testing.T) {
			var opts []Option
			if sealed {
				opts = append(opts, WithSealer(mustKeys(t)))
			}
			at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
			opts = append(opts, WithClock(func() time.Time { return at }))
			seed := filepath.Join(t.TempDir(), "seed")
			answers := seedPushAnswers(t, seed, opts)
			views := bothWays(t, seed, opts, func(db *DB, oneByOne bool) string {
				db.pushOneByOne = oneByOne
				for _, batch := range answers {
					if _, err := db.ApplyPushResultsAndAdvance(bg, nil, batch, 0, 0); err != nil {
						t.Fatal(err)
					}
				}
				return pushedView(t, db)
			})
			if views[0] != views[1] {
				t.Fatalf("one by one:\n%s\nsimple acks:\n%s", views[0], views[1])
			}
			for _, want := range []string{"server wording", "theirs merged", `"extra":[1,{"a":2}]`, `{"title":"spaced mine"}`,
				"the server refused", "review the conflict", `\u003c\u0026\u003e \u2028 é`} {
				if !strings.Contains(views[0], want) {
					t.Fatalf("the answers did not reach %q:\n%s", want, views[0])
				}
			}
		})
	}
}

// seedPushAnswers leaves in dir a closed database whose queued ops are
// taken for sending, and returns the server's answers to them in two
// batches.
func seedPushAnswers(t *testing.T, dir string, opts []Option) [][]protocol.OpResult {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := Open(bg, filepath.Join(dir, "casefile.db"), testSchema(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m, m2 := syncedMatter(t, db), syncedMatter(t, db)
	create := func(title string, more model.Fields) string {
		f := model.Fields{"matter_id": m, "title": title}
		for k, v := range more {
			f[k] = v
		}
		return mustCreate(t, db, "note", f).ID
	}
	plain := create("plain", nil)
	odd := create("<&> \u2028 é", model.Fields{"tags": []any{"b", "a"}, "body": "line\none\ttab"})
	merged := create("merged", model.Fields{"body": "mine"})
	moved := create("moved", nil)
	overtaken := create("overtaken", nil)
	gone := create("gone", nil)
	unknown := create("unknown field", nil)
	updated := syncedNote(t, db, m, 1, model.Fields{"title": "updated"})
	mustUpdate(t, db, updated, model.Fields{"title": "updated mine", "status": "open"})
	spaced := syncedNote(t, db, m, 1, model.Fields{"title": "spaced"})
	mustUpdate(t, db, spaced, model.Fields{"title": "spaced mine"})
	deleted := syncedNote(t, db, m, 1, model.Fields{"title": "deleted"})
	if err := db.Delete(bg, deleted); err != nil {
		t.Fatal(err)
	}
	undeleted := syncedNote(t, db, m, 1, model.Fields{"title": "delete refused"})
	if err := db.Delete(bg, undeleted); err != nil {
		t.Fatal(err)
	}
	twice := syncedNote(t, db, m, 1, model.Fields{"title": "twice"})
	mustUpdate(t, db, twice, model.Fields{"title": "twice 1"})
	conflicted := syncedNote(t, db, m, 1, model.Fields{"title": "conflicted"})
	mustUpdate(t, db, conflicted, model.Fields{"title": "conflicted mine"})
	refused := create("refused", nil)
	// An op stored by another writer, with a space in its JSON: it is
	// journalled as encoding its fields writes them, not as stored.
	setOpFieldsText(t, db, spaced, `{"title": "spaced mine"}`)
	sent, err := db.NextBatch(bg, time.Now(), 100)
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, db, twice, model.Fields{"body": "queued behind"})
	// A pull overtakes the answer to overtaken's create.
	pull(t, db, 5, serverRecord(overtaken, "note", m, 3, model.Fields{"matter_id": m, "title": "overtaken by a pull"}))
	op := map[string]string{}
	for _, o := range sent {
		op[o.RecordID] = o.OpID
	}
	rec := func(id string, version int64, fields model.Fields) *protocol.Record {
		r := serverRecord(id, "note", model.MatterOf("note", id, fields), version, fields)
		return &r
	}
	ack := func(id string, version int64, fields model.Fields) protocol.OpResult {
		return protocol.OpResult{OpID: op[id], Result: model.ResultApplied, Record: rec(id, version, fields)}
	}
	first := []protocol.OpResult{
		ack(plain, 1, model.Fields{"matter_id": m, "title": "plain"}),
		ack(twice, 2, model.Fields{"matter_id": m, "title": "twice 1"}),
		ack(odd, 1, model.Fields{"matter_id": m, "title": "<&> \u2028 é", "tags": []any{"b", "a"}, "body": "line\none\ttab"}),
		{OpID: op[merged], Result: model.ResultMerged, Dropped: []string{"body"},
			Record: rec(merged, 2, model.Fields{"matter_id": m, "title": "merged", "body": "theirs merged"})},
		{OpID: op[conflicted], Result: model.ResultConflict, ConflictFields: []string{"title"},
			Record: rec(conflicted, 2, model.Fields{"matter_id": m, "title": "conflicted theirs"})},
		ack(moved, 1, model.Fields{"matter_id": m2, "title": "moved"}),
		{OpID: model.NewID(), Result: model.ResultApplied},
		ack(overtaken, 1, model.Fields{"matter_id": m, "title": "overtaken"}),
		{OpID: op[refused], Result: model.ResultRejected, Code: protocol.CodeValidation, Message: "no"},
		{OpID: op[gone], Result: model.ResultApplied, Message: "Server wording.",
			Record: &protocol.Record{ID: gone, Collection: "note", Version: 2, Deleted: true}},
	}
	second := []protocol.OpResult{
		ack(unknown, 1, model.Fields{"matter_id": m, "title": "unknown field", "extra": []any{1.0, map[string]any{"a": 2.0}}}),
		ack(updated, 2, model.Fields{"matter_id": m, "title": "updated mine", "status": "open"}),
		ack(spaced, 2, model.Fields{"matter_id": m, "title": "spaced mine"}),
		{OpID: op[deleted], Result: model.ResultApplied, Record: &protocol.Record{ID: deleted, Collection: "note", Version: 2, Deleted: true}},
		{OpID: op[undeleted], Result: model.ResultMerged, Record: rec(undeleted, 2, model.Fields{"matter_id": m, "title": "delete refused"})},
	}
	return [][]protocol.OpResult{first, second}
}

// pushedView renders what push answers change, sealed text opened.
func pushedView(t *testing.T, db *DB) string {
	t.Helper()
	var b strings.Builder
	opened := func(v sql.NullString, ad []byte) string {
		if v.Valid && v.String == baseSame {
			return "same"
		}
		s, err := db.openText(v, ad)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%v:%s", s.Valid, s.String)
	}
	rows, err := db.w.QueryContext(bg, "SELECT "+recordsSelect+", resync_mark FROM records ORDER BY rid")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r recordRow
		var fields, base, entryAfter, entryPlace sql.NullString
		var mark int
		if err := rows.Scan(&r.rid, &r.id, &r.collection, &r.matterID, &fields, &base, &r.version, &r.baseDeleted,
			&r.deleted, &r.state, &r.updatedAt, &entryAfter, &entryPlace, &mark); err != nil {
			t.Fatal(err)
		}
		shown := "ref:"
		if strings.HasPrefix(fields.String, entryRef) {
			s, err := db.openRecordEntry(&r, entryAfter, entryPlace)
			if err != nil {
				t.Fatal(err)
			}
			shown += fmt.Sprintf("%v:%s", s.Valid, s.String)
		} else {
			shown = opened(fields, recordPlace("fields", r.collection, r.id))
		}
		fmt.Fprintf(&b, "%d %s %s %s v%d %v %v %s %d %d %s %s\n", r.rid, r.id, r.collection, r.matterID, r.version, r.baseDeleted,
			r.deleted, r.state, r.updatedAt, mark, shown,
			opened(base, recordPlace("base_fields", r.collection, r.id)))
	}
	rows.Close()
	b.WriteString("--\n")
	caughtUp(t, db)
	dumpRows(t, &b, db.w, "SELECT rowid FROM records_fts ORDER BY rowid")
	ops, err := db.queryOpTexts(bg, db.w, "ORDER BY seq") // opened as read
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range ops {
		fmt.Fprintf(&b, "%d %s %s %s %d %s %d %s %q %d %d %v %v %v %v\n", o.seq, o.OpID, o.RecordID, o.Kind, o.BaseVersion, o.state,
			o.attempts, o.errorCode, o.lastError, o.createdAt, o.updatedAt, o.sentSince, o.attemptSince,
			o.fields, o.base)
	}
	cs, err := db.Conflicts(bg)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "--\n%+v\n--\n", cs)
	rows, err = db.w.QueryContext(bg, "SELECT "+journalCols+" FROM journal ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var e JournalEntry
		var at int64
		var summary string
		var before, after, refAfter, refPlace sql.NullString
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Kind, &e.RecordID, &e.Collection, &e.OpID, &summary, &before, &after,
			&e.Undoes, &e.Version, &refAfter, &refPlace); err != nil {
			t.Fatal(err)
		}
		if summary, err = db.openString(summary, journalPlace("summary", &e, at)); err != nil {
			t.Fatal(err)
		}
		// An after that refers to another entry (a simple ack's) shows
		// the text it refers to.
		var shown string
		if strings.HasPrefix(after.String, entryRef) {
			text, err := db.openEntryOf(e.Collection, e.RecordID, refAfter, refPlace)
			if err != nil {
				t.Fatal(err)
			}
			shown = fmt.Sprintf("%v:%s", text.Valid, text.String)
		} else {
			shown = opened(after, journalPlace("after", &e, at))
		}
		fmt.Fprintf(&b, "%d %d %s %s %s %s %s %q %s %s %d %d\n", e.Seq, at, e.Actor, e.Kind, e.RecordID, e.Collection, e.OpID, summary,
			opened(before, journalPlace("before", &e, at)), shown, e.Undoes, e.Version)
	}
	rows.Close()
	b.WriteString("--\n")
	dumpRows(t, &b, db.w, "SELECT key, value FROM meta ORDER BY key")
	searchView(t, &b, db, "plain", "theirs", "merged", "moved", "overtaken", "pull", "refused", "updated", "mine", "tab", "unknown")
	return b.String()
}
