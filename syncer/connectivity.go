package syncer

import (
	"casefile/apiclient"
	"sync"
)

// link derives Connectivity from what actually happened: the outcome of
// the last exchange, whether one is under way, the person's work-offline
// switch and whether the server refused the token. It is safe for
// concurrent use.
type link struct {
	mu          sync.Mutex
	workOffline bool
	loggedOut   bool
	busy        int          // exchanges under way
	outcome     Connectivity // Online, Offline or Degraded: the last exchange's outcome
}

func newLink() *link { return &link{outcome: Offline} }

// state is the current Connectivity. Work offline wins over everything,
// then a refused token, then an exchange under way.
func (l *link) state() Connectivity {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stateLocked()
}

func (l *link) stateLocked() Connectivity {
	switch {
	case l.workOffline:
		return WorkOffline
	case l.loggedOut:
		return LoggedOut
	case l.busy > 0:
		return Syncing
	}
	return l.outcome
}

// update runs fn under the lock and reports the state after it and
// whether it changed.
func (l *link) update(fn func()) (Connectivity, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	before := l.stateLocked()
	fn()
	after := l.stateLocked()
	return after, after != before
}

// begin marks an exchange under way.
func (l *link) begin() (Connectivity, bool) {
	return l.update(func() { l.busy++ })
}

// end closes an exchange begun with begin, recording its outcome.
func (l *link) end(err error) (Connectivity, bool) {
	return l.update(func() {
		if l.busy > 0 {
			l.busy--
		}
		l.observeLocked(err)
	})
}

// observe records the outcome of an exchange that did not go through
// begin (a health probe, the event stream opening or failing).
func (l *link) observe(err error) (Connectivity, bool) {
	return l.update(func() { l.observeLocked(err) })
}

func (l *link) observeLocked(err error) {
	if err == nil {
		// A refused token stays refused until new credentials come: a
		// health probe needs none and proves nothing about it.
		l.outcome = Online
		return
	}
	switch apiclient.ClassOf(err) {
	case apiclient.ClassUnreachable:
		l.outcome = Offline
	case apiclient.ClassFailing:
		l.outcome = Degraded
	case apiclient.ClassUnauthorized:
		l.loggedOut = true
	case apiclient.ClassPermanent, apiclient.ClassCursorTooOld:
		// The server answered sensibly: the link itself works.
		l.outcome = Online
	}
	// Other errors (cancellation, the local database) say nothing of the link.
}

// setWorkOffline turns work-offline mode on or off.
func (l *link) setWorkOffline(on bool) (Connectivity, bool) {
	return l.update(func() { l.workOffline = on })
}

// setLoggedOut records that there are no usable credentials.
func (l *link) setLoggedOut(out bool) (Connectivity, bool) {
	return l.update(func() { l.loggedOut = out })
}

// allowed reports whether network traffic may happen now.
func (l *link) allowed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.workOffline && !l.loggedOut
}

// reachable reports whether the last outcome says the server answers.
func (l *link) reachable() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.outcome != Offline
}
