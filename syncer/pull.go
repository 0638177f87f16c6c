package syncer

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"casefile/apiclient"
	"casefile/localdb"
	"casefile/protocol"
)

// pull fetches pages after the local cursor until the server has no more,
// applying each with its cursor in one transaction.
func (r *run) pull() error {
	st, err := r.s.db.Status(r.ctx)
	if err != nil {
		return fmt.Errorf("read cursor: %w", err)
	}
	if st.CursorErr != nil {
		// Damage here: asking the server from it would only have the
		// server refuse, and the person told to wait for a server that is
		// fine.
		return st.CursorErr
	}
	cursor := st.Cursor
	progress := cursor == 0 // an initial sync shows progress from the first page
	if cursor == 0 {
		// A pull from 0 replaces what the device holds: a record it does
		// not show is gone on the server or out of this user's sight, and
		// the history that would say so may have been compacted. (On a
		// device that holds nothing this only sets the cursor.)
		if err := r.s.db.ResetCursor(r.ctx); err != nil {
			return fmt.Errorf("reset cursor: %w", err)
		}
	}
	// The later pages of a full pull (from 0, or the rest of a resync an
	// earlier cycle began) name the compaction mark it began under: they
	// may pass below it while it has not moved.
	mark, err := r.fullPullMark(cursor)
	if err != nil {
		return err
	}
	sizes := r.s.pageSize
	if cursor == 0 || mark != apiclient.NoMark {
		sizes = r.s.fullPageSize
	}
	resynced := false
	var done, total int64
	// next is the page asked for while the one before it is applied; a
	// return before it is taken cancels it and waits for it.
	var next *pageFetch
	defer func() { next.abandon() }()
	for {
		r.begin()
		f := next
		next = nil
		if f == nil {
			f = r.fetchPage(cursor, mark, sizes, 0)
		}
		page, err := f.wait()
		if f.n == 0 && err == nil {
			r.pullTotal.Store(page.Total)
		}
		// The page after it, when its headers named one: it travels while
		// this one is applied (and the one after it, once its own headers
		// come: see allowNext).
		next = f.detach()
		r.adapt(sizes, "pull page", f.limit, err)
		if apiclient.ClassOf(err) == apiclient.ClassCursorTooOld && !resynced {
			next.abandon()
			next = nil
			// The server compacted past our cursor: read everything again.
			// ResetCursor keeps pending ops and conflicts.
			resynced = true
			r.s.log.Info("cursor too old: full resync", "cursor", cursor)
			if err := r.s.db.ResetCursor(r.ctx); err != nil {
				return fmt.Errorf("reset cursor: %w", err)
			}
			cursor, progress, done, total, mark = 0, true, 0, 0, apiclient.NoMark
			sizes = r.s.fullPageSize
			continue
		}
		if err != nil {
			return err
		}
		if page.More {
			// The next page travels and the server reads it while this one
			// is written: its request is the one the loop would send next.
			nextMark := mark
			if cursor == 0 {
				nextMark = page.CompactedThrough
			}
			if next != nil && (next.cursor != page.Cursor || next.mark != nextMark) {
				next.abandon()
				next = nil
			}
			if next == nil {
				next = r.fetchPage(page.Cursor, nextMark, sizes, f.n+1)
			} else {
				r.sum.PulledAhead++
			}
			next.allowNext()
		}
		if !page.More && f.n > 0 && sizes == r.s.fullPageSize {
			// The last page of a full pull: the WAL holds the pages
			// before it, which the checkpointer copies back while this
			// one is written (localdb.DB.CheckpointSoon).
			if err := r.s.db.CheckpointSoon(); err != nil {
				return fmt.Errorf("apply pull: %w", err)
			}
		}
		if err := r.s.db.ApplyPrepared(context.WithoutCancel(r.ctx), page, f.takeAhead()); err != nil {
			return fmt.Errorf("apply pull: %w", err)
		}
		if cursor == 0 {
			mark = page.CompactedThrough
			if err := r.s.db.SetMeta(r.ctx, MetaFullPullMark, strconv.FormatInt(mark, 10)); err != nil {
				return fmt.Errorf("record the compaction mark: %w", err)
			}
		}
		n := int64(len(page.Records))
		total = max(total, done+page.Total, done+n)
		done += n
		r.sum.Pulled += int(n)
		cursor = page.Cursor
		r.s.notePulled(cursor, page.Head)
		if page.More {
			progress = true
		}
		if progress {
			r.s.emit(Event{Kind: EventProgress, Done: done, Total: total})
		}
		r.s.emit(Event{Kind: EventPulled, Counts: Summary{Pulled: int(n)}})
		if !page.More {
			break
		}
	}
	if err := r.s.db.NoteHead(r.ctx, r.s.serverHead()); err != nil {
		return fmt.Errorf("record server head: %w", err)
	}
	return nil
}

// pageFetch is one pull request on a goroutine of its own. When the
// answer's headers name the next page (protocol.HeaderPullNext) and the
// loop allows it, the fetch asks for that page at once, before its own
// body is read: the server reads page N+2 while the client decodes N+1
// and writes N, and no more than that runs ahead.
type pageFetch struct {
	r            *run
	n            int           // its place in the pull, from 0
	cursor, mark int64         // what was asked for
	sizes        *adaptiveSize // the sizes it was asked at, for the next
	limit        int           // the page size asked for, for adapt
	cancel       context.CancelFunc
	done         chan struct{}
	page         protocol.PullResponse
	err          error
	ahead        *localdb.PullAhead // page's records prepared, in a full pull

	mu      sync.Mutex
	named   *apiclient.NextPage // the next page its headers named
	mayNext bool                // the loop allows it to ask for that page
	gone    bool                // taken or abandoned: it asks for nothing more
	next    *pageFetch
}

// fullPullPage is the most records one page of a full pull (a first sync,
// a resync) asks for: the server's most (protocol.MaxPullPage). In pages
// of the server's 500, a first sync of 100,000 records committed 200
// times, each commit flushing a full-text segment and rewriting the index
// pages it touched, and the server counted what was left for each page:
// pages of 2,000 halved the client's commit time and took about a third
// off the server's CPU. Pages of 5,000 took up to another tenth off a
// first sync of 100,000 (fewer segments to merge; docs/benchmarks.md,
// fifteenth round); a full pull's pages grow to it (rampPage). A page's
// transaction then holds the writer for a quarter of a second or so,
// during a full pull only (a fresh device, or one the server compacted
// past); later pulls keep the server's size.
const fullPullPage = protocol.MaxPullPage

// rampPage bounds the n-th page of a pull. The first is no larger than
// the server's own: nothing is applied until it has come, and the pages
// after it are asked for, decoded and prepared while it is applied. Then
// the pages grow with the pull, to a tenth of the records its first page
// said remain, from 2,000 to fullPullPage: a first sync of 10,000 took a
// tenth to a sixth longer in pages of 5,000 than of 2,000 (fewer pages to
// overlap), one of 100,000 up to a tenth less (fewer segments to merge;
// docs/benchmarks.md, fifteenth round). The first page's count is known
// from the third page on: the second is asked for when the first's
// headers come.
func (r *run) rampPage(n int) int {
	if n == 0 {
		return protocol.DefaultPullPage
	}
	if n == 1 {
		return minRampPage
	}
	return int(min(max(r.pullTotal.Load()/10, minRampPage), fullPullPage))
}

// minRampPage is the size of the second page of a pull, and the least of
// the ones after it.
const minRampPage = 2000

// fetchPage asks for the n-th page of a pull (from 0), the one after
// cursor, at the size the link allows now (sizes: pageSize, or
// fullPageSize in a full pull) and no larger than rampPage.
func (r *run) fetchPage(cursor, mark int64, sizes *adaptiveSize, n int) *pageFetch {
	f := &pageFetch{r: r, n: n, cursor: cursor, mark: mark, sizes: sizes, limit: min(sizes.size(), r.rampPage(n)),
		done: make(chan struct{}), mayNext: n == 0}
	ask := f.limit
	if r.s.opts.PageSize == 0 && sizes == r.s.pageSize && sizes.full() {
		ask = 0 // the server's own page size
	}
	ctx, cancel := context.WithCancel(r.nctx)
	f.cancel = cancel
	go func() {
		defer close(f.done)
		f.page, f.err = r.c.PullThen(ctx, cursor, ask, mark, func(n apiclient.NextPage) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.named = &n
			f.askNext()
		})
		if f.err == nil && sizes == r.s.fullPageSize {
			// A full pull's records are mostly new to the device: they are
			// prepared while the page before is written.
			// A closed database fails the page's transaction as well.
			f.ahead, _ = r.s.db.PrepareAhead(f.page.Records)
		}
	}()
	return f
}

// takeAhead hands over the preparing of f's page (nil if none began);
// wait has returned.
func (f *pageFetch) takeAhead() *localdb.PullAhead {
	a := f.ahead
	f.ahead = nil
	return a
}

// allowNext lets f ask for the page after it once its headers name it (at
// once, if they have come): the loop has taken the page before f.
func (f *pageFetch) allowNext() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mayNext = true
	f.askNext()
}

// askNext starts the fetch of the page f's headers named, when allowed and
// not yet started; f.mu is held. The next page's mark follows the loop's
// rule: a full pull's first page (cursor 0) gives its later pages the
// mark it reported.
func (f *pageFetch) askNext() {
	if !f.mayNext || f.named == nil || f.next != nil || f.gone {
		return
	}
	mark := f.mark
	if f.cursor == 0 {
		mark = f.named.Mark
	}
	f.next = f.r.fetchPage(f.named.Cursor, mark, f.sizes, f.n+1)
}

// wait returns the page once it has come.
func (f *pageFetch) wait() (protocol.PullResponse, error) {
	<-f.done
	f.cancel()
	return f.page, f.err
}

// detach hands over the fetch of the page after f, if f started one, and
// stops f from starting any.
func (f *pageFetch) detach() *pageFetch {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gone = true
	next := f.next
	f.next = nil
	return next
}

// abandon cancels a fetch nobody will take, and the one it started, and
// waits for their goroutines.
func (f *pageFetch) abandon() {
	if f != nil {
		f.cancel()
		<-f.done
		f.takeAhead().Stop()
		f.detach().abandon()
	}
}

// Pull runs a pull-only cycle now: the server's changes until caught up,
// nothing sent. Doctor's repair uses it after resetting the cursor.
func (s *Syncer) Pull(ctx context.Context) (Summary, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return Summary{}, errClosed
	}
	sum, err := s.cycle(ctx, wants{pull: true, forced: true})
	s.afterCycle(err)
	return sum, err
}

// fullPullMark is the compaction mark the full pull resuming at cursor
// began under, or apiclient.NoMark when it is not one (or the mark was never
// recorded: the server then answers cursor_too_old and the pull starts
// over).
func (r *run) fullPullMark(cursor int64) (int64, error) {
	if cursor == 0 {
		return apiclient.NoMark, nil
	}
	flag, err := r.s.db.Meta(r.ctx, localdb.MetaResync)
	if err != nil {
		return apiclient.NoMark, fmt.Errorf("read resync flag: %w", err)
	}
	if flag != "1" {
		return apiclient.NoMark, nil
	}
	v, err := r.s.db.Meta(r.ctx, MetaFullPullMark)
	if err != nil {
		return apiclient.NoMark, fmt.Errorf("read the compaction mark: %w", err)
	}
	mark, err := strconv.ParseInt(v, 10, 64)
	if err != nil || mark < 0 {
		return apiclient.NoMark, nil
	}
	return mark, nil
}
