package sim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"casefile/apiclient"
	"casefile/localdb"
	"casefile/model"
	"casefile/protocol"
	"casefile/server/servertest"
	"casefile/server/store"
	"casefile/syncer"
)

// run plays the scenario: random steps until every client has made its
// writes, then the faults heal, everything quiesces and the invariants are
// checked; then every conflict is resolved and every failed op settled,
// and the clients must mirror the server exactly.
func (w *world) run() {
	for _, c := range w.clients {
		w.createMatter(c) // every device starts with a matter of its own
	}
	for w.busy() {
		// Under rmu: a link's handler notes the step of a request that
		// arrives late (a page asked ahead by a sync that has ended).
		w.rmu.Lock()
		w.step++
		w.rmu.Unlock()
		w.randomStep()
		if w.cfg.moveTo != "" && w.writesDone()*2 >= len(w.clients)*w.cfg.writes {
			w.moveServer()
		}
	}
	if w.cfg.moveTo != "" {
		w.violate("the scenario ended before its store moved to postgres")
	}
	w.heal()
	w.quiesce("after the faults healed")
	w.checkAll(false)
	w.settle()
	w.checkAll(true)
	w.checkFiles()
	w.countResends()
}

// countResends counts, from the devices' journals, the refused creates
// a backup holds that a change of their record sent again, the change
// queued behind (localdb's resendsFirst).
func (w *world) countResends() {
	for _, c := range w.clients {
		for _, e := range w.journalOf(c) {
			if e.Kind == localdb.JournalRetry && strings.Contains(e.Summary, "before this device's next change") {
				w.stats.inc("contract: refused creates a backup holds, sent again before a change", 1)
			}
		}
	}
}

// writesDone counts the local writes the clients have made.
func (w *world) writesDone() int {
	n := 0
	for _, c := range w.clients {
		n += c.writes
	}
	return n
}

func (w *world) busy() bool {
	for _, c := range w.clients {
		if c.writes < w.cfg.writes {
			return true
		}
	}
	return false
}

// randomStep draws one step: mostly local writes and sync cycles, with
// offline periods, crashes, server restarts, access changes and event
// streams between them.
func (w *world) randomStep() {
	w.markNow()
	c := w.clients[w.intn(len(w.clients))]
	x := w.float()
	switch {
	case x < 0.70:
		if c.writes >= w.cfg.writes {
			w.sync(c)
			return
		}
		w.write(c)
	case x < 0.86:
		w.sync(c) // about 40 cycles per client: pushes carry several writes each
	case x < 0.89:
		w.toggleOffline(c)
	case x < 0.91:
		w.toggleWorkOffline(c)
	case x < 0.94:
		w.crash(c)
	case x < 0.95:
		w.tracef("restart server")
		w.stats.inc("restarts", 1)
		w.restartServer()
	case x < 0.975:
		w.changeAccess()
	case x < 0.98:
		w.compact()
	case x < 0.984:
		w.freshDevice(c)
	case x < 0.988:
		w.grantThenCompact()
	case x < 0.996:
		w.stream(c)
	default:
		w.revokeWhileStreaming(c)
	}
	if w.revokeDraw() < w.revokeOdds {
		w.revokeDevice(c)
	}
	w.checkCursor(c)
	if w.verbose {
		w.doctorAll()
	}
}

// doctorAll runs every client's Doctor after a step (CASEFILE_SIM_TRACE):
// slow, but it stops at the step where a database first goes wrong.
func (w *world) doctorAll() {
	for _, c := range w.clients {
		for _, p := range w.doctor(c) {
			for id, i := range w.index {
				p = strings.ReplaceAll(p, id, fmt.Sprintf("#%d", i))
			}
			w.t.Fatalf("seed=%d step %d: %s: doctor: %s", w.seed, w.step, c.name, p)
		}
	}
}

// sync runs one cycle of c through its link. While work offline is on,
// the link must see no request at all.
func (w *world) sync(c *client) {
	before := c.link.count()
	if c.offlineLeft > 0 {
		c.offlineLeft--
		if c.offlineLeft == 0 {
			c.link.setOffline(false)
		}
	}
	w.maybeAttach(c)
	w.maybeEditFile(c)
	lose := w.loseCommitDraw()
	if failed := w.serverFailures(); len(failed) > 0 {
		w.violate("the server failed %d request(s) outside a sync cycle: %s", len(failed), failed[0])
	}
	cut := !lose && w.cutConnsDraw()
	mid := !lose && !cut && w.midCutDraw()
	read := !lose && !cut && !mid && w.readCutDraw()
	c.link.setDevice(&besideDevice{name: c.name, path: c.path, db: c.db, keys: c.keys, fill: w.fillDraw(), fillPull: w.fillPullDraw(), full: &c.full})
	sum, err := c.s.RunOnce(w.ctx)
	c.link.setDevice(nil)
	filled := c.full.Swap(false)
	if filled {
		w.tracef("%s: its disk filled during the sync (%v); room is made", c.name, err)
	} else {
		w.checkNothingInFlight(c)
	}
	if lose {
		w.disarmDB()
	}
	if mid {
		mid = w.midCutDisarm()
	}
	if read {
		read = w.readCutDisarm()
	}
	if err == nil {
		w.moveFiles(c, time.Now)
	}
	w.reportBeside()
	failed := w.serverFailures()
	switch {
	case len(failed) == 0:
	case lose:
		// A commit whose answer the link lost is answered 500.
		w.stats.inc("contract: requests answered 5xx after a commit's answer was lost", len(failed))
	case cut:
		w.violate("%s: the server failed %d request(s) after its connections to postgres were cut while idle: %s", c.name, len(failed), failed[0])
	case mid:
		// Only a COMMIT sent on the dead connection may fail its pushes:
		// the server cannot know whether it committed, and the ledger
		// answers the resends. Every statement before it goes again.
		bad := notAtCommit(failed)
		if len(bad) > 0 {
			w.violate("%s: the server failed %d request(s) after its connections to postgres were cut in the middle of a push group: %s", c.name, len(bad), bad[0])
		}
		w.stats.inc("contract: pushes answered 5xx, their COMMIT sent on a connection cut mid-group", len(failed)-len(bad))
	case read:
		// A read that had begun cannot go again unseen: it is answered
		// 503 unavailable, which the device sends again as it was.
		bad := notUnavailable(failed)
		if len(bad) > 0 {
			w.violate("%s: the server failed %d request(s) after its connections to postgres were cut in the middle of a read, not as unavailable: %s", c.name, len(bad), bad[0])
		}
		w.stats.inc("contract: reads answered 503 unavailable, their snapshot's connection cut", len(failed)-len(bad))
	default:
		w.violate("%s: the server failed %d request(s) in a cycle with no fault of its own injected: %s", c.name, len(failed), failed[0])
	}
	w.stats.inc("syncs", 1)
	w.stats.inc(statOverlapped, sum.Overlapped)
	w.stats.inc(statPulledAhead, sum.PulledAhead)
	w.stats.inc("conflicts", sum.Conflicts)
	w.stats.inc("rejected", sum.Failed)
	w.tracef("%s sync: pushed %d pulled %d conflicts %d failed %d retrying %d; %s",
		c.name, sum.Pushed, sum.Pulled, sum.Conflicts, sum.Failed, sum.Retrying, errClass(err))
	if c.workOffline {
		if !errors.Is(err, syncer.ErrWorkOffline) {
			w.violate("%s: a cycle in work-offline mode returned %v, not ErrWorkOffline", c.name, err)
		}
		if n := c.link.count() - before; n > 0 {
			w.violate("%s: %d request(s) went out while work offline was on", c.name, n)
		}
	}
	if err != nil && !errors.Is(err, syncer.ErrWorkOffline) && !apiclient.IsTransient(err) && apiclient.ClassOf(err) != apiclient.ClassPermanent &&
		!(filled && errors.Is(err, localdb.ErrFull)) {
		w.violate("%s: sync failed with a non-network error: %v", c.name, err)
	}
	w.checkCrawl(c, filled)
}

// checkCrawl checks what c's link saw of crawling answers in the cycle
// just run: none given up while its bytes were still moving (the request
// timeout is on silence, not on duration), and the cursor at or past every
// pull page that crawled down whole (unless a full resync started over,
// or the disk was full: filled, and the page could not be written).
func (w *world) checkCrawl(c *client, filled bool) {
	abandoned, crawled := c.link.takeCrawl()
	if abandoned > 0 {
		w.violate("%s: %d crawling answer(s) given up while their bytes were still moving", c.name, abandoned)
	}
	if crawled == 0 || filled {
		return
	}
	v, err := c.db.Meta(w.ctx, "cursor")
	w.must("read cursor", err)
	cur, _ := strconv.ParseInt(v, 10, 64)
	if cur >= crawled {
		w.stats.inc("crawled pull pages the cursor passed", 1)
		return
	}
	j, err := c.db.Journal(w.ctx, localdb.JournalQuery{AfterSeq: c.resyncSeen})
	w.must(c.name+": journal", err)
	for _, e := range j {
		if e.Kind == "reset" && strings.HasPrefix(e.Summary, "full resync from the server started") {
			return // checkCursor counts it
		}
	}
	w.violate("%s: a pull page with cursor %d crawled down whole, yet the cursor is %d", c.name, crawled, cur)
}

// errClass names an error by its class, for the trace: the sentences
// may carry ids that differ between runs.
func errClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, syncer.ErrWorkOffline):
		return "work-offline"
	}
	if c := apiclient.ClassOf(err); c != 0 {
		return c.String()
	}
	return "error"
}

// toggleOffline cuts c's network for its next few cycles, or restores it.
func (w *world) toggleOffline(c *client) {
	if c.offlineLeft > 0 {
		c.offlineLeft = 0
		c.link.setOffline(false)
		w.tracef("%s back online", c.name)
		return
	}
	c.offlineLeft = 2 + w.intn(10)
	c.link.setOffline(true)
	w.stats.inc("offline", 1)
	w.tracef("%s offline for %d cycles", c.name, c.offlineLeft)
}

func (w *world) toggleWorkOffline(c *client) {
	c.workOffline = !c.workOffline
	c.s.SetWorkOffline(c.workOffline)
	if c.workOffline {
		w.stats.inc("workOffline", 1)
	}
	w.tracef("%s work offline %v", c.name, c.workOffline)
}

// crash abandons c's database and syncer without closing them — as a
// killed process leaves them — and opens the file again. Sometimes the
// crash comes mid-push: ops taken for sending and never answered, or sent
// and applied by the server with the answer never applied here.
func (w *world) crash(c *client) {
	how := w.intn(3)
	var taken []localdb.OutboxOp
	if how > 0 {
		var err error
		taken, err = c.db.NextBatch(w.ctx, time.Now().Add(100*365*24*time.Hour), 1+w.intn(c.batch))
		w.must("next batch before the crash", err)
	}
	if how == 2 && len(taken) > 0 {
		ops := make([]model.Op, len(taken))
		for i, o := range taken {
			ops[i] = o.Op
		}
		direct := &servertest.Client{URL: w.srvURL, Token: c.token, HTTP: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}}
		// A batch whose answer passes the server's bound is refused, with
		// nothing of it applied: the ops go again after the restart.
		var se *servertest.StatusError
		if _, err := direct.Push(w.ctx, ops...); err != nil && (!errors.As(err, &se) || se.Code != protocol.CodeAnswerTooLarge) {
			w.violate("%s: push before the crash: %v", c.name, err)
		}
	}
	w.tracef("%s crash (%d) with %d op(s) in flight", c.name, how, len(taken))
	w.stats.inc("crashes", 1)
	c.db.Abandon()
	c.dead = append(c.dead, c.db)
	c.db, c.s = nil, nil
	if w.repairs() {
		w.repair(c)
	}
	w.openClient(c)
	ops, err := c.db.Outbox(w.ctx)
	w.must("outbox after the crash", err)
	for _, o := range ops {
		if o.State == localdb.OpSyncing {
			w.violate("%s: op %s is still syncing after a restart", c.name, o.OpID)
		}
	}
	for _, p := range w.doctor(c) {
		w.violate("%s: doctor after a crash: %s", c.name, p)
	}
	w.checkCursor(c)
}

// checkCursor checks that c's pull cursor never moved back, except in a
// full resync the server asked for (cursor_too_old after a compaction),
// which the journal must show.
func (w *world) checkCursor(c *client) {
	v, err := c.db.Meta(w.ctx, "cursor")
	w.must("read cursor", err)
	cur, _ := strconv.ParseInt(v, 10, 64)
	if cur < c.cursor {
		j, err := c.db.Journal(w.ctx, localdb.JournalQuery{AfterSeq: c.resyncSeen})
		w.must(c.name+": journal", err)
		resynced := false
		for _, e := range j {
			if e.Kind == "reset" && strings.HasPrefix(e.Summary, "full resync from the server started") {
				resynced = true
				c.resyncSeen = max(c.resyncSeen, e.Seq)
			}
		}
		if !resynced {
			w.violate("%s: cursor went back from %d to %d with no full resync in the journal", c.name, c.cursor, cur)
		}
		w.stats.inc("full resyncs", 1)
		w.tracef("%s cursor %d → %d: full resync", c.name, c.cursor, cur)
		c.cursor = cur
	}
	c.cursor = max(c.cursor, cur)
}

// compact runs the server's compaction with nothing kept: tombstones,
// moves, access events and every stored answer go, so devices behind it
// must resync in full, and an op resent after its answer went must be
// refused as outcome_unknown rather than applied twice. The harness keeps
// its own copy of the answers first, for the exactly-once check.
func (w *world) compact() {
	// A millisecond ahead, so that an answer stored in this very
	// microsecond goes too and a replay compacts exactly the same.
	w.compactAt(time.Now().Add(time.Millisecond))
}

// changeAccess grants a user a matter the server has, or revokes it.
func (w *world) changeAccess() {
	var matters []string
	for _, id := range w.ids {
		if w.kinds[id] == model.MatterCollection {
			matters = append(matters, id)
		}
	}
	m := matters[w.intn(len(matters))]
	u := w.users[w.intn(len(w.users))]
	exists, member := false, false
	err := w.reader.Read(w.ctx, func(r store.Reader) error {
		if _, err := r.Record(w.ctx, m); errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		exists = true
		var err error
		member, err = r.IsMember(w.ctx, u.name, m)
		return err
	})
	w.must("read membership", err)
	switch {
	case !exists:
		w.tracef("access: matter#%d is not on the server yet", w.index[m])
	case member:
		var c *client
		var doomed string
		if w.chance(0.3) {
			c, doomed = w.deleteBeforeRevoke(u, m)
		}
		w.tracef("revoke %s matter#%d", u.name, w.index[m])
		w.stats.inc("revokes", 1)
		w.adminCutDraw()
		w.must("revoke", w.srv.Revoke(w.ctx, u.name, m))
		if c != nil {
			// The device learns of it, and the person takes the delete
			// back: the record left out of sight, or its delete is still
			// here to take back.
			w.sync(c)
			w.tracef("%s undo the delete of #%d after the revoke", c.name, w.index[doomed])
			w.undo(c)
			w.stats.inc("contract: deletes taken back after their matter was revoked", 1)
		}
	default:
		w.tracef("grant %s matter#%d", u.name, w.index[m])
		w.stats.inc("grants", 1)
		w.adminCutDraw()
		w.must("grant", w.srv.Grant(w.ctx, u.name, m))
	}
}

// stream opens c's event stream through its link, resuming from its
// cursor. Passed through, it must poke at once when the server is ahead;
// cut, it must end, and the next cycle must not care.
func (w *world) stream(c *client) {
	if c.offlineLeft > 0 || c.workOffline {
		w.sync(c)
		return
	}
	ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.link.URL+protocol.PathEvents, nil)
	w.must("stream request", err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Last-Event-ID", strconv.FormatInt(c.cursor, 10))
	head, err := w.srv.Head(w.ctx)
	w.must("server head", err)
	w.stats.inc("streams", 1)
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		w.violate("%s: event stream: %v", c.name, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		w.violate("%s: event stream answered %s", c.name, resp.Status)
		return
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "event: poke") || (line == ": connected" && head <= c.cursor) {
			break
		}
	}
	if ctx.Err() != nil {
		w.violate("%s: the event stream neither poked nor ended (cursor %d, head %d)", c.name, c.cursor, head)
	}
	w.tracef("%s stream", c.name)
}

// revokeWhileStreaming revokes c's token while it holds an event stream
// (a stolen laptop's token revoked by an admin): the open stream must end
// with a "closed" event saying unauthorized, at the next heartbeat or
// change, never go on poking. c then signs in again. The stream goes to
// the server directly, not through c's link, so no fault is drawn for it.
func (w *world) revokeWhileStreaming(c *client) {
	ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.srvURL+protocol.PathEvents, nil)
	w.must("stream request", err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	w.must("open the stream to revoke", err)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		w.violate("%s: event stream answered %s", c.name, resp.Status)
		return
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && sc.Text() != ": connected" {
	}
	n, err := w.srv.RevokeTokens(w.ctx, c.user.name, c.name)
	w.must("revoke the token", err)
	w.stats.inc("token revokes", 1)
	w.tracef("%s token revoked while streaming (%d)", c.name, n)
	closed := ""
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "event: "+protocol.EventClosed) {
			if sc.Scan() {
				closed = sc.Text()
			}
			break
		}
	}
	if !strings.Contains(closed, `"code":"`+string(protocol.CodeUnauthorized)+`"`) {
		w.violate("%s: the stream of a revoked token did not close saying unauthorized (read %q, %v)", c.name, closed, ctx.Err())
	}
	login, err := servertest.Login(w.ctx, w.srvURL, c.user.name, password, c.name)
	w.must("sign in again", err)
	c.token = login.Token
	c.s.Close()
	w.newSyncer(c)
}

// heal ends every fault: links up, work offline off, no more faults.
func (w *world) heal() {
	w.rmu.Lock()
	w.healed = true
	w.rmu.Unlock()
	for _, c := range w.clients {
		c.offlineLeft = 0
		c.link.setOffline(false)
		c.link.unforce()
		if c.workOffline {
			c.workOffline = false
			c.s.SetWorkOffline(false)
		}
	}
	w.tracef("healed")
}

// quiesce syncs every client round after round until a whole round moves
// nothing. On a healed network a cycle must not fail, and a bounded number
// of rounds must do: a queue that never drains is a wedged queue.
func (w *world) quiesce(when string) {
	const rounds = 12
	for round := range rounds {
		quiet := true
		for _, c := range w.clients {
			sum, err := c.s.RunOnce(w.ctx)
			w.stats.inc("syncs", 1)
			w.stats.inc(statOverlapped, sum.Overlapped)
			w.stats.inc(statPulledAhead, sum.PulledAhead)
			w.stats.inc("conflicts", sum.Conflicts)
			w.stats.inc("rejected", sum.Failed)
			w.tracef("%s settle sync: pushed %d pulled %d conflicts %d failed %d retrying %d; %s",
				c.name, sum.Pushed, sum.Pulled, sum.Conflicts, sum.Failed, sum.Retrying, errClass(err))
			if err != nil {
				w.violate("%s: sync %s failed on a healed network: %v", c.name, when, err)
				quiet = false
			}
			if sum.Pushed+sum.Pulled+sum.Conflicts+sum.Failed > 0 || w.sendable(c) > 0 {
				quiet = false
			}
			w.checkCursor(c)
		}
		if quiet {
			return
		}
		if round == rounds-1 {
			w.violate("the clients did not quiesce %s within %d rounds", when, rounds)
		}
	}
}

// sendable counts c's ops that could go now: pending or retrying, with
// no earlier op of their record in conflict or failed. (The syncer's own
// count, Summary.Retrying, includes ops held behind those.)
func (w *world) sendable(c *client) int {
	ops, err := c.db.Outbox(w.ctx)
	w.must(c.name+": outbox", err)
	held := map[string]bool{}
	n := 0
	for _, o := range ops {
		switch o.State {
		case localdb.OpConflict, localdb.OpFailed:
			held[o.RecordID] = true
		default:
			if !held[o.RecordID] {
				n++
			}
		}
	}
	return n
}

// settle resolves every conflict and settles every failed op — at random
// at first, then by keeping the server's side and discarding — until the
// outboxes are empty. Ops queued behind a conflict go out once it is
// resolved and may meet a conflict of their own: a round per queued op.
func (w *world) settle() {
	const rounds = 20
	for round := range rounds {
		open := 0
		for _, c := range w.clients {
			open += w.settleClient(c, round >= 2)
		}
		if open == 0 {
			return
		}
		w.quiesce(fmt.Sprintf("after settling round %d", round+1))
	}
	w.violate("conflicts or failed ops still came back after %d rounds of settling", rounds)
}

// deleteBeforeRevoke has a device of u delete a record of matter m it
// holds, just before u loses m: the client and the record, or nil.
func (w *world) deleteBeforeRevoke(u *user, m string) (*client, string) {
	for _, c := range w.clients {
		if c.user != u {
			continue
		}
		recs, err := c.db.List(w.ctx, localdb.ListQuery{MatterID: m})
		w.must(c.name+": list a matter's records", err)
		for _, r := range recs {
			if r.ID == m || r.State == model.StateConflict || len(tracked[r.Collection]) == 0 {
				continue
			}
			w.action()
			if err := c.db.Delete(w.ctx, r.ID); err != nil {
				w.refused(c, "delete", r.ID, err)
				return nil, ""
			}
			w.tracef("%s delete %s#%d before its matter is revoked", c.name, r.Collection, w.index[r.ID])
			w.ack(c, entry{rec: r.ID, kind: "delete"})
			return c, r.ID
		}
	}
	return nil, ""
}
