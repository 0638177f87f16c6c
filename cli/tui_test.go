package cli

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"casefile/config"
	"casefile/localdb/localdbtest"
	"casefile/syncer"
)

// The UI's syncer starts with work offline when the person left it on: it
// makes no request at all, from its start on; once it is off, it talks to
// the server again.
func TestUISyncerKeepsWorkOfflineFromTheStart(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, `{"error":{"code":"unavailable","message":"not today"}}`, http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ctx := context.Background()
	db := localdbtest.Open(t)
	creds := config.Credentials{Server: srv.URL, User: "alice", Device: "laptop", Token: "t0ken"}
	if err := db.SetWorkOffline(ctx, true); err != nil {
		t.Fatal(err)
	}

	opts, err := uiSyncOptions(ctx, &Env{Getenv: func(string) string { return "" }}, db, config.Config{}, creds)
	if err != nil {
		t.Fatal(err)
	}
	opts.Logger = slog.New(slog.DiscardHandler)
	sy := syncer.New(db, opts)
	if c := sy.Connectivity(); c != syncer.WorkOffline {
		t.Fatalf("the syncer starts %s", c)
	}
	sy.Start(ctx)
	if _, err := sy.RunOnce(ctx); !errors.Is(err, syncer.ErrWorkOffline) {
		t.Fatalf("a cycle while working offline: %v", err)
	}
	sy.Close() // waits for every goroutine it started
	if n := requests.Load(); n != 0 {
		t.Fatalf("the syncer made %d requests while working offline", n)
	}

	if err := db.SetWorkOffline(ctx, false); err != nil {
		t.Fatal(err)
	}
	if opts, err = uiSyncOptions(ctx, &Env{Getenv: func(string) string { return "" }}, db, config.Config{}, creds); err != nil {
		t.Fatal(err)
	}
	opts.Logger = slog.New(slog.DiscardHandler)
	sy = syncer.New(db, opts)
	defer sy.Close()
	if _, err := sy.RunOnce(ctx); err == nil || errors.Is(err, syncer.ErrWorkOffline) {
		t.Fatalf("a cycle online against a failing server: %v", err)
	}
	if requests.Load() == 0 {
		t.Fatal("back online, the syncer still made no request")
	}
}
