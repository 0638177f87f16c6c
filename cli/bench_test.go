package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkImportExport100k imports 100,000 notes through the command
// line (JSON decoding, validation, durable batches) into a fresh data
// directory, then exports them as JSON Lines and as CSV.
func BenchmarkImportExport100k(b *testing.B) {
	const n = 100_000
	var importS, jsonlS, csvS float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		data := b.TempDir()
		run := func(stdout io.Writer, args ...string) {
			var stderr strings.Builder
			full := append([]string{"--data", data, "--config", os.DevNull}, args...)
			if code := Main(context.Background(), full, strings.NewReader(""), stdout, &stderr); code != 0 {
				b.Fatalf("casefile %v: exit %d: %s", args, code, stderr.String())
			}
		}
		var id strings.Builder
		run(&id, "add", "matter", "title=Benchmark")
		file := filepath.Join(b.TempDir(), "notes.jsonl")
		writeNotes(b, file, strings.TrimSpace(id.String()), n)
		b.StartTimer()

		start := time.Now()
		run(io.Discard, "import", "note", "--file", file)
		importS += time.Since(start).Seconds()
		start = time.Now()
		run(io.Discard, "export", "note")
		jsonlS += time.Since(start).Seconds()
		start = time.Now()
		run(io.Discard, "export", "note", "--format", "csv")
		csvS += time.Since(start).Seconds()
	}
	runs := float64(b.N)
	b.ReportMetric(importS/runs, "import_s")
	b.ReportMetric(n*runs/importS, "import_records/s")
	b.ReportMetric(jsonlS/runs, "export_jsonl_s")
	b.ReportMetric(csvS/runs, "export_csv_s")
}

func writeNotes(b *testing.B, path, matter string, n int) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range n {
		fmt.Fprintf(w, `{"matter_id":%q,"title":"Note %d","body":"Notes from the hearing of day %d: the witness confirmed the timeline.","status":"open","tags":["hearing","t%d"]}`+"\n",
			matter, i, i%365, i%50)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}
