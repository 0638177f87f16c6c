package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"casefile/model"
	"casefile/server/store"
	"casefile/server/store/sqlitestore"
)

// BenchmarkRemovals measures a pull's removals from cursor 0 when 1,000
// records the user once saw have moved out of their matter: each is
// checked against the user's access history.
func BenchmarkRemovals(b *testing.B) {
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(b.TempDir(), sqlitestore.FileName))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	a, other := model.NewID(), model.NewID()
	const n = 1000
	err = st.Write(ctx, func(tx store.Tx) error {
		if err := tx.AddUser(ctx, store.User{Name: "u", Role: "member", PasswordHash: "x"}); err != nil {
			return err
		}
		if _, err := tx.AddMember(ctx, "u", a); err != nil {
			return err
		}
		seq, err := tx.NextSeq(ctx)
		if err != nil {
			return err
		}
		if err := tx.AddAccessEvent(ctx, store.AccessEvent{Seq: seq, User: "u", MatterID: a, Kind: store.AccessGrant}); err != nil {
			return err
		}
		for range n {
			rec := store.Record{ID: model.NewID(), Collection: "note", MatterID: a, Version: 1}
			if rec.Seq, err = tx.NextSeq(ctx); err != nil {
				return err
			}
			if err := tx.PutRecord(ctx, rec); err != nil {
				return err
			}
			rec.MatterID, rec.Version = other, 2
			if rec.Seq, err = tx.NextSeq(ctx); err != nil {
				return err
			}
			if err := tx.PutRecord(ctx, rec); err != nil {
				return err
			}
			if err := tx.AddMove(ctx, store.Move{Seq: rec.Seq, RecordID: rec.ID, FromMatter: a, ToMatter: other, At: time.Now()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		err := st.Read(ctx, func(r store.Reader) error {
			h, err := r.Head(ctx)
			if err != nil {
				return err
			}
			rs, err := r.Removals(ctx, store.ChangeQuery{User: "u", UpTo: h.Seq})
			if err == nil && len(rs) != n {
				b.Fatalf("removals = %d, want %d", len(rs), n)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/pull")
}
