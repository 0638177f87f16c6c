package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"casefile/model"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/server/storetest"
)

const (
	benchNotes = 10_000
	benchBatch = 500
)

// benchServer starts a server (on PostgreSQL when pg is set) and returns a
// logged-in member with a matter.
func benchServer(b *testing.B, pg bool) (*servertest.Client, string) {
	b.Helper()
	var opts []servertest.Option
	if pg {
		url := storetest.PostgresURL(b)
		opts = append(opts, func(o *server.Options) { o.DatabaseURL = url })
	}
	srv := servertest.Start(b, opts...)
	c := srv.NewUser(b, "alice", server.RoleMember)
	m := c.CreateMatter(b, "Bench")
	return c, m.ID
}

// pushNotes pushes n new notes in batches and returns the time it took.
func pushNotes(b *testing.B, c *servertest.Client, matter string, n int) time.Duration {
	b.Helper()
	ops := make([]model.Op, n)
	for i := range ops {
		ops[i] = servertest.Create("note", model.Fields{"matter_id": matter, "title": fmt.Sprintf("Note %d", i),
			"body": "Met the witness at the site; photos filed under evidence.", "tags": []string{"site", "witness"}})
	}
	start := time.Now()
	for i := 0; i < n; i += benchBatch {
		resp, err := c.Push(context.Background(), ops[i:min(i+benchBatch, n)]...)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range resp.Results {
			if r.Result != model.ResultApplied {
				b.Fatalf("result %+v", r)
			}
		}
	}
	return time.Since(start)
}

func benchPush(b *testing.B, pg bool) {
	var total time.Duration
	for range b.N {
		b.StopTimer()
		c, matter := benchServer(b, pg)
		b.StartTimer()
		total += pushNotes(b, c, matter, benchNotes)
	}
	b.ReportMetric(float64(benchNotes*b.N)/total.Seconds(), "ops/s")
	b.ReportMetric(0, "ns/op")
}

func benchPull(b *testing.B, pg bool) {
	var total time.Duration
	for range b.N {
		b.StopTimer()
		c, matter := benchServer(b, pg)
		pushNotes(b, c, matter, benchNotes)
		b.StartTimer()
		t0 := time.Now()
		pages, err := c.PullAll(context.Background(), 0)
		total += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, p := range pages {
			n += len(p.Records)
		}
		if n != benchNotes+1 {
			b.Fatalf("pulled %d records, want %d", n, benchNotes+1)
		}
	}
	b.ReportMetric(float64((benchNotes+1)*b.N)/total.Seconds(), "records/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkPush10kNotes pushes 10,000 notes in batches of 500 over HTTP.
func BenchmarkPush10kNotes(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchPush(b, false) })
	b.Run("postgres", func(b *testing.B) { benchPush(b, true) })
}

// BenchmarkPull10kNotes pulls 10,000 notes from cursor 0 in default pages.
func BenchmarkPull10kNotes(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchPull(b, false) })
	b.Run("postgres", func(b *testing.B) { benchPull(b, true) })
}
