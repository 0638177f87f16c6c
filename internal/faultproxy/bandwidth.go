package faultproxy

import (
	"context"
	"io"
	"time"
)

// tick is how often a throttled transfer moves a chunk: small enough that
// a reader sees the bytes arrive a few at a time, as on a bad link.
const tick = 20 * time.Millisecond

// Wait holds for as long as n bytes take at bytesPerSec: the time a slow
// link needs to carry a request body up. It returns ctx's error if the
// sender gave up first.
func Wait(ctx context.Context, n, bytesPerSec int) error {
	if bytesPerSec <= 0 || n <= 0 {
		return ctx.Err()
	}
	return sleep(ctx, time.Duration(int64(n)*int64(time.Second)/int64(bytesPerSec)))
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Throttle returns a writer that passes what is written to w at no more
// than bytesPerSec, a chunk each tick, calling flush (if not nil) after
// every chunk so the bytes leave at once. A Write returns early with
// ctx's error when the receiver gives up. bytesPerSec ≤ 0 passes
// everything through.
func Throttle(ctx context.Context, w io.Writer, bytesPerSec int, flush func() error) io.Writer {
	if bytesPerSec <= 0 {
		return w
	}
	chunk := max(1, bytesPerSec*int(tick)/int(time.Second))
	return &throttled{ctx: ctx, w: w, flush: flush, rate: bytesPerSec, chunk: chunk}
}

type throttled struct {
	ctx   context.Context
	w     io.Writer
	flush func() error
	rate  int
	chunk int
	// start and sent pace the whole transfer, so time lost to a slow
	// write is made up rather than added.
	start time.Time
	sent  int64
}

func (t *throttled) Write(p []byte) (int, error) {
	if t.start.IsZero() {
		t.start = time.Now()
	}
	written := 0
	for len(p) > 0 {
		n := min(len(p), t.chunk)
		due := t.start.Add(time.Duration(t.sent * int64(time.Second) / int64(t.rate)))
		if err := sleep(t.ctx, time.Until(due)); err != nil {
			return written, err
		}
		m, err := t.w.Write(p[:n])
		written += m
		t.sent += int64(m)
		if err != nil {
			return written, err
		}
		if t.flush != nil {
			if err := t.flush(); err != nil {
				return written, err
			}
		}
		p = p[n:]
	}
	return written, nil
}
