package localdb

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
)

// BenchmarkPushSettle is the device's half of a push of imported notes,
// without the network or a server: a batch claimed (NextPushBatch), its
// answers made as a server makes them for creates it applied (the
// record with the op's fields at version 1), and applied with the cursor
// they move (ApplyPushResultsAndAdvance), batch after batch, on a sealed
// database as a device's is by default.
func BenchmarkPushSettle(b *testing.B) {
	const total, batch = 10_000, 500
	vocab := strings.Fields("Met the witness at the site office with the surveyor She confirmed the fence was moved in March " +
		"hearing counsel client court filing deadline invoice plan boundary exhibit bundle affidavit Friday")
	rnd := rand.New(rand.NewPCG(1, 2))
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var elapsed, cpu time.Duration
	for range b.N {
		b.StopTimer()
		db, err := Open(bg, filepath.Join(b.TempDir(), "sealed.db"), testSchema(b), WithSealer(mustKeys(b)))
		if err != nil {
			b.Fatal(err)
		}
		m := mustMatter(b, db, "Bench v Mark")
		items := make([]ImportItem, 1000)
		for n := 0; n < total; n += len(items) {
			for j := range items {
				var body strings.Builder
				for body.Len() < 420 {
					body.WriteString(vocab[rnd.IntN(len(vocab))] + " ")
				}
				items[j] = ImportItem{Fields: model.Fields{"matter_id": m, "title": fmt.Sprintf("Site visit %d: fence line and survey", n+j),
					"body": body.String(), "status": "open", "tags": []any{"site", "witness"}}}
			}
			if err := db.Import(bg, "note", items); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		t0, c0 := time.Now(), processCPU(b)
		head := int64(0)
		for {
			ops, _, err := db.NextPushBatch(bg, time.Now(), batch, protocol.MaxAnswerBytes/2) // as the syncer asks
			if err != nil {
				b.Fatal(err)
			}
			if len(ops) == 0 {
				break
			}
			results := make([]protocol.OpResult, len(ops))
			for i, o := range ops {
				f, err := decodeFields(sql.NullString{String: string(o.FieldsJSON), Valid: true})
				if err != nil {
					b.Fatal(err)
				}
				head++
				results[i] = protocol.OpResult{OpID: o.OpID, Result: model.ResultApplied, Record: &protocol.Record{
					ID: o.RecordID, Collection: o.Collection, MatterID: m, Version: 1, Seq: head, Fields: f,
					CreatedBy: "alice", CreatedAt: at, UpdatedBy: "alice", UpdatedAt: at}}
			}
			from := head - int64(len(ops))
			if _, err := db.ApplyPushResultsAndAdvance(bg, ops, results, from, head); err != nil {
				b.Fatal(err)
			}
		}
		elapsed += time.Since(t0)
		cpu += processCPU(b) - c0
		b.StopTimer()
		if c, err := db.OutboxCounts(bg); err != nil || len(c) != 0 {
			b.Fatalf("ops still queued: %v (%v)", c, err)
		}
		db.Close()
	}
	b.ReportMetric(float64(elapsed.Microseconds())/float64(b.N*(total+1)), "us/op")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*(total+1)), "cpu_us/op")
}

// processCPU is the CPU time this process has used, user and system: on a
// shared machine it moves less with other load than the wall time does.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
