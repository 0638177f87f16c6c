package syncer_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
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
}

func (p *pushRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || req.URL.Path != protocol.PathPush {
		return resp, err
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
func largeNotes(t *testing.T, d *device, n int) []model.Record {
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
	if d.sawEvent(func(e syncer.Event) bool {
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

// TestPushSizesBatchesByAnswer: 500 title edits of notes of 40 KB, whose
// answer in one batch would be 20 MB (over protocol.MaxAnswerBytes), go
// in batches whose answers fit: the server never has to refuse one, and
// every edit is applied.
func TestPushSizesBatchesByAnswer(t *testing.T) {
	w := newWorld(t)
	d, rec := recordedDevice(w)
	notes := largeNotes(t, d, protocol.MaxOpsPerPush)
	before := rec.count()
	sum := d.sync()
	answers := rec.since(before)
	t.Logf("%d edits pushed in %d requests: %v", len(notes), len(answers), answers)
	pushedAll(t, d, notes, sum)
	if len(answers) < 2 {
		t.Fatalf("%d edits of large notes went in %d request(s), want several", len(notes), len(answers))
	}
	for _, a := range answers {
		if a != "200" {
			t.Fatalf("push answers %v: the batches were not sized to their answers", answers)
		}
	}
}

// TestPushSplitsAnswerTooLarge: a server whose answers are bounded
// tighter than the client reckons refuses its batches with 413
// answer_too_large; the client splits them until they fit, and every
// edit is applied, none shown failed or retrying.
func TestPushSplitsAnswerTooLarge(t *testing.T) {
	w := newWorld(t, func(o *server.Options) { o.PushAnswerBytes = 2 << 20 })
	d, rec := recordedDevice(w)
	notes := largeNotes(t, d, 200)
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
