package syncer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/syncer"
)

// pushRecorder passes requests through and notes each push's status and,
// for a refusal, its code.
type pushRecorder struct {
	mu      sync.Mutex
	answers []string // "200", "413 answer_too_large", …
	// strip drops the server's answer bound from the answers, as a server
	// older than protocol.HeaderAnswerBytes (or a proxy) would.
	strip atomic.Bool
}

func (p *pushRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || req.URL.Path != protocol.PathPush {
		return resp, err
	}
	if p.strip.Load() {
		resp.Header.Del(protocol.HeaderAnswerBytes)
	}
	answer := fmt.Sprint(resp.StatusCode)
	if resp.StatusCode != http.StatusOK {
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		var er protocol.ErrorResponse
		if json.Unmarshal(body, &er) == nil {
			answer += " " + string(er.Error.Code)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	p.mu.Lock()
	p.answers = append(p.answers, answer)
	p.mu.Unlock()
	return resp, nil
}

// since returns the answers after the first n.
func (p *pushRecorder) since(n int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.answers[n:]...)
}

func (p *pushRecorder) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.answers)
}

// recordedDevice is alice's device "a", its pushes noted.
func recordedDevice(w *world) (*device, *pushRecorder) {
	rec := &pushRecorder{}
	alice := w.srv.NewUser(w.t, "alice", server.RoleMember)
	return w.newDevice("a", alice, func(o *syncer.Options) { o.HTTPClient = &http.Client{Transport: rec} }), rec
}

// largeNotes has d create n notes of some 40 KB in a matter of its own
// and sync them, and edits each one's title; it returns the notes.
func largeNotes(t testing.TB, d *device, n int) []model.Record {
	t.Helper()
	m := d.create(model.MatterCollection, model.Fields{"title": "Harbour Trust v. Quayside"})
	body := strings.Repeat("The caretaker saw the gate open at night. ", 1_000)
	notes := make([]model.Record, n)
	for i := range notes {
		notes[i] = d.create("note", model.Fields{model.MatterField: m.ID, "title": title(i), "body": body})
	}
	if sum := d.sync(); sum.Pushed != n+1 || sum.Failed != 0 {
		t.Fatalf("creating the notes: %+v", sum)
	}
	for i, r := range notes {
		d.update(r.ID, model.Fields{"title": title(i) + ", revised"})
	}
	return notes
}

// pushedAll checks that a sync pushed every edit, none failed or waiting
// for a retry, and that the server holds them.
func pushedAll(t *testing.T, d *device, notes []model.Record, sum syncer.Summary) {
	t.Helper()
	if sum.Pushed != len(notes) || sum.Failed != 0 || sum.Conflicts != 0 {
		t.Fatalf("the sync of %d edits: %+v", len(notes), sum)
	}
	if q := d.outbox(); len(q) != 0 {
		t.Fatalf("%d ops still queued, the first %s (%s)", len(q), q[0].State, q[0].LastError)
	}
	if !d.sawNoEvent(func(e syncer.Event) bool {
		return e.Kind == syncer.EventRecord && (e.State == model.StateFailed || e.State == model.StateRetrying)
	}) {
		t.Fatal("an op was shown failed or retrying")
	}
	held := serverRecords(t, d.user)
	for i, r := range notes {
		if got := held[r.ID]; got.Version != 2 || got.Fields["title"] != title(i)+", revised" {
			t.Fatalf("the server holds note %d at version %d titled %v", i, got.Version, got.Fields["title"])
		}
	}
}

// TestPushSizesBatchesByAnswer: title edits of notes of 40 KB, whose
// answer in one batch would pass the server's bound (1 MiB here, which
// its answers say), go in batches whose answers fit: the server never has
// to refuse one, every edit is applied, and the bound is kept for the
// device's next process.
func TestPushSizesBatchesByAnswer(t *testing.T) {
	const bound = 1 << 20
	w := newWorld(t, func(o *server.Options) { o.PushAnswerBytes = bound })
	d, rec := recordedDevice(w)
	notes := largeNotes(t, d, 60)
	before := rec.count()
	sum := d.sync()
	answers := rec.since(before)
	t.Logf("%d edits pushed in %d requests: %v", len(notes), len(answers), answers)
	pushedAll(t, d, notes, sum)
	// 60 answers of some 40 KB in batches of half the bound.
	if len(answers) < 4 {
		t.Fatalf("%d edits of large notes went in %d request(s), want at least 4", len(notes), len(answers))
	}
	// Each batch but the last was cut to fit its answer, with more
	// behind it: the next was taken while it was on the server.
	if sum.Overlapped == 0 {
		t.Errorf("no batch was taken while the one before it was on the server: %+v", sum)
	}
	for _, a := range answers {
		if a != "200" {
			t.Fatalf("push answers %v: the batches were not sized to their answers", answers)
		}
	}
	if got := meta(t, d, syncer.MetaAnswerBytes); got != fmt.Sprint(bound) {
		t.Fatalf("the device keeps the server's answer bound as %q, want %d", got, bound)
	}
}

// TestPushLearnsTheAnswerBound: a device that has not heard the server's
// answer bound sends a batch the server refuses as answer_too_large; the
// refusal names the bound, and the device sends the batch's ops again in
// batches that fit, refused no more. A new process of the device sizes
// its batches by the bound from the start.
func TestPushLearnsTheAnswerBound(t *testing.T) {
	const bound = 256 << 10
	w := newWorld(t, func(o *server.Options) { o.PushAnswerBytes = bound })
	d, rec := recordedDevice(w)
	rec.strip.Store(true) // the creates' answers do not say it
	notes := largeNotes(t, d, 20)
	if got := meta(t, d, syncer.MetaAnswerBytes); got != "" {
		t.Fatalf("the device heard an answer bound (%q) where none was said", got)
	}
	rec.strip.Store(false)
	before := rec.count()
	sum := d.sync()
	answers := rec.since(before)
	t.Logf("%d edits pushed in %d requests: %v", len(notes), len(answers), answers)
	pushedAll(t, d, notes, sum)
	tooLarge := fmt.Sprintf("%d %s", http.StatusRequestEntityTooLarge, protocol.CodeAnswerTooLarge)
	if len(answers) < 3 || answers[0] != tooLarge {
		t.Fatalf("push answers %v: want the first batch refused as too large, then batches that fit", answers)
	}
	for _, a := range answers[1:] {
		if a != "200" {
			t.Fatalf("push answers %v: refused again after the server said its bound", answers)
		}
	}
	if got := meta(t, d, syncer.MetaAnswerBytes); got != fmt.Sprint(bound) {
		t.Fatalf("the device keeps the server's answer bound as %q, want %d", got, bound)
	}

	// The next process knows the bound before any answer says it.
	d.close()
	d.open(w.proxy.URL, func(o *syncer.Options) { o.HTTPClient = &http.Client{Transport: rec} })
	rec.strip.Store(true)
	for i, r := range notes {
		d.update(r.ID, model.Fields{"title": title(i) + ", revised again"})
	}
	before = rec.count()
	sum = d.sync()
	answers = rec.since(before)
	if sum.Pushed != len(notes) || sum.Failed != 0 {
		t.Fatalf("the sync after a restart: %+v", sum)
	}
	for _, a := range answers {
		if a != "200" {
			t.Fatalf("push answers after a restart %v: the kept bound was not used", answers)
		}
	}
}

// TestPushSplitsAnswerTooLarge: a server whose answers are bounded
// tighter than the client reckons, and do not say so (a proxy drops the
// header), refuses its batches with 413 answer_too_large; the client
// splits them until they fit, and every edit is applied, none shown
// failed or retrying.
func TestPushSplitsAnswerTooLarge(t *testing.T) {
	w := newWorld(t, func(o *server.Options) { o.PushAnswerBytes = 256 << 10 })
	d, rec := recordedDevice(w)
	rec.strip.Store(true)
	notes := largeNotes(t, d, 20)
	before := rec.count()
	sum := d.sync()
	answers := rec.since(before)
	t.Logf("%d edits pushed in %d requests: %v", len(notes), len(answers), answers)
	pushedAll(t, d, notes, sum)
	refused := 0
	for _, a := range answers {
		if a == fmt.Sprintf("%d %s", http.StatusRequestEntityTooLarge, protocol.CodeAnswerTooLarge) {
			refused++
		}
	}
	if refused == 0 {
		t.Fatalf("push answers %v: the server never refused a batch as too large, the test proves nothing", answers)
	}
}

// meta reads one of d's meta values.
func meta(t *testing.T, d *device, key string) string {
	t.Helper()
	v, err := d.db.Meta(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
