package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"casefile/model"
	"casefile/server/store"
)

// testChangesBytes: Changes with MaxBytes returns the records it would
// return without it up to the one whose fields text brings theirs to
// MaxBytes or more — at least one when there is one, a record larger
// than MaxBytes alone — for users who see most records or few (SQLite
// reads those two ways) and for admins, with and without a limit, as
// text or decoded.
func testChangesBytes(t *testing.T, st store.Store) {
	matters := []string{model.NewID(), model.NewID(), model.NewID()}
	write(t, st, func(tx store.Tx) error {
		if err := addUser(t, tx, "alice"); err != nil {
			return err
		}
		_, err := tx.AddMember(ctx, "alice", matters[0])
		return err
	})
	type row struct {
		seq     int64
		id      string
		text    int // bytes of its fields' JSON, as the store holds them
		visible bool
	}
	var rows []row
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(0, 40).Draw(rt, "records")
		seen := rapid.IntRange(1, 8).Draw(rt, "seen") // alice sees one record in seen
		// Drawn before the transaction: a draw may stop the test, which
		// must not leave a transaction open.
		recs := make([]store.Record, n)
		for i := range recs {
			m := matters[1+rapid.IntRange(0, 1).Draw(rt, "elsewhere")]
			if rapid.IntRange(1, seen).Draw(rt, "seen") == 1 {
				m = matters[0]
			}
			title := strings.Repeat("\x01", rapid.IntRange(0, 400).Draw(rt, "title"))
			recs[i] = store.Record{ID: model.NewID(), Collection: "note", MatterID: m, Version: 1,
				Fields: model.Fields{"title": title}, FieldVersions: map[string]int64{"title": 1}, CreatedAt: t0, UpdatedAt: t0}
		}
		write(t, st, func(tx store.Tx) (err error) {
			for _, rec := range recs {
				if rec.Seq, err = tx.NextSeq(ctx); err != nil {
					return err
				}
				if err := tx.PutRecord(ctx, rec); err != nil {
					return err
				}
				text, err := json.Marshal(rec.Fields)
				if err != nil {
					return err
				}
				rows = append(rows, row{rec.Seq, rec.ID, len(text), rec.MatterID == matters[0]})
			}
			return nil
		})
		top := head(t, st).Seq
		for range 20 {
			q := store.ChangeQuery{User: "alice", UpTo: top, Limit: rapid.IntRange(0, 6).Draw(rt, "limit"),
				MaxBytes: rapid.IntRange(1, 3000).Draw(rt, "maxBytes"), Text: rapid.Bool().Draw(rt, "text"),
				All: rapid.IntRange(0, 4).Draw(rt, "admin") == 0}
			q.After = rapid.Int64Range(0, top).Draw(rt, "after")
			var want []string
			text := 0
			for _, r := range rows {
				if !(r.visible || q.All) || r.seq <= q.After || r.seq > q.UpTo || (q.Limit > 0 && len(want) == q.Limit) || text >= q.MaxBytes {
					continue
				}
				want = append(want, r.id)
				text += r.text
			}
			var got []store.Record
			if err := st.Read(ctx, func(r store.Reader) (err error) { got, err = r.Changes(ctx, q); return err }); err != nil {
				rt.Fatal(err)
			}
			ids := []string{}
			for _, r := range got {
				ids = append(ids, r.ID)
				if q.Text != (r.FieldsText != "") {
					rt.Fatalf("changes %+v: record %s came with text %q, fields %v", q, r.ID, r.FieldsText, r.Fields)
				}
			}
			if fmt.Sprint(ids) != fmt.Sprint(append([]string{}, want...)) {
				rt.Fatalf("changes %+v = %v, want %v", q, ids, want)
			}
		}
	})
}
