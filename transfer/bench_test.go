package transfer_test

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"casefile/model"
)

// benchFileSize is the file of the throughput benchmarks: 100 MB.
const benchFileSize = 100_000_000

// slowLink is the 1 MB/s link of the slow benchmarks.
const slowLink = 1_000_000

// BenchmarkFileTransfer reports the throughput of a 100 MB file each way,
// on loopback and on a 1 MB/s link (both through the fault proxy, which
// passes everything here), and the overhead of an upload cut halfway and
// resumed: the bytes that crossed the connection beyond the file's, in
// percent. CASEFILE_BENCH_SLOW=0 leaves out the slow link (200 s).
func BenchmarkFileTransfer(b *testing.B) {
	b.Run("loopback", func(b *testing.B) { benchTransfer(b, 0) })
	if os.Getenv("CASEFILE_BENCH_SLOW") != "0" {
		b.Run("1MBps", func(b *testing.B) { benchTransfer(b, slowLink) })
	}
	b.Run("resume", benchResume)
}

func benchTransfer(b *testing.B, bandwidth int) {
	ctx := context.Background()
	var up, down time.Duration
	for range b.N {
		b.StopTimer()
		w := newWorld(b, false)
		w.proxy.SetBandwidth(bandwidth)
		alice, bob := w.device("alice"), w.device("bob")
		att := alice.attach(w.matter, randomData(b, benchFileSize), "big.bin")
		alice.syncRecords()
		b.StartTimer()
		start := time.Now()
		if sum, err := alice.engine.RunOnce(ctx); err != nil || sum.Uploaded != 1 {
			b.Fatalf("upload: %+v, %v", sum, err)
		}
		up += time.Since(start)
		b.StopTimer()
		bob.syncRecords()
		if _, err := bob.db.QueueDownload(ctx, att.ID); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start = time.Now()
		if sum, err := bob.engine.RunOnce(ctx); err != nil || sum.Downloaded != 1 {
			b.Fatalf("download: %+v, %v", sum, err)
		}
		down += time.Since(start)
	}
	b.ReportMetric(float64(benchFileSize)*float64(b.N)/up.Seconds()/1e6, "MB/s-up")
	b.ReportMetric(float64(benchFileSize)*float64(b.N)/down.Seconds()/1e6, "MB/s-down")
}

// benchResume cuts an upload halfway and resumes it, and reports the
// bytes written beyond the file's as a percentage of the file.
func benchResume(b *testing.B) {
	ctx := context.Background()
	var extra, total float64
	for range b.N {
		w := newWorld(b, false)
		alice := w.device("alice")
		alice.attach(w.matter, randomData(b, benchFileSize), "big.bin")
		alice.syncRecords()
		base := alice.count.wrote.Load()
		chunks := model.ChunkCount(benchFileSize)
		w.proxy.SetRule(cutNth(http.MethodPut, chunks/2))
		if _, err := alice.engine.RunOnce(ctx); err == nil {
			b.Fatal("the cut upload finished")
		}
		w.proxy.SetRule(nil)
		alice.later()
		if sum, err := alice.engine.RunOnce(ctx); err != nil || sum.Uploaded != 1 {
			b.Fatalf("resumed upload: %+v, %v", sum, err)
		}
		sent := float64(alice.count.wrote.Load() - base)
		extra += sent - benchFileSize
		total += benchFileSize
	}
	b.ReportMetric(100*extra/total, "overhead-%")
}
