package localdb

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
)

// BenchmarkFullPullWrites writes a fresh encrypted device's first sync of
// 10,000 notes in the pages a full pull asks for (500, then 2,000), each
// page's records prepared ahead and ready: the page transactions alone,
// which a first sync runs back to back on the syncer's goroutine, and then
// closing the database (its checkpoint). Bodies are drawn from a
// vocabulary, as the bench's notes are.
func BenchmarkFullPullWrites(b *testing.B) {
	const total = 10_000
	vocab := strings.Fields("Met the witness at the site office with the surveyor She confirmed the fence was moved in March " +
		"hearing counsel client court filing deadline invoice plan boundary exhibit bundle affidavit Friday drawing photos " +
		"evidence clerk registry claim defence reply disclosure expert report access gate drainage hedge trespass")
	rnd := rand.New(rand.NewPCG(1, 2))
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	matters := make([]string, 50)
	var recs []protocol.Record
	for i := range matters {
		matters[i] = model.NewID()
		recs = append(recs, protocol.Record{ID: matters[i], Collection: "matter", MatterID: matters[i], Version: 1,
			Seq: int64(i + 1), Fields: model.Fields{"title": fmt.Sprint("Boundary dispute ", i), "status": "open"},
			UpdatedBy: "alice", UpdatedAt: at})
	}
	for i := range total {
		var body strings.Builder
		for body.Len() < 420 {
			body.WriteString(vocab[rnd.IntN(len(vocab))] + " ")
		}
		m := matters[rnd.IntN(len(matters))]
		recs = append(recs, protocol.Record{ID: model.NewID(), Collection: "note", MatterID: m, Version: 1, Seq: int64(len(recs) + 1),
			Fields: model.Fields{"matter_id": m, "title": fmt.Sprintf("Site visit %d: fence line and survey", i),
				"body": body.String(), "status": "open", "tags": []any{"site", "witness"}},
			CreatedBy: "alice", CreatedAt: at, UpdatedBy: "alice", UpdatedAt: at.Add(time.Duration(i) * time.Millisecond)})
	}
	// The writer's own CPU time, which a loaded machine changes less than
	// its wall time: the goroutine keeps its thread while it writes.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var writing, closing, cpu time.Duration
	for range b.N {
		b.StopTimer()
		db, err := Open(bg, filepath.Join(b.TempDir(), "sealed.db"), testSchema(b), WithSealer(mustKeys(b)))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		size := protocol.DefaultPullPage
		for start := 0; start < len(recs); {
			end := min(start+size, len(recs))
			page := protocol.PullResponse{Records: recs[start:end], Cursor: recs[end-1].Seq, More: end < len(recs), Total: int64(len(recs) - start)}
			b.StopTimer()
			ahead, err := db.PrepareAhead(page.Records)
			if err != nil {
				b.Fatal(err)
			}
			ahead.pp.wg.Wait()
			b.StartTimer()
			t0, c0 := time.Now(), threadCPU(b)
			if err := db.ApplyPrepared(bg, page, ahead); err != nil {
				b.Fatal(err)
			}
			writing += time.Since(t0)
			cpu += threadCPU(b) - c0
			start, size = end, 2000
		}
		t0 := time.Now()
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		closing += time.Since(t0)
	}
	n := float64(b.N * len(recs))
	b.ReportMetric(float64(writing.Microseconds())/n, "us/record")
	b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-us/record")
	b.ReportMetric(float64(closing.Microseconds())/float64(b.N)/1000, "close-ms")
	b.ReportMetric(0, "ns/op")
}

// threadCPU is the CPU time the calling thread has used.
func threadCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
