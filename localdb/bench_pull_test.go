package localdb

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
)

// BenchmarkApplyPull10k applies a fresh device's first sync of 10,000
// notes in pages of the server's default size, without the network: what
// the client's database costs per pulled record.
func BenchmarkApplyPull10k(b *testing.B) {
	const total = 10_000
	matter := model.NewID()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := make([]protocol.Record, 0, total+1)
	recs = append(recs, protocol.Record{ID: matter, Collection: "matter", MatterID: matter, Version: 1, Seq: 1,
		Fields: model.Fields{"title": "Bench v Mark"}, UpdatedBy: "alice", UpdatedAt: at})
	for i := range total {
		id := model.NewID()
		recs = append(recs, protocol.Record{ID: id, Collection: "note", MatterID: matter, Version: 1, Seq: int64(i + 2),
			Fields: model.Fields{"matter_id": matter, "title": fmt.Sprintf("Note %d about the hearing", i),
				"body":   "Spoke to the clerk; the hearing moves to room 4 at 10:30. Bring the bundle and two copies of the exhibits.",
				"status": "open", "tags": []any{"court", "import"}},
			CreatedBy: "alice", CreatedAt: at, UpdatedBy: "alice", UpdatedAt: at.Add(time.Duration(i) * time.Millisecond)})
	}
	var elapsed time.Duration
	for range b.N {
		b.StopTimer()
		db := openTest(b)
		b.StartTimer()
		t0 := time.Now()
		for start := 0; start < len(recs); start += protocol.DefaultPullPage {
			end := min(start+protocol.DefaultPullPage, len(recs))
			page := protocol.PullResponse{Records: recs[start:end], Cursor: recs[end-1].Seq, More: end < len(recs)}
			if err := db.ApplyPull(bg, page); err != nil {
				b.Fatal(err)
			}
		}
		elapsed += time.Since(t0)
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(elapsed.Microseconds())/float64(b.N*total), "us/record")
	b.ReportMetric(float64(b.N*total)/elapsed.Seconds(), "records/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkPreparePulled prepares pulled notes for the new-record path
// (encoding, sealing, the full-text entry) in an encrypted database: the
// CPU a first sync spends beside its transaction, per record. Bodies are
// drawn from a vocabulary, so words repeat as in prose.
func BenchmarkPreparePulled(b *testing.B) {
	db, err := Open(bg, filepath.Join(b.TempDir(), "sealed.db"), testSchema(b), WithSealer(mustKeys(b)))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	vocab := strings.Fields("Met the witness at the site office with the surveyor She confirmed the fence was moved in March " +
		"hearing counsel client court filing deadline invoice plan boundary exhibit bundle affidavit Friday Müller café")
	rnd := rand.New(rand.NewPCG(1, 2))
	matter := model.NewID()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := make([]protocol.Record, 1000)
	for i := range recs {
		var body strings.Builder
		for body.Len() < 420 {
			body.WriteString(vocab[rnd.IntN(len(vocab))] + " ")
		}
		recs[i] = protocol.Record{ID: model.NewID(), Collection: "note", MatterID: matter, Version: 1, Seq: int64(i + 1),
			Fields: model.Fields{"matter_id": matter, "title": fmt.Sprintf("Site visit %d: fence line and survey", i),
				"body": body.String(), "status": "open", "tags": []any{"site", "witness"}},
			UpdatedBy: "alice", UpdatedAt: at}
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := db.preparePulled(&recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
}
