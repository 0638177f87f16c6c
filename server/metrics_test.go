package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	pmodel "github.com/prometheus/common/model"

	"casefile/model"
	"casefile/server"
	"casefile/server/servertest"
)

// scrape reads /metrics and returns its families by name and the raw text.
func scrape(t *testing.T, baseURL string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, err := http.Get(baseURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics: %d %s", resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(pmodel.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("metrics are not valid exposition text: %v\n%s", err, body)
	}
	return fams, string(body)
}

// series returns the metric of a family whose labels are exactly labels.
func series(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no metric family %s", name)
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if len(got) == len(labels) {
			match := true
			for k, v := range labels {
				match = match && got[k] == v
			}
			if match {
				return m
			}
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return nil
}

func TestMetrics(t *testing.T) {
	ctx := context.Background()
	srv := servertest.Start(t)
	if err := srv.AddUser(ctx, "alice", servertest.Password, server.RoleMember); err != nil {
		t.Fatal(err)
	}
	alice, err := servertest.Login(ctx, srv.URL, "alice", servertest.Password, "alice-laptop")
	if err != nil {
		t.Fatal(err)
	}
	bob := srv.NewUser(t, "bob", server.RoleMember)

	matter := alice.CreateMatter(t, "Smith v Jones") // seq 1
	resp, err := alice.Push(ctx,                     // seq 2, 3 and a rejection
		servertest.Create("note", model.Fields{model.MatterField: matter.ID, "title": "a"}),
		servertest.Create("note", model.Fields{model.MatterField: matter.ID, "title": "b"}),
		servertest.Create("note", model.Fields{model.MatterField: model.NewID(), "title": "c"}))
	if err != nil || resp.Head != 3 || resp.Results[2].Result != model.ResultRejected {
		t.Fatalf("push: %+v %v", resp, err)
	}
	// alice's device is 2 changes behind the head, bob's is at it.
	if _, err := alice.Pull(ctx, 0, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Pull(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := alice.Call(ctx, http.MethodGet, "/v1/nothing", nil, nil); err == nil {
		t.Fatal("unknown route answered 200")
	}
	events := stream(t, srv.URL, alice.Token, "")
	<-events // the stream counts once it has said it is connected

	fams, text := scrape(t, srv.URL)
	counter := func(name string, labels map[string]string) float64 {
		return series(t, fams, name, labels).GetCounter().GetValue()
	}
	gauge := func(name string) float64 { return series(t, fams, name, nil).GetGauge().GetValue() }
	checks := []struct {
		what      string
		got, want float64
	}{
		{"push requests", counter("casefile_http_requests_total", map[string]string{"route": "/v1/push", "code": "200"}), 2},
		{"pull requests", counter("casefile_http_requests_total", map[string]string{"route": "/v1/pull", "code": "200"}), 2},
		{"unknown route", counter("casefile_http_requests_total", map[string]string{"route": "unmatched", "code": "404"}), 1},
		{"applied", counter("casefile_ops_total", map[string]string{"result": "applied"}), 3},
		{"rejected", counter("casefile_ops_total", map[string]string{"result": "rejected"}), 1},
		{"merged", counter("casefile_ops_total", map[string]string{"result": "merged"}), 0},
		{"conflict", counter("casefile_ops_total", map[string]string{"result": "conflict"}), 0},
		{"push timings", float64(series(t, fams, "casefile_push_seconds", nil).GetHistogram().GetSampleCount()), 2},
		{"pull timings", float64(series(t, fams, "casefile_pull_seconds", nil).GetHistogram().GetSampleCount()), 2},
		{"streams", gauge("casefile_event_streams"), 1},
		{"requests in flight (the stream and the scrape)", gauge("casefile_http_requests_in_flight"), 2},
		{"head", gauge("casefile_head"), 3},
		{"backlog max", gauge("casefile_device_backlog_max"), 2},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	h := series(t, fams, "casefile_device_backlog", nil).GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 2 {
		t.Errorf("backlog histogram: %d devices, sum %v; want 2 devices, sum 2", h.GetSampleCount(), h.GetSampleSum())
	}
	for _, b := range h.GetBucket() {
		want := uint64(2)
		if b.GetUpperBound() == 0 {
			want = 1 // bob's device, at the head
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("backlog bucket le=%v = %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	// No series is labelled with a person or a device.
	for _, private := range []string{"alice", "bob", "laptop", matter.ID} {
		if strings.Contains(text, private) {
			t.Errorf("metrics name %q", private)
		}
	}

	// Every committed write transaction is timed once, waiting and
	// holding alike: one more push (its device already noted as seen
	// this minute) is one more of each.
	writes := func(fams map[string]*dto.MetricFamily) (wait, held uint64) {
		return series(t, fams, "casefile_store_write_wait_seconds", nil).GetHistogram().GetSampleCount(),
			series(t, fams, "casefile_store_write_held_seconds", nil).GetHistogram().GetSampleCount()
	}
	wait, held := writes(fams)
	if wait < 2 || held != wait {
		t.Errorf("write timings: %d waits and %d holds, want as many of each and at least the two pushes", wait, held)
	}
	if _, err := alice.Push(ctx, servertest.Create("note", model.Fields{model.MatterField: matter.ID, "title": "d"})); err != nil {
		t.Fatal(err)
	}
	fams, _ = scrape(t, srv.URL)
	if w, h := writes(fams); w != wait+1 || h != held+1 {
		t.Errorf("a push's write: %d → %d waits, %d → %d holds; want one more of each", wait, w, held, h)
	}
}
