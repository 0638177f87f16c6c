package localdb

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
)

// BenchmarkSealing measures what encryption costs, plaintext and sealed
// databases side by side in the same run: single note creates, interleaved
// one for one (the local part of S1), and a fresh device applying the
// server's pages of notes (the local part of S3's first sync).
func BenchmarkSealing(b *testing.B) {
	plain := openPlainBench(b)
	sealed, err := Open(bg, filepath.Join(b.TempDir(), "sealed.db"), testSchema(b), WithSealer(mustKeys(b)))
	if err != nil {
		b.Fatal(err)
	}
	defer sealed.Close()
	mp, ms := mustMatter(b, plain, "Bench v Mark"), mustMatter(b, sealed, "Bench v Mark")
	note := func(m string) model.Fields {
		return model.Fields{"matter_id": m, "title": "Called the clerk about the hearing",
			"body": "Spoke to the clerk; the hearing moves to room 4 at 10:30. Bring the bundle.", "status": "open", "tags": []any{"court"}}
	}
	const pullNotes, pageSize = 3000, 500
	pages := benchPages(pullNotes, pageSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pw := make([]time.Duration, 0, writeSamples)
		sw := make([]time.Duration, 0, writeSamples)
		for range writeSamples {
			t0 := time.Now()
			if _, err := plain.Create(bg, "note", "", note(mp)); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if _, err := sealed.Create(bg, "note", "", note(ms)); err != nil {
				b.Fatal(err)
			}
			pw, sw = append(pw, t1.Sub(t0)), append(sw, time.Since(t1))
		}
		pullPlain, pullSealed := timePulls(b, pages)
		if i == b.N-1 {
			p50, p99 := percentiles(pw)
			s50, s99 := percentiles(sw)
			b.ReportMetric(p50, "s1_plain_p50_us")
			b.ReportMetric(s50, "s1_sealed_p50_us")
			b.ReportMetric(p99, "s1_plain_p99_us")
			b.ReportMetric(s99, "s1_sealed_p99_us")
			b.ReportMetric(s50/p50, "s1_p50_ratio")
			b.ReportMetric(s99/p99, "s1_p99_ratio")
			b.ReportMetric(float64(pullNotes)/pullPlain.Seconds(), "s3_plain_notes_per_s")
			b.ReportMetric(float64(pullNotes)/pullSealed.Seconds(), "s3_sealed_notes_per_s")
			b.ReportMetric(pullSealed.Seconds()/pullPlain.Seconds(), "s3_time_ratio")
		}
	}
}

func openPlainBench(b *testing.B) *DB {
	db, err := Open(bg, filepath.Join(b.TempDir(), "plain.db"), testSchema(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// benchPages are the pages a server would send a fresh device: one matter
// and n notes in it.
func benchPages(n, size int) []protocol.PullResponse {
	m := model.NewID()
	recs := []protocol.Record{serverRecord(m, "matter", m, 1, model.Fields{"title": "Bench v Mark"})}
	for i := range n {
		id := model.NewID()
		recs = append(recs, serverRecord(id, "note", m, int64(i+2), model.Fields{"matter_id": m,
			"title": fmt.Sprintf("Note %d about the hearing", i), "body": "Spoke to the clerk; the hearing moves to room 4.", "status": "open"}))
	}
	var pages []protocol.PullResponse
	for start := 0; start < len(recs); start += size {
		end := min(start+size, len(recs))
		pages = append(pages, protocol.PullResponse{Records: recs[start:end], Cursor: int64(end), More: end < len(recs)})
	}
	return pages
}

// timePulls applies pages to two fresh databases, plaintext and sealed,
// page by page in turn, so that a busy machine slows both alike.
func timePulls(b *testing.B, pages []protocol.PullResponse) (plain, sealed time.Duration) {
	b.Helper()
	p := openPlainBench(b)
	s, err := Open(bg, filepath.Join(b.TempDir(), "fresh-sealed.db"), testSchema(b), WithSealer(mustKeys(b)))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, page := range pages {
		t0 := time.Now()
		if err := p.ApplyPull(bg, page); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := s.ApplyPull(bg, page); err != nil {
			b.Fatal(err)
		}
		plain, sealed = plain+t1.Sub(t0), sealed+time.Since(t1)
	}
	return plain, sealed
}
