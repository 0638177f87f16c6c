package apiclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// errNoProgress ends an exchange during which no byte moved for the
// request timeout. It is a deadline: a slow link that keeps moving bytes
// is not one, however long the exchange takes.
var errNoProgress = fmt.Errorf("no byte moved for the request timeout: %w", context.DeadlineExceeded)

// watchdog cancels an exchange once no byte has moved either way for d:
// not the request body going up, not the answer coming down. On a 4 KB/s
// link a large pull page takes minutes and must be allowed to; a link
// that carries nothing for d is dead.
type watchdog struct {
	d      time.Duration
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu    sync.Mutex
	timer *time.Timer
}

// newWatchdog returns a watchdog whose context ends with parent, or when
// no progress was reported for d.
func newWatchdog(parent context.Context, d time.Duration) *watchdog {
	w := &watchdog{d: d}
	w.ctx, w.cancel = context.WithCancelCause(parent)
	w.timer = time.AfterFunc(d, func() { w.cancel(errNoProgress) })
	return w
}

// progress notes that bytes moved: the silence starts over.
func (w *watchdog) progress() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx.Err() == nil {
		w.timer.Reset(w.d)
	}
}

// stop releases the timer and the context.
func (w *watchdog) stop() {
	w.timer.Stop()
	w.cancel(context.Canceled)
}

// explain names the silence as the cause of err when the watchdog ended
// the exchange (the transport only says its context was cancelled).
func (w *watchdog) explain(err error) error {
	if err != nil && errors.Is(context.Cause(w.ctx), errNoProgress) && !errors.Is(err, errNoProgress) {
		return fmt.Errorf("%w: %w", errNoProgress, err)
	}
	return err
}

// reader reports every read that returns bytes as progress.
func (w *watchdog) reader(r io.Reader) io.Reader { return &progressReader{r: r, w: w} }

type progressReader struct {
	r io.Reader
	w *watchdog
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.w.progress()
	}
	return n, err
}

// TimedOut reports whether err is an exchange given up for lack of an
// answer in time: a link too slow or stalled for what was asked of it. A
// smaller request may get through where this one did not.
func TimedOut(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.Err == nil {
		return false
	}
	return errors.Is(e.Err, context.DeadlineExceeded) || isTimeout(e.Err)
}
