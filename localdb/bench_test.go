package localdb

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"casefile/model"
)

// writeSamples is the fixed number of timed writes per run, so that p99
// rests on enough samples whatever b.N is.
const writeSamples = 2000

// BenchmarkWrite times single user writes (a note's create: record, FTS,
// outbox op and journal entry in one FULL-sync transaction) and, in the same
// run and interleaved with them, a bare one-row INSERT into a one-table
// SQLite file opened with the same pragmas: the floor.
func BenchmarkWrite(b *testing.B) {
	ctx := context.Background()
	db := openTest(b)
	m := mustMatter(b, db, "Bench v Mark")
	floor, err := sql.Open("sqlite", dsn(filepath.Join(b.TempDir(), "floor.db")))
	if err != nil {
		b.Fatal(err)
	}
	defer floor.Close()
	floor.SetMaxOpenConns(1)
	if _, err := floor.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	fields := model.Fields{"matter_id": m, "title": "Called the clerk about the hearing",
		"body": "Spoke to the clerk; the hearing moves to room 4 at 10:30. Bring the bundle.", "status": "open", "tags": []any{"court"}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		writes := make([]time.Duration, 0, writeSamples)
		inserts := make([]time.Duration, 0, writeSamples)
		for s := 0; s < writeSamples; s++ {
			t0 := time.Now()
			if _, err := db.Create(ctx, "note", "", fields); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if _, err := floor.ExecContext(ctx, "INSERT INTO t (v) VALUES (?)", "Called the clerk about the hearing"); err != nil {
				b.Fatal(err)
			}
			writes = append(writes, t1.Sub(t0))
			inserts = append(inserts, time.Since(t1))
		}
		if i == b.N-1 {
			w50, w99 := percentiles(writes)
			f50, f99 := percentiles(inserts)
			b.ReportMetric(w50, "write_p50_us")
			b.ReportMetric(w99, "write_p99_us")
			b.ReportMetric(f50, "floor_p50_us")
			b.ReportMetric(f99, "floor_p99_us")
			b.ReportMetric(w99/f99, "p99_ratio")
		}
	}
}

func percentiles(d []time.Duration) (p50, p99 float64) {
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) float64 { return float64(s[int(q*float64(len(s)-1))].Nanoseconds()) / 1e3 }
	return at(0.50), at(0.99)
}

// BenchmarkImport100k imports 100,000 notes in batches of 1,000, as the CLI does.
func BenchmarkImport100k(b *testing.B) {
	const total, batch = 100_000, 1000
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := openTest(b)
		m := mustMatter(b, db, "Bench v Mark")
		items := make([]ImportItem, batch)
		b.StartTimer()
		t0 := time.Now()
		for n := 0; n < total; n += batch {
			for j := range items {
				items[j] = ImportItem{Fields: model.Fields{"matter_id": m,
					"title":  fmt.Sprintf("Note %d about the hearing", n+j),
					"body":   "Spoke to the clerk; the hearing moves to room 4 at 10:30. Bring the bundle and two copies of the exhibits.",
					"status": "open", "tags": []any{"court", "import"}}}
			}
			if err := db.Import(ctx, "note", items); err != nil {
				b.Fatal(err)
			}
		}
		elapsed := time.Since(t0)
		b.StopTimer()
		if i == b.N-1 {
			b.ReportMetric(elapsed.Seconds(), "s")
			b.ReportMetric(total/elapsed.Seconds(), "records/s")
			listPage(b, db)
		}
		db.Close()
	}
}

// listPage reports how long the UI's first page and a search take with the
// 100,000 imported notes in place.
func listPage(b *testing.B, db *DB) {
	ctx := context.Background()
	const rounds = 50
	m := mustGet(b, db, mustFirstMatter(b, db)).ID
	var page, deep, count, search, text, matter time.Duration
	for r := 0; r < rounds; r++ {
		t0 := time.Now()
		if rs, err := db.List(ctx, ListQuery{Collection: "note", Limit: 50}); err != nil || len(rs) != 50 {
			b.Fatalf("list: %d %v", len(rs), err)
		}
		t1 := time.Now()
		if rs, err := db.List(ctx, ListQuery{Collection: "note", Offset: 50_000, Limit: 50}); err != nil || len(rs) != 50 {
			b.Fatalf("deep list: %d %v", len(rs), err)
		}
		t2 := time.Now()
		if n, err := db.Count(ctx, ListQuery{Collection: "note"}); err != nil || n != 100_000 {
			b.Fatalf("count: %d %v", n, err)
		}
		t3 := time.Now()
		if rs, err := db.Search(ctx, "Note 9999", 20); err != nil || len(rs) == 0 {
			b.Fatalf("search: %d %v", len(rs), err)
		}
		t4 := time.Now()
		if rs, err := db.List(ctx, ListQuery{Collection: "note", Text: "hearing", Limit: 50}); err != nil || len(rs) != 50 {
			b.Fatalf("text list: %d %v", len(rs), err)
		}
		t5 := time.Now()
		if rs, err := db.List(ctx, ListQuery{Collection: "note", MatterID: m, Limit: 50}); err != nil || len(rs) != 50 {
			b.Fatalf("matter list: %d %v", len(rs), err)
		}
		page, deep, count, search = page+t1.Sub(t0), deep+t2.Sub(t1), count+t3.Sub(t2), search+t4.Sub(t3)
		text, matter = text+t5.Sub(t4), matter+time.Since(t5)
	}
	b.ReportMetric(float64(text.Microseconds())/rounds, "list_text_us")
	b.ReportMetric(float64(matter.Microseconds())/rounds, "list_matter_us")
	b.ReportMetric(float64(page.Microseconds())/rounds, "list_page_us")
	b.ReportMetric(float64(deep.Microseconds())/rounds, "list_offset50k_us")
	b.ReportMetric(float64(count.Microseconds())/rounds, "count_us")
	b.ReportMetric(float64(search.Microseconds())/rounds, "search_us")
}

func mustFirstMatter(b *testing.B, db *DB) string {
	b.Helper()
	rs, err := db.List(context.Background(), ListQuery{Collection: "matter", Limit: 1})
	if err != nil || len(rs) != 1 {
		b.Fatalf("matter: %v %v", rs, err)
	}
	return rs[0].ID
}
