package syncer

import "time"

// clockLocked keeps a wall clock that went back from stretching the waits
// already scheduled: each began at a reading no later than lastNow, so
// moving them all back by as much as the clock went back makes none wait
// longer than it was set to (an op's backoff, a failed cycle's hold),
// whatever the clock does. The caller holds mu.
func (s *Syncer) clockLocked(now time.Time) {
	now = now.Round(0) // the wall clock: the one that jumps, and that the schedule holds
	if back := s.lastNow.Sub(now); !s.lastNow.IsZero() && back > 0 {
		set := make(map[time.Time]bool, len(s.retrySet))
		for i := range s.retries {
			s.retries[i] = s.retries[i].Add(-back)
			set[s.retries[i]] = true
		}
		s.retrySet = set
		if !s.holdUntil.IsZero() {
			s.holdUntil = s.holdUntil.Add(-back)
		}
		s.log.Info("the clock went back; retries keep their waits", "by", back)
	}
	s.lastNow = now
}
