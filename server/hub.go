package server

import (
	"context"
	"sync"
	"time"

	"casefile/protocol"
	"casefile/server/store"
)

// hub fans change hints out to the event streams of this process.
//
// A hint goes only to the streams of users who may see it: the hub keeps,
// per user with a stream open, the matters they were last read to see.
// That set is a filter in front of the streams, never the last word: a
// stream checks its token, its user's role and the matter against the
// store before every poke. So a set that still holds a matter the user
// lost costs one check; a set that misses one the user gained would delay
// a poke, which is why it is dropped on every access change of the user
// (grants, revocations, matters they create), on a hint for everyone, and
// read again once it is a heartbeat old (a role changed by other means).
// With 10,000 streams, handing every hint to every stream, each checking
// it against the database, was most of a busy server's work.
type hub struct {
	mu      sync.Mutex
	subs    map[*subscriber]struct{}
	byToken map[string][]*subscriber // oldest first
	users   map[string]*userStreams
	// A matter's hints go to the users whose set holds it and to those
	// handed every hint (no set read yet, or an admin's): an index of
	// both, so that a hint visits its users, not every user with a
	// stream (with 10,000 streams that loop was a tenth of a replica's
	// work a push).
	byMatter map[string]map[*userStreams]struct{}
	anyHint  map[*userStreams]struct{}
	done     chan struct{} // closed when streams must end (shutdown)
	closed   bool

	// Hints wait in queued for the hub's dispatcher (see hand).
	qmu    sync.Mutex
	qwake  *sync.Cond
	queued []store.Hint
	qdone  bool

	// Streams with hints wait in due for the pokers (see ready).
	dmu   sync.Mutex
	dwake *sync.Cond
	due   []*subscriber
	ddone bool
}

// userStreams are one user's streams and what the hub knows they see.
type userStreams struct {
	name string
	subs []*subscriber // oldest first
	// sees is nil until read: every hint is then handed to the streams.
	sees *matterSet
	// gen counts the times sees was dropped; a set read before the last
	// drop is not kept.
	gen uint64
}

// matterSet is what a user was read to see at a moment.
type matterSet struct {
	all     bool // an admin sees every matter
	matters map[string]struct{}
	read    time.Time
}

// subscriber is one event stream. The hub queues its hints and hands it
// to the pokers, a few goroutines that check and poke the streams with
// news in batches; the stream's own goroutine wakes only for heartbeats
// and its end. With a goroutine per stream woken by every hint, a busy
// server kept hundreds of them runnable, and a push woken by its commit
// waited behind them for a core.
type subscriber struct {
	user, token string
	origin      string          // the client holding it, as principal.origin
	end         chan *streamEnd // the hub closes the stream (over a cap)
	gone        chan struct{}   // closed when a poker ended the stream

	// Hints wait here for a poker.
	hmu    sync.Mutex
	hints  []store.Hint
	lost   bool // more hints came than wait: poke with the head
	queued bool // in the hub's due list

	// The stream's response, which its goroutine and the pokers take
	// turns to write; wmu is taken before hmu.
	wmu   sync.Mutex
	state streamState
	out   *streamOut
	last  int64      // the seq of the last poke, or where the stream began
	p     *principal // who holds the token, as last checked
}

type streamState int

const (
	streamNew   streamState = iota // not greeted yet: hints wait
	streamOpen                     // pokes go out
	streamEnded                    // gone: hints are dropped
)

// offer queues a hint, or notes that hints were lost when too many wait;
// it reports whether the stream must be handed to the pokers.
func (sub *subscriber) offer(h store.Hint) bool {
	sub.hmu.Lock()
	defer sub.hmu.Unlock()
	if len(sub.hints) < streamHintBuffer {
		sub.hints = append(sub.hints, h)
	} else {
		sub.lost = true
	}
	if sub.queued {
		return false
	}
	sub.queued = true
	return true
}

// take returns the hints waiting and whether some were lost, and takes
// the stream off the due list.
func (sub *subscriber) take() ([]store.Hint, bool) {
	sub.hmu.Lock()
	defer sub.hmu.Unlock()
	hints, lost := sub.hints, sub.lost
	sub.hints, sub.lost, sub.queued = nil, false, false
	return hints, lost
}

// putBack returns hints taken before the stream was greeted; wmu is held.
func (sub *subscriber) putBack(hints []store.Hint, lost bool) {
	sub.hmu.Lock()
	defer sub.hmu.Unlock()
	sub.hints = append(hints, sub.hints...)
	if len(sub.hints) > streamHintBuffer {
		sub.hints, lost = sub.hints[:streamHintBuffer], true
	}
	sub.lost = sub.lost || lost
}

// pending reports whether hints wait while the stream is off the due list.
func (sub *subscriber) pending() bool {
	sub.hmu.Lock()
	defer sub.hmu.Unlock()
	if sub.queued || len(sub.hints) == 0 && !sub.lost {
		return false
	}
	sub.queued = true
	return true
}

func newHub() *hub {
	h := &hub{subs: map[*subscriber]struct{}{}, byToken: map[string][]*subscriber{}, users: map[string]*userStreams{},
		byMatter: map[string]map[*userStreams]struct{}{}, anyHint: map[*userStreams]struct{}{}, done: make(chan struct{})}
	h.qwake = sync.NewCond(&h.qmu)
	h.dwake = sync.NewCond(&h.dmu)
	return h
}

// hand queues a hint for the dispatcher and returns at once. The store
// calls it as a transaction commits, on the committing goroutine: for a
// push, the group commit's, which every waiting push needs for the next
// group. Handing hints to thousands of streams there kept that goroutine
// off a core while the streams it woke ran.
func (h *hub) hand(hint store.Hint) {
	h.qmu.Lock()
	h.queued = append(h.queued, hint)
	h.qmu.Unlock()
	h.qwake.Signal()
}

// dispatch publishes queued hints, in the order they were handed, until
// ctx ends.
func (h *hub) dispatch(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() {
		h.qmu.Lock()
		h.qdone = true
		h.qmu.Unlock()
		h.qwake.Broadcast()
	})
	defer stop()
	var hints []store.Hint
	for {
		h.qmu.Lock()
		for len(h.queued) == 0 && !h.qdone {
			h.qwake.Wait()
		}
		if h.qdone {
			h.qmu.Unlock()
			return
		}
		hints, h.queued = h.queued, hints[:0]
		h.qmu.Unlock()
		for _, hint := range hints {
			h.publish(hint)
		}
	}
}

// subscribe adds a stream for a user's token, first closing the oldest
// of the token's streams and of the user's that the caps leave no room
// for.
func (h *hub) subscribe(user, token, origin string, perToken, perUser int) (*subscriber, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false
	}
	for len(h.byToken[token]) >= perToken {
		h.kick(h.byToken[token][0], endTooMany)
	}
	u := h.users[user]
	if u == nil {
		u = &userStreams{name: user}
		h.users[user] = u
		h.anyHint[u] = struct{}{}
	}
	for len(u.subs) >= perUser {
		h.kick(u.subs[0], endTooMany)
	}
	sub := &subscriber{user: user, token: token, origin: origin, end: make(chan *streamEnd, 1), gone: make(chan struct{})}
	h.subs[sub] = struct{}{}
	h.byToken[token] = append(h.byToken[token], sub)
	u.subs = append(u.subs, sub)
	return sub, true
}

// kick tells a stream to end and stops counting it; h.mu is held.
func (h *hub) kick(sub *subscriber, why *streamEnd) {
	h.remove(sub)
	select {
	case sub.end <- why:
	default:
	}
}

// remove forgets a stream; h.mu is held. Removing one already gone does
// nothing. A user's last stream takes what the hub knew of them along.
func (h *hub) remove(sub *subscriber) {
	if _, ok := h.subs[sub]; !ok {
		return
	}
	delete(h.subs, sub)
	h.byToken[sub.token] = without(h.byToken[sub.token], sub)
	if len(h.byToken[sub.token]) == 0 {
		delete(h.byToken, sub.token)
	}
	if u := h.users[sub.user]; u != nil {
		u.subs = without(u.subs, sub)
		if len(u.subs) == 0 {
			h.unindex(u)
			delete(h.users, sub.user)
		}
	}
}

func without(list []*subscriber, sub *subscriber) []*subscriber {
	for i, s := range list {
		if s == sub {
			return append(list[:i:i], list[i+1:]...)
		}
	}
	return list
}

func (h *hub) unsubscribe(sub *subscriber) {
	h.mu.Lock()
	h.remove(sub)
	h.mu.Unlock()
}

// publish queues a hint for the streams it may concern and hands those
// not yet due to the pokers, without ever blocking: a stream with too many
// hints waiting gets one poke with the head instead.
func (h *hub) publish(hint store.Hint) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case hint.User == "" && hint.MatterID == "":
		for _, u := range h.users {
			h.drop(u) // their access may have changed: read it again
			h.offer(u, hint)
		}
		return
	case hint.User != "":
		if u := h.users[hint.User]; u != nil {
			h.drop(u) // their access may have changed: read it again
			h.offer(u, hint)
		}
		if hint.MatterID == "" {
			return // none but the user's access changed
		}
	}
	for u := range h.byMatter[hint.MatterID] {
		if u.name != hint.User {
			h.offer(u, hint)
		}
	}
	for u := range h.anyHint {
		if u.name != hint.User {
			h.offer(u, hint)
		}
	}
}

// offer queues a hint on a user's streams but the one of the client that
// pushed it, which knows; h.mu is held.
func (h *hub) offer(u *userStreams, hint store.Hint) {
	for _, sub := range u.subs {
		if hint.Origin != "" && sub.origin == hint.Origin {
			continue
		}
		if sub.offer(hint) {
			h.ready(sub)
		}
	}
}

// ready hands a stream with hints to the pokers.
func (h *hub) ready(sub *subscriber) {
	h.dmu.Lock()
	h.due = append(h.due, sub)
	h.dmu.Unlock()
	h.dwake.Signal()
}

// takeDue waits for streams with hints and returns up to max of them, in
// the order they became due; nil once ctx has ended.
func (h *hub) takeDue(ctx context.Context, max int) []*subscriber {
	h.dmu.Lock()
	defer h.dmu.Unlock()
	for len(h.due) == 0 && !h.ddone && ctx.Err() == nil {
		h.dwake.Wait()
	}
	if h.ddone || ctx.Err() != nil {
		return nil
	}
	n := min(len(h.due), max)
	subs := append([]*subscriber(nil), h.due[:n]...)
	h.due = h.due[n:]
	return subs
}

// stopPokers wakes every poker waiting in takeDue once ctx has ended.
func (h *hub) stopPokers(ctx context.Context) func() bool {
	return context.AfterFunc(ctx, func() {
		h.dmu.Lock()
		h.ddone = true
		h.dmu.Unlock()
		h.dwake.Broadcast()
	})
}

// drop forgets what a user was read to see: every hint is handed to
// them until it is read again; h.mu is held.
func (h *hub) drop(u *userStreams) {
	h.unindex(u)
	u.sees = nil
	u.gen++
	h.anyHint[u] = struct{}{}
}

// unindex takes a user out of the hub's index of who hears which
// matter; h.mu is held.
func (h *hub) unindex(u *userStreams) {
	delete(h.anyHint, u)
	if u.sees == nil || u.sees.all {
		return
	}
	for m := range u.sees.matters {
		if us := h.byMatter[m]; us != nil {
			delete(us, u)
			if len(us) == 0 {
				delete(h.byMatter, m)
			}
		}
	}
}

// see sets what a user was read to see, and indexes it; h.mu is held.
func (h *hub) see(u *userStreams, set *matterSet) {
	h.unindex(u)
	u.sees = set
	if set.all {
		h.anyHint[u] = struct{}{}
		return
	}
	for m := range set.matters {
		us := h.byMatter[m]
		if us == nil {
			us = map[*userStreams]struct{}{}
			h.byMatter[m] = us
		}
		us[u] = struct{}{}
	}
}

// accessDue says whether user's matter set is to be read (not known, or
// older than maxAge), and the generation to hand back with it.
func (h *hub) accessDue(user string, now time.Time, maxAge time.Duration) (gen uint64, due bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.users[user]
	if u == nil {
		return 0, false // no stream of theirs is left
	}
	return u.gen, u.sees == nil || now.Sub(u.sees.read) >= maxAge
}

// setAccess keeps what user was read to see, unless their access changed
// (gen moved) since the read began.
func (h *hub) setAccess(user string, gen uint64, role protocol.Role, matters []string, read time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.users[user]
	if u == nil || u.gen != gen {
		return
	}
	set := &matterSet{all: role == protocol.RoleAdmin, read: read}
	if !set.all {
		set.matters = make(map[string]struct{}, len(matters))
		for _, m := range matters {
			set.matters[m] = struct{}{}
		}
	}
	h.see(u, set)
}

func (h *hub) closeStreams() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}
