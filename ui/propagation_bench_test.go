package ui

import (
	"context"
	"fmt"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/model"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/syncer"
)

// waitSynced waits until the record's change is on the server: its op
// answered and the record synced here.
func waitSynced(b *testing.B, db *localdb.DB, id string) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rec, err := db.Get(context.Background(), id)
		if err != nil {
			b.Fatal(err)
		}
		if rec.State == model.StateSynced {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the record is still %s after 10 s", rec.State)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// BenchmarkSaveReachesServer measures, with a real server on 127.0.0.1 and
// the real syncer at its default settings, the time from ctrl+s in the
// editor to the new note being on the server.
func BenchmarkSaveReachesServer(b *testing.B) {
	srv := servertest.Start(b, func(o *server.Options) { o.RateLimit = -1 })
	alice := srv.NewUser(b, "alice", server.RoleMember)
	db := localdbtest.Open(b)
	s := syncer.New(db, syncer.Options{Server: srv.URL, Token: alice.Token, Device: "bench"})
	s.Start(context.Background())
	b.Cleanup(func() { s.Close() })
	mt := mustCreate(b, db, "matter", model.Fields{"title": "Harbour Trust v. Pell"})
	waitSynced(b, db, mt.ID)

	m := New(Options{DB: db, Syncer: s, Now: func() time.Time { return fixedNow }, Getenv: func(string) string { return "" }})
	m.sh.Tick = noTick
	m.step(tea.WindowSizeMsg{Width: 100, Height: 30})
	drain(b, m, m.refreshAll())
	var took []time.Duration
	for i := range max(b.N, 30) {
		drain(b, m, m.step(editMsg{collection: "note", matterID: mt.ID}))
		typeText(b, m, fmt.Sprintf("Call the surveyor %d", i))
		start := time.Now()
		press(b, m, "ctrl+s") // the save, and the commands it starts
		if m.editor != nil || m.detail == nil {
			b.Fatal("the note was not saved")
		}
		waitSynced(b, db, m.detail.id)
		took = append(took, time.Since(start))
	}
	b.ReportMetric(percentile(took, 0.5), "save_to_server_p50_ms")
	b.ReportMetric(percentile(took, 0.99), "save_to_server_p99_ms")
}
