package cli

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	tea "charm.land/bubbletea/v2"

	"casefile/config"
	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/model"
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

// unsavedModel is a UI that ended with a form's typing unsaved.
type unsavedModel struct {
	tea.Model
	collection, id string
	fields         model.Fields
}

func (u unsavedModel) UnsavedForm() (string, string, model.Fields, bool) {
	return u.collection, u.id, u.fields, len(u.fields) > 0
}

// TestSignalKeepsTheUnsavedForm: when a signal or a closed terminal ends
// the UI while a form holds unsaved typing, the typing is kept in the
// journal (sealed as the journal's values are), nothing is queued or
// changed, and the person is told where to find it.
func TestSignalKeepsTheUnsavedForm(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	matter, note := h.seed()
	before := h.ok("queue")
	db := h.db()
	var stderr bytes.Buffer
	env := &Env{Stderr: &stderr}
	if err := keepUnsaved(env, db, unsavedModel{collection: "note", id: note, fields: model.Fields{"body": "half a thought \x1b[2J", "status": "open"}}); err != nil {
		t.Fatal(err)
	}
	if err := keepUnsaved(env, db, unsavedModel{collection: "note"}); err != nil { // nothing typed: nothing kept
		t.Fatal(err)
	}
	db.Close()
	if !strings.Contains(stderr.String(), "kept in the journal") || strings.Count(stderr.String(), "\n") != 1 {
		t.Fatalf("stderr %q", stderr.String())
	}
	if after := h.ok("queue"); after != before {
		t.Fatalf("keeping the form queued something:\n%s", after)
	}
	var entries []localdb.JournalEntry
	h.okJSON(&entries, "journal", "--json")
	drafts := 0
	for _, e := range entries {
		if e.Kind == localdb.JournalDraft {
			drafts++
			if e.RecordID != note || e.After["body"] != "half a thought \x1b[2J" {
				t.Errorf("draft %+v", e)
			}
		}
	}
	if drafts != 1 {
		t.Fatalf("%d drafts in the journal, want 1", drafts)
	}
	if out := h.ok("journal"); !strings.Contains(out, "unsaved form") || strings.Contains(out, "\x1b") {
		t.Errorf("journal:\n%q", out)
	}
	_ = matter
}
