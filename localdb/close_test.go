package localdb

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
)

// After Close, reads, writes, the sync side, Doctor and settings all
// return ErrClosed instead of reaching a closed handle; Close again is a
// no-op.
func TestCallsAfterCloseReturnErrClosed(t *testing.T) {
	db := openTest(t)
	m := mustMatter(t, db, "Smith v Jones")
	n := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "First meeting"})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"Get":    func() error { _, err := db.Get(bg, n.ID); return err },
		"List":   func() error { _, err := db.List(bg, ListQuery{Collection: "note"}); return err },
		"Search": func() error { _, err := db.Search(bg, "first", 10); return err },
		"Create": func() error {
			_, err := db.Create(bg, "note", "", model.Fields{"matter_id": m, "title": "Second"})
			return err
		},
		"Update": func() error { _, err := db.Update(bg, n.ID, model.Fields{"title": "Renamed"}); return err },
		"Delete": func() error { return db.Delete(bg, n.ID) },
		"Import": func() error {
			return db.Import(bg, "note", []ImportItem{{Fields: model.Fields{"matter_id": m, "title": "Imported"}}})
		},
		"Outbox":      func() error { _, err := db.Outbox(bg); return err },
		"OutboxPage":  func() error { _, err := db.OutboxPage(bg, OpPending, 0, 10); return err },
		"NextBatch":   func() error { _, err := db.NextBatch(bg, time.Now(), 10); return err },
		"MarkRetry":   func() error { return db.MarkRetry(bg, []string{model.NewID()}, "offline", time.Now()) },
		"ApplyPull":   func() error { return db.ApplyPull(bg, protocol.PullResponse{Cursor: 1}) },
		"ApplyPush":   func() error { return db.ApplyPushResults(bg, []protocol.OpResult{{OpID: model.NewID()}}) },
		"RetryAll":    func() error { _, err := db.RetryAll(bg); return err },
		"Status":      func() error { _, err := db.Status(bg); return err },
		"DataVersion": func() error { _, err := db.DataVersion(bg); return err },
		"Doctor":      func() error { _, err := db.Doctor(bg, false); return err },
		"Repair":      func() error { _, err := db.Doctor(bg, true); return err },
		"WorkOffline": func() error { _, err := db.WorkOffline(bg); return err },
		"SetOffline":  func() error { return db.SetWorkOffline(bg, true) },
		"SetMeta":     func() error { return db.SetMeta(bg, "k", "v") },
		"Checkpoint":  func() error { return db.CheckpointSoon() },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// Every exported method but Close, Abandon (which only lets a lock go,
// as Close does) and the plain accessors returns
// ErrClosed after Close, whatever its arguments: the guard comes before
// any check of them, so a method added later without it fails here.
func TestEveryMethodChecksClosed(t *testing.T) {
	db := openTest(t)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ctxType := reflect.TypeFor[context.Context]()
	errType := reflect.TypeFor[error]()
	v := reflect.ValueOf(db)
	checked := 0
	for i := range v.NumMethod() {
		m := v.Type().Method(i)
		switch m.Name {
		case "Close", "Abandon", "Schema", "Path", "Encrypted":
			continue
		}
		ft := m.Type
		if ft.NumOut() == 0 || ft.Out(ft.NumOut()-1) != errType {
			t.Errorf("%s returns no error; add it to the exceptions or give it one", m.Name)
			continue
		}
		args := make([]reflect.Value, ft.NumIn()-1)
		for j := range args {
			in := ft.In(j + 1)
			if in == ctxType {
				args[j] = reflect.ValueOf(bg)
			} else {
				args[j] = reflect.Zero(in)
			}
		}
		out := v.Method(i).Call(args)
		err, _ := out[len(out)-1].Interface().(error)
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", m.Name, err)
		}
		checked++
	}
	if checked < 30 {
		t.Fatalf("only %d methods checked", checked)
	}
}

// Close waits for a call in flight, and refuses calls that start while it
// waits, those made from inside a call included, rather than blocking them
// behind itself.
func TestCloseWaitsForCallsInFlight(t *testing.T) {
	db := openTest(t)
	if err := db.enter(); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := db.Status(bg)
		if errors.Is(err, ErrClosed) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("Close never began")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a call was in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	// The call in flight can still use the handles.
	if _, err := getMeta(bg, db.r, metaCursor); err != nil {
		t.Fatalf("a call in flight lost its handle: %v", err)
	}
	db.leave()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return once the call left")
	}
}

// Closing while other goroutines keep reading, writing and syncing: each
// call either works or returns ErrClosed, never panics, and a call that
// starts after Close returned always returns ErrClosed. Run it with -race.
func TestCloseWhileInUse(t *testing.T) {
	db := openTest(t)
	m := mustMatter(t, db, "Smith v Jones")
	const workers = 6
	var warm, done sync.WaitGroup
	var closeReturned atomic.Bool
	errs := make(chan error, 2*workers)
	warm.Add(workers)
	done.Add(workers)
	for w := range workers {
		go func() {
			defer done.Done()
			var warmed sync.Once
			defer warmed.Do(warm.Done)
			var mine []string
			calls := []func(i int) error{
				func(i int) error {
					r, err := db.Create(bg, "note", "", model.Fields{"matter_id": m, "title": fmt.Sprintf("w%d n%d", w, i)})
					if err == nil {
						mine = append(mine, r.ID)
					}
					return err
				},
				func(i int) error {
					_, err := db.Update(bg, mine[len(mine)-1], model.Fields{"body": fmt.Sprint(i)})
					return err
				},
				func(int) error { _, err := db.List(bg, ListQuery{Collection: "note", Limit: 20}); return err },
				func(int) error { _, err := db.Get(bg, m); return err },
				func(int) error { _, err := db.Status(bg); return err },
				func(int) error { _, err := db.DataVersion(bg); return err },
				func(int) error { _, err := db.OutboxCounts(bg); return err },
				func(int) error {
					ops, err := db.NextBatch(bg, time.Now(), 5)
					if err != nil || len(ops) == 0 {
						return err
					}
					ids := make([]string, len(ops))
					for i, o := range ops {
						ids[i] = o.OpID
					}
					return db.MarkRetry(bg, ids, "offline", time.Now().Add(time.Hour))
				},
				func(int) error { _, err := db.WorkOffline(bg); return err },
				func(i int) error { return db.SetWorkOffline(bg, i%2 == 0) },
			}
			for i := 0; ; i++ {
				after := closeReturned.Load()
				err := calls[i%len(calls)](i)
				if errors.Is(err, ErrClosed) {
					break
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d call %d: %w", w, i%len(calls), err)
					return
				}
				if after {
					errs <- fmt.Errorf("worker %d call %d worked after Close returned", w, i%len(calls))
					return
				}
				if i == len(calls)-1 {
					warmed.Do(warm.Done)
				}
			}
			// Once closed, every call is refused.
			for i := range calls {
				if err := calls[i](i); !errors.Is(err, ErrClosed) {
					errs <- fmt.Errorf("worker %d call %d after Close: %v", w, i, err)
					return
				}
			}
		}()
	}
	warm.Wait() // every worker went round its calls once
	err := db.Close()
	closeReturned.Store(true)
	if err != nil {
		t.Error(err)
	}
	done.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
