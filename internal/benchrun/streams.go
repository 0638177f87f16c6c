package benchrun

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
)

// Timings of S5.
const (
	pushEvery      = time.Second      // each pusher's pace
	streamsTimeout = 2 * time.Minute  // to open every stream
	pokeGrace      = 10 * time.Second // after the last push, for its pokes to arrive
)

// streams measures S5: one server, many clients holding /v1/events, some
// of them pushing one op a second. The load runs in a worker process that
// talks to the server directly (its bytes are not the question here).
func (b *bench) streams(ctx context.Context, dir string, store []string, replicas ...[]string) (map[string]float64, error) {
	raiseFileLimit()
	users := s5Users(b.opts.Streams)
	b.progress("S5: %d users", users)
	names := make([]string, users)
	for i := range names {
		names[i] = fmt.Sprintf("user%04d", i)
	}
	if err := addUsers(ctx, store, names); err != nil {
		return nil, err
	}
	var srvs []*serveProc
	defer func() {
		for _, s := range srvs {
			s.stop()
		}
	}()
	for range max(1, len(replicas)) {
		srv, err := b.startServer(ctx, store...)
		if err != nil {
			return nil, err
		}
		srvs = append(srvs, srv)
	}
	var urls []string
	var cpu0 time.Duration
	for _, s := range srvs {
		urls = append(urls, s.DirectURL())
		cpu0 += s.cpu()
	}
	b.progress("S5: %d streams, %d pushing for %s", b.opts.Streams, b.opts.Pushers, b.opts.PushFor)
	m, err := b.workerOf(ctx, b.opts.Bin, "S5", "--urls", strings.Join(urls, ","),
		"--streams", fmt.Sprint(b.opts.Streams), "--pushers", fmt.Sprint(b.opts.Pushers), "--push-for", b.opts.PushFor.String())
	if err != nil {
		return nil, err
	}
	var cpu time.Duration
	var peak int64
	for _, s := range srvs {
		cpu += s.cpu()
		_, p := s.rss()
		peak = max(peak, p)
	}
	m["server_cpu_s"] = (cpu - cpu0).Seconds()
	m["server_rss_peak_mib"] = float64(peak) / (1 << 20)
	return m, nil
}

// S5's clients are devices as a server admits them: each login (a token)
// holds at most server.DefaultStreamsPerToken streams, each user at most
// server.DefaultStreamsPerUser.
const (
	streamsPerToken = server.DefaultStreamsPerToken
	tokensPerUser   = server.DefaultStreamsPerUser / server.DefaultStreamsPerToken
)

func s5Users(streams int) int {
	return (streams + streamsPerToken*tokensPerUser - 1) / (streamsPerToken * tokensPerUser)
}

// addUsers creates members in the store with the bench password, hashed
// at the lowest cost: S5 logs in thousands of devices, and the password
// check is not what it measures.
func addUsers(ctx context.Context, store []string, names []string) error {
	o := server.Options{Logger: slog.New(slog.DiscardHandler), CompactEvery: -1,
		Password: server.HashParams{Time: 1, MemoryKiB: 64, Threads: 1}}
	switch store[0] {
	case "--data":
		o.DataDir = store[1]
	default:
		o.DatabaseURL = store[1]
	}
	srv, err := server.Open(ctx, o)
	if err != nil {
		return fmt.Errorf("open the store to add users: %w", err)
	}
	defer srv.Close()
	for _, n := range names {
		if err := srv.AddUser(ctx, n, benchPassword, server.RoleMember); err != nil {
			return fmt.Errorf("add user %s: %w", n, err)
		}
	}
	return nil
}

// raiseFileLimit lifts the soft limit of open files to the hard one, for
// this process and the servers and workers it starts (10,000 streams need
// 10,000 descriptors on each side).
func raiseFileLimit() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// account is one user's token and matter in the load.
type account struct {
	url, token, matter string
	listener           *pokeLog // the first stream of this user: when each seq was poked
}

// pokeLog records when a stream first heard of each sequence.
type pokeLog struct {
	mu   sync.Mutex
	seqs []int64
	at   []time.Time
}

func (p *pokeLog) add(seq int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.seqs); n == 0 || seq > p.seqs[n-1] {
		p.seqs = append(p.seqs, seq)
		p.at = append(p.at, time.Now())
	}
}

// heard returns when the stream first heard of seq or later.
func (p *pokeLog) heard(seq int64) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, s := range p.seqs {
		if s >= seq {
			return p.at[i], true
		}
	}
	return time.Time{}, false
}

// streamClient names the client holding stream i; a pusher is the client
// holding the first stream of its token, whose stream is not poked for
// its own pushes.
func streamClient(i int) string { return fmt.Sprintf("load-%d", i) }

// listenerOf is the stream that times pokes for user u: the first of the
// user's last device (of tokens in all), never a pusher's own stream.
func listenerOf(u, tokens int) int {
	return (min((u+1)*tokensPerUser, tokens) - 1) * streamsPerToken
}

// workerStreams is S5's load.
func workerStreams(ctx context.Context, args WorkerArgs) (map[string]float64, error) {
	raiseFileLimit()
	hc := &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: args.Pushers + 16,
		IdleConnTimeout:     time.Minute,
	}}
	users := s5Users(args.Streams)
	tokens := (args.Streams + streamsPerToken - 1) / streamsPerToken
	accts := make([]*account, tokens)
	matters := make([]string, users)
	listeners := make([]*pokeLog, users)
	for i := range accts {
		u := i / tokensPerUser
		url := args.URLs[u%len(args.URLs)]
		var lr protocol.LoginResponse
		err := call(ctx, hc, url, "", "", "/v1/login", protocol.LoginRequest{User: fmt.Sprintf("user%04d", u),
			Password: benchPassword, Device: fmt.Sprintf("load %d", i)}, &lr)
		if err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
		if matters[u] == "" {
			m := model.Op{OpID: uuid.Must(uuid.NewV7()).String(), RecordID: uuid.Must(uuid.NewV7()).String(),
				Collection: "matter", Kind: model.OpCreate, Fields: model.Fields{"title": fmt.Sprintf("Load %d", u)}}
			var pr protocol.PushResponse
			if err := call(ctx, hc, url, lr.Token, "", "/v1/push", protocol.PushRequest{Ops: []model.Op{m}}, &pr); err != nil {
				return nil, fmt.Errorf("create a matter: %w", err)
			}
			matters[u], listeners[u] = m.RecordID, &pokeLog{}
		}
		accts[i] = &account{url: url, token: lr.Token, matter: matters[u], listener: listeners[u]}
	}
	// Streams: each its own connection, round-robin over users and servers.
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var open, failed atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	ready := make(chan struct{}, args.Streams)
	for i := range args.Streams {
		a := accts[i/streamsPerToken]
		var log *pokeLog
		if u := i / (streamsPerToken * tokensPerUser); i == listenerOf(u, tokens) {
			log = a.listener
		}
		url := a.url
		wg.Add(1)
		go func() {
			defer wg.Done()
			readied, err := holdStream(sctx, url, a.token, streamClient(i), log, ready)
			if err != nil && sctx.Err() == nil {
				failed.Add(1)
				if !readied {
					ready <- struct{}{}
				}
			}
		}()
	}
	deadline := time.After(streamsTimeout)
	for range args.Streams {
		select {
		case <-ready:
			open.Add(1)
		case <-deadline:
			return nil, fmt.Errorf("only %d of %d streams opened", open.Load(), args.Streams)
		}
	}
	opened := time.Since(t0)
	// Pushers: one note a second each, at random phases.
	type push struct {
		acct     *account
		latency  time.Duration
		answered time.Time
		head     int64
		err      bool
	}
	var mu sync.Mutex
	var pushes []push
	writesBefore, pushedFrom := storeWrites(ctx, hc, args.URLs), time.Now()
	pctx, pstop := context.WithTimeout(ctx, args.PushFor)
	defer pstop()
	var pw sync.WaitGroup
	for i := range args.Pushers {
		k := (i * tokensPerUser) % len(accts)
		a, client := accts[k], streamClient(k*streamsPerToken)
		pw.Add(1)
		go func() {
			defer pw.Done()
			select {
			case <-time.After(time.Duration(rand.Int64N(int64(pushEvery)))):
			case <-pctx.Done():
				return
			}
			tick := time.NewTicker(pushEvery)
			defer tick.Stop()
			for n := 0; ; n++ {
				op := model.Op{OpID: uuid.Must(uuid.NewV7()).String(), RecordID: uuid.Must(uuid.NewV7()).String(),
					Collection: "note", Kind: model.OpCreate, Fields: model.Fields{"matter_id": a.matter,
						"title": fmt.Sprintf("Load note %d", n), "body": noteBody}}
				var pr protocol.PushResponse
				start := time.Now()
				err := call(ctx, hc, a.url, a.token, client, "/v1/push", protocol.PushRequest{Ops: []model.Op{op}}, &pr)
				p := push{acct: a, latency: time.Since(start), answered: time.Now(), head: pr.Head,
					err: err != nil || len(pr.Results) != 1 || pr.Results[0].Result != model.ResultApplied}
				mu.Lock()
				pushes = append(pushes, p)
				mu.Unlock()
				select {
				case <-tick.C:
				case <-pctx.Done():
					return
				}
			}
		}()
	}
	pw.Wait()
	writes := storeWrites(ctx, hc, args.URLs).since(writesBefore, time.Since(pushedFrom))
	time.Sleep(min(pokeGrace, args.PushFor))
	stop()
	wg.Wait()
	var lat, poke []time.Duration
	errs, unpoked := 0, 0
	for _, p := range pushes {
		if p.err {
			errs++
			continue
		}
		lat = append(lat, p.latency)
		if at, ok := p.acct.listener.heard(p.head); ok {
			poke = append(poke, max(0, at.Sub(p.answered)))
		} else {
			unpoked++
		}
	}
	ms := func(v float64) float64 { return v / 1000 }
	out := map[string]float64{
		"streams":          float64(args.Streams),
		"streams_failed":   float64(failed.Load()),
		"streams_open_s":   opened.Seconds(),
		"pushers":          float64(args.Pushers),
		"pushes":           float64(len(pushes)),
		"pushes_per_s":     float64(len(pushes)) / args.PushFor.Seconds(),
		"push_errors":      float64(errs),
		"push_p50_ms":      ms(percentile(lat, 0.5)),
		"push_p99_ms":      ms(percentile(lat, 0.99)),
		"poke_p50_ms":      ms(percentile(poke, 0.5)),
		"poke_p99_ms":      ms(percentile(poke, 0.99)),
		"pokes_never_seen": float64(unpoked),
	}
	maps.Copy(out, writes)
	return out, nil
}

// writeTimes are a server's write-lock histograms' sums (seconds) and
// count, as its /metrics tells them (casefile_store_write_*_seconds).
type writeTimes struct {
	wait, held, n float64
	ok            bool // every server told them (storeWrites)
}

// storeWrites adds up the write-lock timings of the servers at urls.
func storeWrites(ctx context.Context, hc *http.Client, urls []string) writeTimes {
	total := writeTimes{ok: true}
	for _, url := range urls {
		w, err := scrapeWrites(ctx, hc, url)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: reading %s/metrics: %v (the write lock's figures are left out)\n", url, err)
			return writeTimes{}
		}
		total.wait, total.held, total.n = total.wait+w.wait, total.held+w.held, total.n+w.n
	}
	return total
}

func scrapeWrites(ctx context.Context, hc *http.Client, url string) (writeTimes, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
	if err != nil {
		return writeTimes{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return writeTimes{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return writeTimes{}, fmt.Errorf("%s", resp.Status)
	}
	var w writeTimes
	want := map[string]*float64{"casefile_store_write_wait_seconds_sum": &w.wait,
		"casefile_store_write_held_seconds_sum": &w.held, "casefile_store_write_held_seconds_count": &w.n}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		into := want[name]
		if !ok || into == nil {
			continue
		}
		if *into, err = strconv.ParseFloat(value, 64); err != nil {
			return writeTimes{}, fmt.Errorf("%s: %w", name, err)
		}
		delete(want, name)
	}
	if err := sc.Err(); err != nil {
		return writeTimes{}, err
	}
	if len(want) > 0 {
		return writeTimes{}, errors.New("no write-lock histograms")
	}
	return w, nil
}

// since is what the servers' writes did from before to w, over d: how
// many committed a second, their mean wait for the write lock and hold
// of it, and the share of d the lock was held (summed over the servers:
// near 1, their writes are serialised to the full).
func (w writeTimes) since(before writeTimes, d time.Duration) map[string]float64 {
	n := w.n - before.n
	if !w.ok || !before.ok || n <= 0 || d <= 0 {
		return nil
	}
	return map[string]float64{
		"writes_per_s":       n / d.Seconds(),
		"write_wait_mean_ms": (w.wait - before.wait) / n * 1000,
		"write_held_mean_ms": (w.held - before.held) / n * 1000,
		"write_held_share":   (w.held - before.held) / d.Seconds(),
	}
}

// holdStream opens /v1/events and reads it until ctx ends, logging the
// sequence of each poke in log (when not nil). It signals ready once the
// server has answered.
func holdStream(ctx context.Context, url, token, client string, log *pokeLog, ready chan<- struct{}) (readied bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/events", nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set(protocol.HeaderClient, client)
	// A transport of its own per stream: a shared one would queue streams
	// behind its connection limits.
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("events: %s", resp.Status)
	}
	ready <- struct{}{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "id: "); ok && log != nil {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				log.add(n)
			}
		}
	}
	if ctx.Err() != nil {
		return true, nil
	}
	return true, errors.New("the stream ended")
}

// call posts in as JSON to path and decodes a 200 answer into out.
func call(ctx context.Context, hc *http.Client, url, token, client, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if client != "" {
		req.Header.Set(protocol.HeaderClient, client)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
