package syncer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"casefile/localdb"
	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/syncer"
)

// benchNotes is the size of the push and pull benchmark.
const benchNotes = 10_000

// BenchmarkPushPull10k measures, in one run, the time to push 10,000 notes
// saved offline to a real server (SQLite store, on 127.0.0.1) with the
// default batch size, and to pull them into a fresh client.
func BenchmarkPushPull10k(b *testing.B) {
	var push, pull time.Duration
	for range b.N {
		b.StopTimer()
		w := newWorld(b)
		alice := w.srv.NewUser(b, "alice", server.RoleMember)
		a := w.newDevice("a", alice, defaultSpeed)
		m := a.create("matter", model.Fields{"title": "Bulk"})
		items := make([]localdb.ImportItem, benchNotes)
		for i := range items {
			items[i] = localdb.ImportItem{Fields: model.Fields{model.MatterField: m.ID, "title": fmt.Sprintf("note %d", i),
				"body": "Met the client at the site; photos taken; follow up with the clerk about the filing."}}
		}
		if err := a.db.Import(context.Background(), "note", items); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		sum := a.sync()
		push += time.Since(start)
		b.StopTimer()
		if sum.Pushed != benchNotes+1 {
			b.Fatalf("pushed %d", sum.Pushed)
		}
		fresh := w.newDevice("fresh", alice, defaultSpeed)
		b.StartTimer()
		start = time.Now()
		sum = fresh.sync()
		pull += time.Since(start)
		b.StopTimer()
		if sum.Pulled != benchNotes+1 {
			b.Fatalf("pulled %d", sum.Pulled)
		}
		a.close()
		fresh.close()
	}
	n := float64(b.N)
	b.ReportMetric(push.Seconds()/n, "push_10k_s")
	b.ReportMetric(pull.Seconds()/n, "pull_10k_s")
	b.ReportMetric(benchNotes*n/push.Seconds(), "push_notes/s")
	b.ReportMetric(benchNotes*n/pull.Seconds(), "pull_notes/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSaveToArrival measures the latency from a save on one client to
// its arrival in the local database of another online client, through the
// event stream (polling is an hour away). "watch" relies on the writer's
// syncer noticing the save in the database (as for a save by another
// process); "nudge" has the saving process tell its syncer at once (the
// terminal UI does).
func BenchmarkSaveToArrival(b *testing.B) {
	for _, mode := range []string{"watch", "nudge"} {
		b.Run(mode, func(b *testing.B) {
			var all []time.Duration
			for range b.N {
				all = append(all, saveToArrival(b, mode == "nudge", 50)...)
			}
			slices.Sort(all)
			b.ReportMetric(ms(all[len(all)/2]), "p50_ms")
			b.ReportMetric(ms(all[len(all)*99/100]), "p99_ms")
			b.ReportMetric(ms(all[len(all)-1]), "max_ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func saveToArrival(b *testing.B, nudge bool, saves int) []time.Duration {
	b.StopTimer()
	defer b.StartTimer()
	w := newWorld(b)
	alice := w.srv.NewUser(b, "alice", server.RoleMember)
	writer := w.newDevice("writer", alice, defaultSpeed)
	reader := w.newDevice("reader", alice, defaultSpeed)
	m := writer.create("matter", model.Fields{"title": "Live"})
	writer.sync()
	reader.sync()
	writer.start()
	reader.start()
	defer writer.close()
	defer reader.close()
	waitFor(b, "the reader's stream", func() bool { return reader.s.Connectivity() == syncer.Online })
	out := make([]time.Duration, 0, saves)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range saves {
		// A pause of random length keeps saves from falling in step with
		// the writer's watch ticks.
		time.Sleep(time.Duration(rnd.IntN(int(syncer.DefaultWatchInterval))))
		start := time.Now()
		n := writer.create("note", model.Fields{model.MatterField: m.ID, "title": fmt.Sprintf("live %d", i)})
		if nudge {
			writer.s.Nudge()
		}
		for {
			if _, err := reader.db.Get(context.Background(), n.ID); err == nil {
				break
			}
			time.Sleep(time.Millisecond)
			if time.Since(start) > 30*time.Second {
				b.Fatalf("save %d never arrived", i)
			}
		}
		out = append(out, time.Since(start))
	}
	return out
}

// defaultSpeed restores the product's own intervals and batch size where
// fastOptions shortened them for tests.
func defaultSpeed(o *syncer.Options) {
	o.WatchInterval = 0
	o.OpBackoff, o.StreamBackoff, o.ProbeBackoff = syncer.Backoff{}, syncer.Backoff{}, syncer.Backoff{}
	o.BatchSize = 0
	o.PollInterval = time.Hour
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkPushLargeEdits measures a push of title edits to 500 notes of
// 40 KB: their answers carry the notes whole (20 MB), so the batches are
// cut to fit the answer bound rather than filled to the batch size.
func BenchmarkPushLargeEdits(b *testing.B) {
	var push time.Duration
	for range b.N {
		b.StopTimer()
		w := newWorld(b)
		d := w.newDevice("a", w.srv.NewUser(b, "alice", server.RoleMember), defaultSpeed)
		notes := largeNotes(b, d, protocol.MaxOpsPerPush)
		b.StartTimer()
		start := time.Now()
		sum := d.sync()
		push += time.Since(start)
		b.StopTimer()
		if sum.Pushed != len(notes) || sum.Failed != 0 {
			b.Fatalf("the sync of %d edits: %+v", len(notes), sum)
		}
		d.close()
	}
	b.ReportMetric(push.Seconds()/float64(b.N), "push_s")
	b.ReportMetric(0, "ns/op")
}
