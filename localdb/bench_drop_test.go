package localdb

import (
	"fmt"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
)

// BenchmarkDropMatter10k drops a matter of 10,000 pulled notes, 1,000 of
// them deleted on the server before (their tombstones pulled, their
// copies kept for an undo), as a device does when its user loses the
// matter: the records go, and so do the journal's values of them.
func BenchmarkDropMatter10k(b *testing.B) {
	const total, deleted = 10_000, 1_000
	matter := model.NewID()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := []protocol.Record{{ID: matter, Collection: "matter", MatterID: matter, Version: 1, Seq: 1,
		Fields: model.Fields{"title": "Bench v Mark"}, UpdatedBy: "alice", UpdatedAt: at}}
	for i := range total {
		recs = append(recs, protocol.Record{ID: model.NewID(), Collection: "note", MatterID: matter, Version: 1, Seq: int64(i + 2),
			Fields: model.Fields{"matter_id": matter, "title": fmt.Sprintf("Note %d about the hearing", i),
				"body": "Spoke to the clerk; the hearing moves to room 4 at 10:30."},
			UpdatedBy: "alice", UpdatedAt: at})
	}
	seq := int64(len(recs))
	var tombs []protocol.Record
	for _, r := range recs[1 : deleted+1] {
		seq++
		t := r
		t.Version, t.Seq, t.Deleted = 2, seq, true
		tombs = append(tombs, t)
	}
	var elapsed time.Duration
	for range b.N {
		b.StopTimer()
		db := openTest(b)
		for start := 0; start < len(recs); start += protocol.DefaultPullPage {
			end := min(start+protocol.DefaultPullPage, len(recs))
			if err := db.ApplyPull(bg, protocol.PullResponse{Records: recs[start:end], Cursor: recs[end-1].Seq, More: true}); err != nil {
				b.Fatal(err)
			}
		}
		if err := db.ApplyPull(bg, protocol.PullResponse{Records: tombs, Cursor: seq}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		if err := db.ApplyPull(bg, protocol.PullResponse{DroppedMatters: []string{matter}, Cursor: seq + 1}); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(t0)
		b.StopTimer()
		if n, err := db.Count(bg, ListQuery{Collection: "note"}); err != nil || n != 0 {
			b.Fatalf("%d notes left after the drop (%v)", n, err)
		}
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(elapsed.Microseconds())/float64(b.N*total), "us/record")
	b.ReportMetric(0, "ns/op")
}
