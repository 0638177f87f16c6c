// Package server is Casefile's sync server: the /v1 API (login, push, pull,
// events), the rules that decide what each op does (field merge, defined
// conflict cases, matter-scoped access) and the admin operations, over a
// store.Store (SQLite by default, PostgreSQL for several replicas).
//
// Embed it with Open, then serve Handler or call Serve:
//
//	srv, err := server.Open(ctx, server.Options{DataDir: dir})
//	...
//	go srv.Serve(ln)
//	defer srv.Close()
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"casefile/assets"
	"casefile/model"
	"casefile/server/blobstore"
	"casefile/server/store"
	"casefile/server/store/pgstore"
	"casefile/server/store/sqlitestore"
)

// maxHeaderBytes bounds a request's headers (431 past it).
const maxHeaderBytes = 64 << 10

// Defaults of Options.
const (
	DefaultTokenTTL   = 30 * 24 * time.Hour
	DefaultRetention  = 90 * 24 * time.Hour
	DefaultHeartbeat  = 15 * time.Second
	DefaultRateLimit  = rate.Limit(100) // requests per second per token
	DefaultRateBurst  = 200
	DefaultCompaction = time.Hour
)

// Options configure a server. Exactly one of Store, DatabaseURL and DataDir
// names the store.
type Options struct {
	DataDir     string      // SQLite store at DataDir/server.db
	DatabaseURL string      // PostgreSQL store (postgres://…)
	Store       store.Store // an open store; the server closes it
	Schema      *model.Schema
	Logger      *slog.Logger
	TokenTTL    time.Duration // lifetime of a login token
	Retention   time.Duration // how long tombstones and ledger entries are kept
	Heartbeat   time.Duration // interval of event-stream heartbeats
	RateLimit   rate.Limit    // requests per second per token; negative turns limiting off
	RateBurst   int
	// CompactEvery is the interval of background compaction; negative
	// turns it off (call Compact yourself).
	CompactEvery time.Duration
	// Password sets the argon2id cost of new password hashes.
	Password HashParams
	// LoginConcurrency bounds the password checks that run at once
	// (DefaultLoginConcurrency when 0); more logins wait briefly, then
	// get 429.
	LoginConcurrency int
	// StreamsPerToken and StreamsPerUser cap the event streams open at
	// once on this server (DefaultStreamsPerToken, DefaultStreamsPerUser
	// when 0); a new stream over a cap closes the oldest.
	StreamsPerToken int
	StreamsPerUser  int
	// LoginWait is how long a login waits for a free password check
	// before it is answered 429 (DefaultLoginWait when 0).
	LoginWait time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// MetricsListen, when set, is an address (host:port) of its own for
	// GET /metrics, which the API's listener then answers with a 404.
	// Open listens on it; Shutdown and Close stop it.
	MetricsListen string
	// MetricsToken, when set, is the bearer token GET /metrics requires,
	// wherever it is served.
	MetricsToken string
	// Blobs is an open file store (the server closes it); when nil the
	// server opens DataDir/files, or tables in the PostgreSQL database.
	Blobs blobstore.Store
	// MaxFileBytes limits one attached file (DefaultMaxFileBytes when 0;
	// negative: no limit).
	MaxFileBytes int64
	// UserQuotaBytes limits the bytes of files a user has uploaded
	// (DefaultUserQuotaBytes when 0; negative: no limit).
	UserQuotaBytes int64
	// MaxConnections caps the clients' connections open at once (0: the
	// process's descriptor limit less a reserve); past it an idle one
	// of the address holding the most is closed (connGuard).
	MaxConnections int
	// PullPageBytes bounds the records of one pull page, as JSON
	// (DefaultPullPageBytes when 0 or less); a record larger than it goes
	// in a page of its own.
	PullPageBytes int
	// PushAnswerBytes bounds the results of one push's answer, as JSON
	// (DefaultPushAnswerBytes when 0 or less): a batch whose results
	// would pass it is refused, nothing of it applied. A batch of one op
	// is never refused for it.
	PushAnswerBytes int
	// FileStoreTimeout bounds each call of the file store
	// (DefaultFileStoreTimeout when 0 or less): past it the request is
	// answered 503 unavailable, and its client tries again.
	FileStoreTimeout time.Duration
}

// Server is a running sync server.
type Server struct {
	opts    Options
	st      store.Store
	blobs   blobstore.Store
	schema  *model.Schema
	log     *slog.Logger
	now     func() time.Time
	hub     *hub
	group   pushGroup  // group commit of concurrent pushes
	reads   *readGroup // batched small reads of requests and streams
	metrics *metrics
	limits  *limiters
	seen    seenCache // when each token last noted its device as seen
	logins  *loginGate
	// loginsUnderWay: logins whose password is being checked, per name
	// and address (counted against the failure limit with the failures).
	loginsUnderWay loginsUnderWay
	handler        http.Handler
	dummy          func() string // a password hash to check unknown users against, made on first use

	ctx    context.Context // ends at Close; stops streams and background work
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// metricsHTTP serves /metrics on metricsLn when Options.MetricsListen
	// is set; nil otherwise.
	metricsHTTP *http.Server
	metricsLn   net.Listener

	mu       sync.Mutex
	http     *http.Server
	stopping bool // Shutdown or Close was called; Serve refuses to start

	// schemaPrint is the schema's fingerprint, on every push and pull answer.
	schemaPrint string
}

// positiveOr sets *v to def unless it is above zero.
func positiveOr[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// zeroOr sets *v to def when it is zero.
func zeroOr[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Open opens the store (creating and migrating it) and prepares the server.
func Open(ctx context.Context, opts Options) (*Server, error) {
	if opts.Schema == nil {
		s, err := model.ParseSchema(assets.Schema)
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		opts.Schema = s
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	positiveOr(&opts.TokenTTL, DefaultTokenTTL)
	positiveOr(&opts.Retention, DefaultRetention)
	positiveOr(&opts.Heartbeat, DefaultHeartbeat)
	positiveOr(&opts.RateBurst, DefaultRateBurst)
	positiveOr(&opts.LoginConcurrency, DefaultLoginConcurrency)
	positiveOr(&opts.StreamsPerToken, DefaultStreamsPerToken)
	positiveOr(&opts.StreamsPerUser, DefaultStreamsPerUser)
	positiveOr(&opts.LoginWait, DefaultLoginWait)
	positiveOr(&opts.PullPageBytes, DefaultPullPageBytes)
	positiveOr(&opts.PushAnswerBytes, DefaultPushAnswerBytes)
	positiveOr(&opts.FileStoreTimeout, DefaultFileStoreTimeout)
	// These four take a negative value as a choice (no limit, never), so
	// only the zero value gets the default.
	zeroOr(&opts.RateLimit, DefaultRateLimit)
	zeroOr(&opts.CompactEvery, DefaultCompaction)
	zeroOr(&opts.MaxFileBytes, DefaultMaxFileBytes)
	zeroOr(&opts.UserQuotaBytes, DefaultUserQuotaBytes)
	// Listen before opening the store: a bad address is found at once
	// and leaves nothing to undo.
	metricsLn, err := listenMetrics(opts.MetricsListen)
	if err != nil {
		return nil, err
	}
	st := opts.Store
	if st == nil {
		switch {
		case opts.DatabaseURL != "":
			st, err = pgstore.Open(ctx, opts.DatabaseURL, pgstore.WithLogger(opts.Logger))
		case opts.DataDir != "":
			st, err = sqlitestore.Open(ctx, filepath.Join(opts.DataDir, sqlitestore.FileName))
		default:
			err = errors.New("open server: name a data directory or a database URL")
		}
		if err != nil {
			if metricsLn != nil {
				metricsLn.Close()
			}
			return nil, err
		}
	}
	blobs, err := OpenBlobs(ctx, opts)
	if err != nil {
		st.Close()
		if metricsLn != nil {
			metricsLn.Close()
		}
		return nil, fmt.Errorf("open file store: %w", err)
	}
	blobs = boundBlobs(blobs, opts)
	s := &Server{
		opts:   opts,
		st:     st,
		blobs:  blobs,
		schema: opts.Schema,
		log:    opts.Logger.With("component", "server"),
		now:    opts.Now,
		dummy:  sync.OnceValue(func() string { return hashPassword("not a password", opts.Password) }),

		schemaPrint: opts.Schema.Fingerprint(),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.hub = newHub()
	s.wg.Go(func() { s.hub.dispatch(s.ctx) })
	for range pokers {
		s.wg.Go(func() { s.pokeLoop(s.ctx) })
	}
	s.reads = newReadGroup(st)
	for range readLanes(st) {
		s.wg.Go(func() { s.reads.work(s.ctx) })
	}
	s.metrics = newMetrics(s)
	if wt, ok := st.(store.WriteTimer); ok {
		wt.TimeWrites(s.metrics.writeTimed)
	}
	s.limits = newLimiters(opts.RateLimit, opts.RateBurst)
	s.logins = newLoginGate(opts.LoginConcurrency, opts.LoginWait, opts.Password.withDefaults().MemoryKiB)
	s.handler = s.routes()
	if metricsLn != nil {
		s.metricsLn = metricsLn
		s.metricsHTTP = s.newHTTPServer(s.router([]route{s.metricsRoute()}))
		s.wg.Add(1)
		go s.serveMetrics(metricsLn)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := st.Listen(s.ctx, s.hub.hand); err != nil && s.ctx.Err() == nil {
			s.log.Error("change listener stopped", "err", err)
		}
	}()
	s.wg.Add(1)
	go s.freeMemoryLoop()
	if opts.CompactEvery > 0 {
		s.wg.Add(1)
		go s.compactLoop(opts.CompactEvery)
	}
	return s, nil
}

// Describe names the store the server runs on, e.g. "sqlite DIR/server.db".
func (s *Server) Describe() string { return s.st.Describe() }

// Handler returns the HTTP handler of the whole API.
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsAddr returns the address of the metrics listener, or nil when
// /metrics is served with the API.
func (s *Server) MetricsAddr() net.Addr {
	if s.metricsLn == nil {
		return nil
	}
	return s.metricsLn.Addr()
}

// Serve answers requests on ln until Shutdown or Close; like
// http.Server.Serve it returns http.ErrServerClosed after a shutdown.
func (s *Server) Serve(ln net.Listener) error {
	hs := s.newHTTPServer(s.handler)
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		ln.Close()
		return http.ErrServerClosed
	}
	s.http = hs
	s.mu.Unlock()
	g := newConnGuard(connLimit(s.opts.MaxConnections), s.metrics.connsRefused.Inc, s.metrics.connsEvicted.Inc)
	hs.ConnState = g.state
	return hs.Serve(jsonErrorListener{g.listener(ln)})
}

// newHTTPServer returns an http.Server for h with the server's limits,
// timeouts and error log.
func (s *Server) newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second, // lifted for event streams
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.Background() },
	}
}

// stopAccepting ends the event streams and marks the server stopping, so
// that Serve refuses to start; it returns the API's HTTP server, if any.
func (s *Server) stopAccepting() *http.Server {
	s.hub.closeStreams()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping = true
	return s.http
}

// Shutdown stops accepting requests, ends event streams and waits for
// requests in flight (a push finishes its batch) until ctx ends. The store
// stays open until Close.
func (s *Server) Shutdown(ctx context.Context) error {
	hs := s.stopAccepting()
	// Both listeners stop accepting at once; a slow scrape does not keep
	// the API's listener open, nor a long push the metrics listener.
	var merr error
	mdone := make(chan struct{})
	if s.metricsHTTP != nil {
		go func() {
			defer close(mdone)
			merr = s.metricsHTTP.Shutdown(ctx)
			s.closeMetricsListener()
		}()
	} else {
		close(mdone)
	}
	var err error
	if hs != nil {
		err = hs.Shutdown(ctx)
	}
	<-mdone
	return errors.Join(err, merr)
}

// closeMetricsListener closes the metrics listener itself: a Shutdown that
// comes before its goroutine reaches Serve finds no listener to close, and
// the port must not stay open until that goroutine runs.
func (s *Server) closeMetricsListener() {
	_ = s.metricsLn.Close() // "use of closed network connection" once Serve closed it
}

// Close shuts down at once: it ends streams and background work and
// closes the store.
func (s *Server) Close() error {
	hs := s.stopAccepting()
	var err error
	if s.metricsHTTP != nil {
		err = s.metricsHTTP.Close()
		s.closeMetricsListener()
	}
	if hs != nil {
		err = errors.Join(err, hs.Close())
	}
	s.cancel()
	s.wg.Wait()
	return errors.Join(err, s.blobs.Close(), s.st.Close())
}

// RequestsInFlight returns how many requests the server is handling now,
// event streams included. A push goes on after its client has gone, so
// that the ledger can answer its retry (handlePush); this says when
// that work is done.
func (s *Server) RequestsInFlight() int64 { return s.metrics.inFlight.Load() }

// Head returns the server's change sequence.
func (s *Server) Head(ctx context.Context) (int64, error) {
	var h store.Head
	err := s.reads.read(ctx, func(ctx context.Context, r store.Reader) (err error) {
		h, err = r.Head(ctx)
		return err
	})
	return h.Seq, err
}

func (s *Server) compactLoop(every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			if _, err := s.Compact(s.ctx, s.now()); err != nil && s.ctx.Err() == nil {
				s.log.Error("compaction failed", "err", err)
			}
			if _, err := s.PruneLoginFailures(s.ctx, s.now()); err != nil && s.ctx.Err() == nil {
				s.log.Error("pruning login failures failed", "err", err)
			}
			if _, err := s.AuditArrivals(s.ctx, s.now()); err != nil && s.ctx.Err() == nil {
				s.log.Error("auditing files' arrivals failed", "err", err)
			}
		}
	}
}
