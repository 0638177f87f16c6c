package sim

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"time"

	"casefile/localdb"
	"casefile/model"
	"casefile/protocol"
	"casefile/server/servertest"
	"casefile/server/store"
)

// mark is a moment of the scenario and the server's head just after it:
// every change made up to that moment has a sequence at most head.
type mark struct {
	at   time.Time
	head int64
}

// maxMarks bounds the moments a partial compaction may cut at.
const maxMarks = 200

// markNow notes the moment a step begins, for partial compactions.
func (w *world) markNow() {
	at := time.Now()
	head, err := w.srv.Head(w.ctx)
	w.must("server head", err)
	w.marks = append(w.marks, mark{at: at, head: head})
	if len(w.marks) > maxMarks {
		w.marks = w.marks[len(w.marks)-maxMarks/2:]
	}
}

// compactAt runs the server's compaction as if it ran at now (the
// retention is a nanosecond: everything older than now goes), keeping the
// harness's copy of the answers it erases first.
func (w *world) compactAt(now time.Time) store.CompactStats {
	w.action()
	w.awaitServerIdle()
	err := w.reader.Read(w.ctx, func(r store.Reader) error {
		_, err := w.answers(r, w.opIDs())
		return err
	})
	w.must("copy the ledger", err)
	w.takeBackup()
	st, err := w.srv.Compact(w.ctx, now)
	w.must("compact", err)
	// As the server's compaction loop does after it.
	w.auditArrivals(now)
	w.stats.inc("compactions", 1)
	w.stats.inc("compacted answers", int(st.LedgerEntries))
	w.stats.inc("compacted tombstones", int(st.Tombstones))
	w.tracef("compact: %d tombstones, %d moves, %d access events, %d answers; through %d, answers through %d",
		st.Tombstones, st.Moves, st.AccessEvents, st.LedgerEntries, st.CompactedThrough, st.LedgerThrough)
	return st
}

// grantThenCompact grants a matter to a user who lacks it — its records,
// tombstones included, take new sequences — and then compacts what is
// older than a moment drawn from the scenario's past, as a server whose
// retention began then. A device whose cursor is at or past the head of
// that moment pulled every change the compaction removed: its next pull
// must go on from its cursor, never be sent back to a full resync.
func (w *world) grantThenCompact() {
	if len(w.marks) == 0 {
		w.compact()
		return
	}
	if w.grantOne() {
		w.stats.inc("contract: grants then partial compactions", 1)
	}
	m := w.marks[w.intn(len(w.marks))]
	var before store.Head
	err := w.reader.Read(w.ctx, func(r store.Reader) (err error) { before, err = r.Head(w.ctx); return err })
	w.must("read the head", err)
	w.compactAt(m.at.Add(time.Nanosecond))
	w.stats.inc("contract: partial compactions", 1)
	for _, c := range w.clients {
		st, err := c.db.Status(w.ctx)
		w.must(c.name+": status", err)
		resync, err := c.db.Meta(w.ctx, localdb.MetaResync)
		w.must(c.name+": resync flag", err)
		// A cursor behind an earlier compaction's mark must resync anyway.
		if st.Cursor == 0 || st.Cursor < m.head || st.Cursor < before.CompactedThrough || resync == "1" {
			continue
		}
		direct := &servertest.Client{URL: w.srvURL, Token: c.token, HTTP: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}}
		_, err = direct.Pull(w.ctx, st.Cursor, 1)
		var se *servertest.StatusError
		switch {
		case errors.As(err, &se) && se.Status == http.StatusGone:
			w.violate("%s: its cursor %d is younger than the compaction (head %d at the cut), yet the server answers cursor_too_old", c.name, st.Cursor, m.head)
		case err != nil:
			w.violate("%s: pull after a partial compaction: %v", c.name, err)
		default:
			w.stats.inc("contract: young cursors kept through a partial compaction", 1)
		}
	}
}

// grantOne grants a matter on the server to a user who is not its member;
// false when the few draws find no such pair.
func (w *world) grantOne() bool {
	// Matters holding a tombstone first: a grant gives it a new sequence.
	var withTombs, matters []string
	err := w.reader.Read(w.ctx, func(r store.Reader) error {
		h, err := r.Head(w.ctx)
		if err != nil {
			return err
		}
		recs, err := r.Changes(w.ctx, store.ChangeQuery{All: true, UpTo: h.Seq})
		for _, rec := range recs {
			if rec.Deleted && !slices.Contains(withTombs, rec.MatterID) {
				withTombs = append(withTombs, rec.MatterID)
			}
		}
		return err
	})
	w.must("read the tombstones", err)
	for _, id := range w.ids {
		if w.kinds[id] == model.MatterCollection {
			matters = append(matters, id)
		}
	}
	for try := range 4 {
		m := matters[w.intn(len(matters))]
		if try < 2 && len(withTombs) > 0 {
			m = withTombs[w.intn(len(withTombs))]
		}
		u := w.users[w.intn(len(w.users))]
		ok := false
		err := w.reader.Read(w.ctx, func(r store.Reader) error {
			rec, err := r.Record(w.ctx, m)
			if errors.Is(err, store.ErrNotFound) || (err == nil && rec.Deleted) {
				return nil
			}
			if err != nil {
				return err
			}
			member, err := r.IsMember(w.ctx, u.name, m)
			ok = !member
			return err
		})
		w.must("read membership", err)
		if ok {
			w.tracef("grant %s matter#%d", u.name, w.index[m])
			w.stats.inc("grants", 1)
			w.must("grant", w.srv.Grant(w.ctx, u.name, m))
			return true
		}
	}
	return false
}

// freshDevice replaces c by a new device of the same user — a new
// install, an empty database — right after a compaction, and has it
// write before its first pull. Its first push is reset before the server
// reads it, and the next cycle sends it again: the server must apply it,
// not answer outcome_unknown for a request it never saw (the device
// learned the head before its first push). Its first pull page is cut
// with the next already asked for. Only a device with no work
// queued and online is replaced; when there is none, c just syncs.
func (w *world) freshDevice(c *client) {
	clean := func(c *client) bool {
		ops, err := c.db.Outbox(w.ctx)
		w.must(c.name+": outbox", err)
		return len(ops) == 0 && !c.workOffline && c.offlineLeft == 0
	}
	first := c
	for !clean(c) {
		if c = w.clients[(c.i+1)%len(w.clients)]; c == first {
			w.sync(c)
			return
		}
	}
	for _, e := range w.journalOf(c) {
		if e.OpID != "" {
			w.retiredOps = append(w.retiredOps, e.OpID)
		}
	}
	c.past = nil
	w.must(c.name+": close the syncer", c.s.Close())
	c.dead = append(c.dead, c.db)
	c.gen++
	c.path = filepath.Join(w.dir, fmt.Sprintf("c%d-%d.db", c.i, c.gen))
	c.cursor, c.resyncSeen = 0, 0
	w.openClient(c)
	w.tracef("%s is a fresh device", c.name)
	b := w.backupFor(c)
	w.compact()
	w.stats.inc("contract: fresh devices after a compaction", 1)
	restored := w.restoreBackup(c, b)
	w.createMatter(c)
	c.link.force(protocol.PathPush, fReset)
	// Its first pull page is cut halfway, after its headers named the
	// next page, which the device has asked for by then and which crawls:
	// the device gives that one up on purpose, not for silence.
	c.link.force(protocol.PathPull, fResetMid, fCrawl)
	c.restoring = true
	w.sync(c)
	w.sync(c)
	c.restoring = false
	if n := c.link.unforce(); n > 0 {
		// Its syncs stopped first (a drawn fault on an earlier request).
		w.stats.inc("contract: forced faults a fresh device's syncs did not meet", n)
	}
	after, err := c.db.Outbox(w.ctx)
	w.must(c.name+": outbox", err)
	for _, o := range after {
		if o.ErrorCode == protocol.CodeOutcomeUnknown {
			w.violate("%s: a fresh device's lost first request came back outcome_unknown (sent since %d)", c.name, o.SentSince)
		}
	}
	if len(after) == 0 {
		w.stats.inc("contract: fresh devices' first pushes applied", 1)
	}
	w.checkRestored(c, restored)
}
