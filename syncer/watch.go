package syncer

import (
	"context"
	"errors"
	"time"

	"casefile/apiclient"
	"casefile/localdb"
	"casefile/protocol"
)

// watchLoop notices commits to the local database, from this process or
// another (the CLI), and asks for a push when one of them is a person's
// write. The data version is cheap to poll; the journal then tells a
// person's write (actor "local" or a user) from the syncer's own
// bookkeeping (actor "sync"), so that the syncer's commits do not wake it
// again and again.
func (s *Syncer) watchLoop(ctx context.Context) {
	t := time.NewTicker(s.opts.WatchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.checkWrites(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("watch local writes", "err", err)
		}
	}
}

// watchJournalPage bounds the journal entries read per check; a longer
// run of new entries counts as a write.
const watchJournalPage = 64

func (s *Syncer) checkWrites(ctx context.Context) error {
	v, err := s.db.DataVersion(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	changed, after := v != s.seenData, s.seenJournal
	s.seenData = v
	s.mu.Unlock()
	if !changed {
		return nil
	}
	entries, err := s.db.Journal(ctx, localdb.JournalQuery{AfterSeq: after, Limit: watchJournalPage})
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	s.mu.Lock()
	s.seenJournal = max(s.seenJournal, entries[0].Seq)
	s.mu.Unlock()
	wrote := len(entries) == watchJournalPage
	for _, e := range entries {
		if e.Actor != journalActorSync {
			wrote = true
			break
		}
	}
	if wrote {
		s.trigger(wants{push: true})
	}
	return nil
}

// journalActorSync is the journal actor of what the sync side applies.
const journalActorSync = "sync"

// markWatched starts the watch from the database as it is now.
func (s *Syncer) markWatched(ctx context.Context) {
	v, err := s.db.DataVersion(ctx)
	if err != nil {
		s.log.Warn("data version", "err", err)
	}
	entries, err := s.db.Journal(ctx, localdb.JournalQuery{Limit: 1})
	if err != nil {
		s.log.Warn("read journal", "err", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seenData = v
	if len(entries) > 0 {
		s.seenJournal = entries[0].Seq
	}
}

// streamLoop keeps the event stream open while traffic is allowed; pokes
// ask for a pull.
func (s *Syncer) streamLoop(ctx context.Context) {
	for ctx.Err() == nil {
		nctx, cancel, c, ok := s.netContext(ctx)
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-s.resume:
			}
			continue
		}
		err := subscribe(nctx, c, s.opts.StreamBackoff,
			func() {
				s.setConn(s.link.observe(nil))
				s.trigger(wants{pull: true}) // pokes may have been missed while closed
			},
			func(seq int64) {
				s.mu.Lock()
				news := seq > s.pulled
				s.head = max(s.head, seq)
				s.mu.Unlock()
				if news {
					s.trigger(wants{pull: true})
				}
			},
			func(err error) {
				if apiclient.ClassOf(err) == apiclient.ClassUnreachable || apiclient.ClassOf(err) == apiclient.ClassUnauthorized {
					s.setConn(s.link.observe(err))
				}
				s.log.Debug("event stream", "err", err)
				// Closed for newer streams of the same sign-in: say so, since
				// news then waits for the poll until the stream reopens.
				var e *apiclient.Error
				if errors.As(err, &e) && e.Code == protocol.CodeTooManyStreams {
					s.emit(Event{Kind: EventError, Err: e.Message})
				}
			})
		cancel()
		if apiclient.ClassOf(err) == apiclient.ClassUnauthorized {
			s.refused(err)
		}
		if ctx.Err() != nil {
			return
		}
		if nctx.Err() == nil {
			// Stopped for a reason other than a settings change: wait for one.
			select {
			case <-ctx.Done():
				return
			case <-s.resume:
			}
		}
	}
}
