package syncer

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"casefile/apiclient"
	"casefile/localdb"
	"casefile/protocol"
)

// Defaults of Options.
const (
	DefaultBatchSize     = 500
	DefaultPollInterval  = 30 * time.Second
	DefaultWatchInterval = 300 * time.Millisecond
	eventBuffer          = 256
)

// Meta keys the syncer writes in the local database.
const (
	MetaLastSync   = "last_sync"            // RFC 3339 time of the last cycle that completed without a failed exchange
	MetaServerHead = localdb.MetaServerHead // the highest server change sequence heard of
	// MetaFullPullMark is the compaction mark the running full pull began
	// under: its later pages name it (see protocol.PullMark).
	MetaFullPullMark = "full_pull_mark"
	// MetaPushBatch is the push batch size the link allowed last, as a
	// decimal: each `casefile sync` is a process of its own, and one that
	// started at the full size would send again the batch the link cut.
	MetaPushBatch = "push_batch"
	// MetaAnswerBytes is the bound the server last said it holds a push's
	// results to (protocol.HeaderAnswerBytes), as a decimal, so that the
	// next process sizes its first batch by it.
	MetaAnswerBytes = "push_answer_bytes"
)

// Options configure a Syncer. Server and Token come from credentials.json.
type Options struct {
	Server, Token string
	// User is whose Token is, as the credentials say; every request names
	// it so the server refuses a token of another user (wrong_user).
	User   string
	Device string // the device name the token is bound to, for logs
	// BatchSize is the most ops one push carries; default DefaultBatchSize.
	// PageSize is the most records one pull page asks for; 0 lets the
	// server choose, except in a full pull (a first sync, a resync),
	// whose pages after the first ask for fullPullPage. Both are maxima:
	// after an exchange times out the syncer asks for less, and for more
	// again once the link carries it.
	BatchSize int
	PageSize  int
	// PollInterval is how often the syncer pulls without a poke: the
	// fallback when the event stream is down. Default DefaultPollInterval.
	PollInterval time.Duration
	// WatchInterval is how often the database's data version is checked
	// for writes from this or another process. Default DefaultWatchInterval.
	WatchInterval time.Duration
	HTTPClient    *http.Client
	Logger        *slog.Logger
	Now           func() time.Time
	// Rand draws the jitter of every backoff, in [0, 1); tests seed it.
	Rand func() float64
	// OpBackoff, StreamBackoff and ProbeBackoff override the retry
	// schedules (their Rand is replaced by Rand when set).
	OpBackoff, StreamBackoff, ProbeBackoff Backoff
	// WorkOffline starts the syncer with all network traffic off.
	WorkOffline bool
	// RequestTimeout bounds one push, pull or login exchange, answer
	// included; a slower exchange counts as a failed one and is retried.
	// Default apiclient.DefaultRequestTimeout.
	RequestTimeout time.Duration
}

// Syncer moves the outbox to the server and the server's changes into the
// local database, in the background once started.
//
// A cycle pushes every due op in batches (one transaction per batch for the
// answers), then pulls pages until the server has no more (one transaction
// per page with its cursor). Failures are sorted by Class: transient ones
// (unreachable, failing) send the ops back to the queue with a backoff that
// grows with their attempts, and the loop's own timer retries them; a
// request refused for good is split until the one op at fault is marked
// failed with the server's sentence; a refused token stops all traffic
// until SetCredentials. Pulls run even when pushes fail on the server's
// side, never when the link is down. Cycles start on a person's request
// (SyncNow), a local write (Nudge, or the watch on the database), a poke on
// the event stream, a retry falling due, or every PollInterval.
type Syncer struct {
	db   *localdb.DB
	opts Options
	log  *slog.Logger
	link *link

	// pageSize and batchSize adapt to the link: they shrink after an
	// exchange the link broke and grow back after successes. fullPageSize
	// is pageSize for a full pull (a first sync, a resync). batchSize is
	// kept in the database (MetaPushBatch) and read back by the first
	// push of this syncer, once batchRecalled says so (guarded by cycleMu).
	pageSize, fullPageSize, batchSize *adaptiveSize
	batchRecalled                     bool
	// answerBytes is the server's bound on a push's results, as it last
	// said (protocol.HeaderAnswerBytes) or as MetaAnswerBytes kept it;
	// 0 until either (guarded by cycleMu).
	answerBytes int

	events chan Event
	wake   chan struct{} // a cycle is wanted; buffered, so wakes coalesce
	resume chan struct{} // network traffic became allowed again

	cycleMu sync.Mutex // one cycle at a time
	// overlapPushes is set once a push answer said where its batch began
	// (protocol.PushResponse.Prior): later batches are taken while the one
	// before is on the server. Guarded by cycleMu.
	overlapPushes bool

	mu          sync.Mutex
	client      Remote
	want        wants
	retries     timeHeap // op retry times this syncer scheduled
	retrySet    map[time.Time]bool
	holdUntil   time.Time // after failures, no unforced cycle before this
	lastNow     time.Time // the latest clock reading the schedule was checked against
	failures    int       // consecutive failed cycles
	head        int64     // the highest server sequence heard of
	pulled      int64     // the cursor after the last pull
	seenData    int64     // the data version last handled
	seenJournal int64     // the newest journal entry seen by the watch
	netCtx      context.Context
	netCancel   context.CancelFunc // cancelled when work offline goes on or credentials change
	closed      bool
	revoked     bool // EventRevoked was sent
	cancel      context.CancelFunc
	wg          sync.WaitGroup
}

// wants says what the next cycle should do.
type wants struct {
	push, pull bool
	forced     bool // asked for by a person: ignore backoff holds and retry times
}

// New returns a syncer for db. Without Server or Token it stays logged-out.
func New(db *localdb.DB, opts Options) *Syncer {
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	opts.BatchSize = min(opts.BatchSize, maxBatch)
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = apiclient.DefaultRequestTimeout
	}
	if opts.WatchInterval <= 0 {
		opts.WatchInterval = DefaultWatchInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = apiclient.DefaultHTTPClient()
	}
	for _, b := range []struct {
		dst *Backoff
		def Backoff
	}{{&opts.OpBackoff, OpBackoff}, {&opts.StreamBackoff, StreamBackoff}, {&opts.ProbeBackoff, ProbeBackoff}} {
		if b.dst.Base <= 0 || b.dst.Cap <= 0 {
			*b.dst = b.def
		}
		if opts.Rand != nil {
			b.dst.Rand = opts.Rand
		}
	}
	s := &Syncer{
		db:     db,
		opts:   opts,
		log:    opts.Logger.With("component", "syncer"),
		link:   newLink(),
		events: make(chan Event, eventBuffer),
		wake:   make(chan struct{}, 1),
		resume: make(chan struct{}, 1),

		retrySet: map[time.Time]bool{},

		pageSize:     newAdaptiveSize(cmp.Or(opts.PageSize, protocol.DefaultPullPage)),
		fullPageSize: newAdaptiveSize(cmp.Or(opts.PageSize, fullPullPage)),
		batchSize:    newAdaptiveSize(opts.BatchSize),
	}
	s.netCtx, s.netCancel = context.WithCancel(context.Background())
	s.link.setWorkOffline(opts.WorkOffline)
	if err := s.setClient(opts.Server, opts.User, opts.Token); err != nil {
		s.log.Warn("no usable credentials", "err", err)
	}
	return s
}

// setClient builds the HTTP client for new credentials.
func (s *Syncer) setClient(server, user, token string) error {
	var c Remote
	var err error
	if server != "" && token != "" {
		var ac *apiclient.Client
		ac, err = apiclient.NewClient(server, token, s.opts.HTTPClient,
			apiclient.WithClock(s.opts.Now), apiclient.WithRequestTimeout(s.opts.RequestTimeout),
			apiclient.WithSchema(s.db.Schema().Fingerprint()), apiclient.WithUser(user))
		if ac != nil {
			c = ac
		}
	}
	s.mu.Lock()
	s.client = c
	s.mu.Unlock()
	s.setConn(s.link.setLoggedOut(c == nil))
	return err
}

// SetCredentials switches to a new server, user and token (after
// `casefile login`), ending a logged-out state; "" for server or token
// logs out.
func (s *Syncer) SetCredentials(server, user, token string) error {
	err := s.setClient(server, user, token)
	s.restartNetwork()
	s.SyncNow()
	return err
}

// Events returns the channel of events for the UI. It is closed by Close.
func (s *Syncer) Events() <-chan Event { return s.events }

// Connectivity returns the current link state.
func (s *Syncer) Connectivity() Connectivity { return s.link.state() }

// SyncNow asks for a full cycle right away, ignoring backoff: a person asked.
func (s *Syncer) SyncNow() {
	s.trigger(wants{push: true, pull: true, forced: true})
}

// Nudge tells the syncer that this process just saved something: push it
// now rather than at the next check of the database (which notices writes
// of other processes too, a little later).
func (s *Syncer) Nudge() {
	s.trigger(wants{push: true})
}

// SetWorkOffline turns work-offline mode on (no network traffic at all;
// requests under way are cancelled) or off (a full cycle follows).
func (s *Syncer) SetWorkOffline(on bool) {
	st, changed := s.link.setWorkOffline(on)
	if changed {
		s.emit(Event{Kind: EventConnectivity, Connectivity: st})
	}
	s.restartNetwork()
	if !on {
		s.SyncNow()
	}
}

// restartNetwork cancels every request under way and lets the network
// goroutines start over with the current settings.
func (s *Syncer) restartNetwork() {
	s.mu.Lock()
	s.netCancel()
	s.netCtx, s.netCancel = context.WithCancel(context.Background())
	s.mu.Unlock()
	select {
	case s.resume <- struct{}{}:
	default:
	}
}

// netContext returns a context for network traffic that ends with parent
// or when the network settings change; ok is false when no traffic is allowed.
func (s *Syncer) netContext(parent context.Context) (ctx context.Context, cancel context.CancelFunc, c Remote, ok bool) {
	s.mu.Lock()
	gen, c := s.netCtx, s.client
	s.mu.Unlock()
	if c == nil || !s.link.allowed() {
		return nil, nil, nil, false
	}
	ctx, cancelCtx := context.WithCancel(parent)
	stop := context.AfterFunc(gen, cancelCtx)
	return ctx, func() { stop(); cancelCtx() }, c, true
}

func (s *Syncer) trigger(w wants) {
	s.mu.Lock()
	s.want.push = s.want.push || w.push
	s.want.pull = s.want.pull || w.pull
	s.want.forced = s.want.forced || w.forced
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Syncer) takeWants() wants {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.want
	s.want = wants{}
	return w
}

// emit hands an event to the UI without ever blocking: a full channel drops it.
func (s *Syncer) emit(ev Event) {
	if ev.At.IsZero() {
		ev.At = s.opts.Now()
	}
	if ev.Connectivity == "" {
		ev.Connectivity = s.link.state()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	select {
	case s.events <- ev:
	default:
	}
}

// setConn reports a connectivity change.
func (s *Syncer) setConn(st Connectivity, changed bool) {
	if changed {
		s.log.Info("connectivity", "state", st)
		s.emit(Event{Kind: EventConnectivity, Connectivity: st})
	}
}

// Start runs the syncer in the background until Close: the cycle loop,
// the event stream and the watch on local writes.
func (s *Syncer) Start(ctx context.Context) {
	s.mu.Lock()
	if s.cancel != nil || s.closed {
		s.mu.Unlock()
		return // started once already
	}
	ctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	s.mu.Unlock()
	s.loadRetries(ctx)
	s.markWatched(ctx)
	s.trigger(wants{push: true, pull: true})
	s.wg.Add(3)
	go func() { defer s.wg.Done(); s.loop(ctx) }()
	go func() { defer s.wg.Done(); s.streamLoop(ctx) }()
	go func() { defer s.wg.Done(); s.watchLoop(ctx) }()
}

// Close stops the background work, waits for it and closes Events.
func (s *Syncer) Close() error {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.netCancel()
		close(s.events)
	}
	return nil
}

// errClosed is returned by RunOnce after Close.
var errClosed = fmt.Errorf("the syncer is closed")
