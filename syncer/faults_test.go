package syncer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"casefile/internal/faultproxy"
	"casefile/localdb"
	"casefile/model"
	"casefile/server"
)

// TestRandomFaultsConverge: two people work on one matter through a proxy
// that resets connections, loses answers after the server committed,
// answers 503, duplicates requests, adds latency and cuts event streams,
// while they also switch work offline on and off. Once the faults heal,
// every save is on the server exactly once or waits for review, and both
// devices mirror the server. CASEFILE_FAULT_SCENARIOS runs more seeds.
func TestRandomFaultsConverge(t *testing.T) {
	if testing.Short() {
		t.Skip("a soak of random faults")
	}
	scenarios := envInt(t, "CASEFILE_FAULT_SCENARIOS", 3)
	for seed := 1; seed <= scenarios; seed++ {
		t.Run(strconv.Itoa(seed), func(t *testing.T) {
			t.Logf("replay: CASEFILE_FAULT_SCENARIOS=%d go test -run 'TestRandomFaultsConverge/^%d$' ./syncer", seed, seed)
			faultScenario(t, uint64(seed))
		})
	}
}

func faultScenario(t *testing.T, seed uint64) {
	w := newWorld(t)
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	bob := w.srv.NewUser(t, "bob", server.RoleMember)
	m := alice.CreateMatter(t, "Under fire")
	if err := w.srv.Grant(context.Background(), "bob", m.ID); err != nil {
		t.Fatal(err)
	}
	a := w.newDevice("a", alice)
	b := w.newDevice("b", bob)
	a.sync()
	b.sync()
	w.proxy.SetRandom(seed, faultproxy.Random{
		Reset: 0.08, Drop: 0.08, Unavailable: 0.05, Duplicate: 0.05,
		CloseStream: 0.3, StreamLife: 300 * time.Millisecond, MaxLatency: 10 * time.Millisecond,
	})
	a.start()
	b.start()

	rnd := rand.New(rand.NewPCG(seed, seed*7919))
	devices := []*device{a, b}
	// Every create saved: record id → its title and the device that made it.
	type save struct{ title, by string }
	created := map[string]save{}
	statuses := []string{"draft", "open", "review", "closed"}
	ctx := context.Background()
	for step := range 60 {
		d := devices[rnd.IntN(2)]
		notes, err := d.db.List(ctx, localdb.ListQuery{Collection: "note"})
		if err != nil {
			t.Fatal(err)
		}
		switch x := rnd.IntN(10); {
		case x < 4 || len(notes) == 0:
			title := fmt.Sprintf("seed %d step %d by %s", seed, step, d.name)
			r := d.create("note", model.Fields{model.MatterField: m.ID, "title": title})
			created[r.ID] = save{title, d.name}
		case x < 8:
			n := notes[rnd.IntN(len(notes))]
			change := model.Fields{"body": fmt.Sprintf("body %d", step)}
			if rnd.IntN(2) == 0 {
				change = model.Fields{"status": statuses[rnd.IntN(len(statuses))]}
			}
			// A record in review refuses edits until resolved: that is fine.
			d.db.Update(ctx, n.ID, change)
		case x < 9:
			d.db.Delete(ctx, notes[rnd.IntN(len(notes))].ID)
		default:
			d.s.SetWorkOffline(true)
			time.Sleep(time.Duration(rnd.IntN(50)) * time.Millisecond)
			d.s.SetWorkOffline(false)
		}
		time.Sleep(time.Duration(rnd.IntN(15)) * time.Millisecond)
	}

	// Heal, let the background syncers drain, then one last round.
	w.proxy.SetRandom(seed, faultproxy.Random{})
	for _, d := range devices {
		d.s.SetWorkOffline(false)
		d.s.SyncNow()
	}
	for _, d := range devices {
		waitFor(t, d.name+"'s outbox to settle", func() bool { return len(unsettled(d)) == 0 })
	}
	a.sync()
	b.sync()
	a.sync()
	t.Logf("faults injected: %v", w.proxy.Faults())

	srv := serverRecords(t, alice)
	titles := map[any]string{}
	for id, r := range liveRecords(srv) {
		if other, dup := titles[r.Fields["title"]]; dup {
			t.Errorf("%q is on the server twice (%s and %s)", r.Fields["title"], other, id)
		}
		titles[r.Fields["title"]] = id
	}
	for _, d := range devices {
		for _, o := range unsettled(d) {
			t.Errorf("%s: op %s is still %s", d.name, o.OpID, o.State)
		}
		held := map[string]bool{} // records whose changes wait here: in review or refused
		for _, o := range d.outbox() {
			held[o.RecordID] = true
		}
		// A save the server never got must still be on the device that
		// made it, waiting, or deleted there before it was sent; the other
		// device never knew of it.
		for id, c := range created {
			if c.by != d.name {
				continue
			}
			if _, ok := srv[id]; !ok && !held[id] && !deletedHere(t, d, id) {
				t.Errorf("%s: the save %q vanished", d.name, c.title)
			}
		}
		assertMirrorsHeld(t, d, held)
	}
}

// unsettled returns the device's ops still on their way: not answered
// for good (a conflict or a refusal waits for a person) and not queued
// behind such an answer of the same record.
func unsettled(d *device) []localdb.OutboxOp {
	held := map[string]bool{}
	var out []localdb.OutboxOp
	for _, o := range d.outbox() { // queue order
		switch {
		case o.State == localdb.OpConflict || o.State == localdb.OpFailed:
			held[o.RecordID] = true
		case !held[o.RecordID]:
			out = append(out, o)
		}
	}
	return out
}

// deletedHere reports whether the journal of d shows the record deleted
// or its create withdrawn before the server had it.
func deletedHere(t testing.TB, d *device, id string) bool {
	entries, err := d.db.Journal(context.Background(), localdb.JournalQuery{RecordID: id})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Kind == "delete" {
			return true
		}
	}
	return false
}

// assertMirrorsHeld: every record of the device without a held op mirrors
// the server, and the device holds every live server record.
func assertMirrorsHeld(t testing.TB, d *device, held map[string]bool) {
	t.Helper()
	want := liveRecords(serverRecords(t, d.user))
	got, err := d.db.List(context.Background(), localdb.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range got {
		seen[r.ID] = true
		if held[r.ID] {
			continue
		}
		sr, ok := want[r.ID]
		if !ok {
			t.Errorf("%s holds %s the server does not have", d.name, r.ID)
			continue
		}
		if !sameFields(r.Fields, sr.Fields) || r.Version != sr.Version || r.State != model.StateSynced {
			t.Errorf("%s: %s = v%d %v (%s), server v%d %v", d.name, r.ID, r.Version, r.Fields, r.State, sr.Version, sr.Fields)
		}
	}
	for id := range want {
		if !seen[id] && !held[id] {
			t.Errorf("%s misses %s", d.name, id)
		}
	}
}
