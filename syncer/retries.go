package syncer

import (
	"container/heap"
	"context"
	"time"

	"casefile/localdb"
)

// loadRetries schedules the retry times of ops queued before this start,
// reading the retrying ops a page at a time so a long queue costs little
// memory.
func (s *Syncer) loadRetries(ctx context.Context) {
	const page = localdb.ReadPage
	for offset := 0; ; offset += page {
		ops, err := s.db.OutboxPage(ctx, localdb.OpRetrying, offset, page)
		if err != nil {
			s.log.Warn("read outbox", "err", err)
			return
		}
		now := s.opts.Now()
		for _, o := range ops {
			if o.NextAttempt.IsZero() {
				continue
			}
			// Scheduled at a time still to come: the clock went back
			// while casefile was closed. The op waits its own delay.
			if o.UpdatedAt.After(now) && o.NextAttempt.After(o.UpdatedAt) {
				o.NextAttempt = now.Add(o.NextAttempt.Sub(o.UpdatedAt))
			}
			s.scheduleRetry(o.NextAttempt)
		}
		if len(ops) < page {
			return
		}
	}
}

// scheduleRetry remembers that ops become due at t, so the loop wakes then
// without any new write.
func (s *Syncer) scheduleRetry(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Rounded up to a tenth of a second: many ops due together wake once.
	t = t.Truncate(100 * time.Millisecond).Add(100 * time.Millisecond)
	if s.retrySet[t] {
		return
	}
	s.retrySet[t] = true
	heap.Push(&s.retries, t)
}

// timeHeap is a min-heap of times.
type timeHeap []time.Time

func (h timeHeap) Len() int           { return len(h) }
func (h timeHeap) Less(i, j int) bool { return h[i].Before(h[j]) }
func (h timeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timeHeap) Push(x any)        { *h = append(*h, x.(time.Time)) }
func (h *timeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
