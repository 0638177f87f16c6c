package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/dustin/go-humanize"

	"casefile/localdb"
	"casefile/model"
	"casefile/protocol"
	"casefile/syncer"
)

// backlogOrder is the order of the backlog's groups: what needs the person
// first.
var backlogOrder = []localdb.OpState{localdb.OpConflict, localdb.OpFailed, localdb.OpRetrying, localdb.OpSyncing, localdb.OpPending}

// opStateLabel names an op state as people read it, with its symbol.
func opStateLabel(st localdb.OpState) string {
	switch st {
	case localdb.OpPending:
		return stateSymbol[model.StatePending] + " Saved offline"
	case localdb.OpSyncing:
		return stateSymbol[model.StateSyncing] + " Syncing"
	case localdb.OpRetrying:
		return stateSymbol[model.StateRetrying] + " Retrying"
	case localdb.OpFailed:
		return stateSymbol[model.StateFailed] + " Failed"
	case localdb.OpConflict:
		return stateSymbol[model.StateConflict] + " Conflict"
	}
	return string(st)
}

// opRecordState is the record state an op state shows as.
func opRecordState(st localdb.OpState) model.SyncState {
	if st == localdb.OpPending {
		return model.StatePending
	}
	return model.SyncState(st)
}

// backlogPane shows the outbox grouped by state, with attempts, the last
// error in plain words and a countdown to the next retry; ops can be
// retried now or discarded.
type backlogPane struct {
	Common
	ops    []localdb.OutboxOp // grouped, in backlogOrder
	lay    backlogLayout
	titles map[string]string
	list   scroller // over the ops
	top    int      // first line in sight
	loaded bool
	err    error
	reqID  int
	// transfers are the files moving beside the ops (ui/attachments.go).
	transfers []localdb.Transfer
	tReqID    int
}

func newBacklogPane(sh *Shared) *backlogPane {
	l := newScroller(sh.Keys)
	return &backlogPane{Common: Common{Shared: sh}, list: l}
}

// SetSize sizes the pane; paging moves half a screen of ops.
func (p *backlogPane) SetSize(w, h int) {
	p.Common.SetSize(w, h)
	p.list.SetRows(h)
	p.list.page = max(1, h/2)
	p.scrollLines()
}

// Init reads the outbox.
func (p *backlogPane) Init() tea.Cmd { return p.refresh() }

func (p *backlogPane) refresh() tea.Cmd {
	p.reqID = p.newID()
	p.tReqID = p.newID()
	return tea.Batch(loadOutbox(p.DB, p.Schema, p.reqID), loadTransfers(p.DB, p.tReqID))
}

// Update handles the outbox answer and the retry and discard keys.
func (p *backlogPane) Update(msg tea.Msg) tea.Cmd {
	k := p.Keys
	switch msg := msg.(type) {
	case transfersMsg:
		if msg.id == p.tReqID && msg.err == nil {
			p.transfers = msg.transfers
		}
		return nil
	case outboxMsg:
		if msg.id != p.reqID {
			return nil
		}
		p.err = msg.err
		if msg.err != nil {
			return nil
		}
		var sel string
		if op, ok := p.selected(); ok {
			sel = op.OpID
		}
		p.ops, p.lay = msg.ops, msg.layout
		p.titles, p.loaded = msg.titles, true
		p.list.SetLen(len(p.ops))
		for i, op := range p.ops {
			if op.OpID == sel {
				p.list.Select(i)
			}
		}
		p.scrollLines()
	case tea.MouseWheelMsg:
		if p.list.Update(msg) {
			p.scrollLines()
		}
	case tea.MouseClickMsg:
		// A click on a change's line (or its error under it) selects it;
		// on the selected one, opens it.
		line := p.top + msg.Y
		if len(p.ops) == 0 || line < 0 || line >= len(p.lay.items) || msg.Y >= p.Height {
			return nil
		}
		it := p.lay.items[line]
		if it.kind != itemOp && it.kind != itemError {
			return nil
		}
		if int(it.op) == p.list.Cursor() {
			return p.Update(p.openKey())
		}
		p.list.Select(int(it.op))
		p.scrollLines()
	case tea.KeyPressMsg:
		if p.list.Update(msg) {
			p.scrollLines()
			return nil
		}
		op, ok := p.selected()
		switch {
		case key.Matches(msg, k.RetryAll):
			return retryAll(p.DB)
		case !ok:
			return nil
		case key.Matches(msg, k.RetryOne):
			if op.State != localdb.OpFailed && op.State != localdb.OpRetrying {
				p.notify("Only failed or retrying changes can be retried; this one is " + opRecordState(op.State).Label() + ".")
				return nil
			}
			return retryOp(p.DB, op.OpID)
		case key.Matches(msg, k.Discard):
			q := fmt.Sprintf("Discard your %s of “%s”? The record goes back to the server's copy; the journal keeps what you did.",
				opKindNoun(op.Kind), p.title(op))
			yes := discardOp(p.DB, op.OpID)
			p.send(askMsg{question: q, yes: yes})
		case key.Matches(msg, k.Open):
			id := op.RecordID
			if op.State == localdb.OpConflict {
				p.send(reviewMsg{recordID: id})
			} else {
				p.send(openRecordMsg{id: id})
			}
		}
	}
	return nil
}

func (p *backlogPane) selected() (localdb.OutboxOp, bool) {
	i := p.list.Cursor()
	if i < 0 || i >= len(p.ops) {
		return localdb.OutboxOp{}, false
	}
	return p.ops[i], true
}

func (p *backlogPane) title(op localdb.OutboxOp) string {
	if t, ok := p.titles[op.RecordID]; ok {
		return safeLine(t)
	}
	return op.RecordID
}

// opKindPhrase says what an op does, before the record's name.
func opKindPhrase(k model.OpKind) string {
	switch k {
	case model.OpCreate:
		return "New"
	case model.OpDelete:
		return "Deletion of"
	}
	return "Changes to"
}

func opKindNoun(k model.OpKind) string {
	switch k {
	case model.OpCreate:
		return "new record"
	case model.OpDelete:
		return "deletion"
	}
	return "change"
}

// plainError turns an op's last error into words for people.
func plainError(op localdb.OutboxOp) string {
	switch op.ErrorCode {
	case protocol.CodeValidation:
		return "The server found a problem with the values: " + orDefault(safeLine(op.LastError), "check the fields.")
	case protocol.CodeForbidden, protocol.CodeReadOnly:
		return "You may not change this matter (read-only access)."
	case protocol.CodeNotFound:
		return "The server no longer has this record, or you lost access to its matter."
	case protocol.CodeIDConflict:
		return "A record with this id already exists on the server."
	case protocol.CodeUnauthorized:
		return "The server did not accept your login. Log in again."
	case protocol.CodeRateLimited:
		return "The server asked to slow down; this will be sent a little later."
	}
	return safeLine(op.LastError)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// View draws the lines of the backlog in sight, and no others: the outbox
// may hold a hundred thousand imported records.
func (p *backlogPane) View() string {
	s := p.Styles
	w := p.Width
	switch {
	case p.err != nil:
		return s.Error.Render(" The backlog could not be read: " + p.err.Error())
	case !p.loaded:
		return s.Muted.Render(" Loading…")
	case len(p.ops) == 0 && len(p.transfers) == 0:
		return s.OK.Render(" ✓ Nothing waiting.") + s.Muted.Render(" Every change made here is on the server.")
	case len(p.ops) == 0:
		return s.OK.Render(" ✓ No changes waiting.") + "\n" + transferLine(s, p.transfers, w)
	}
	h := p.Height
	files := transferLine(s, p.transfers, w)
	if files != "" {
		h-- // the last line tells of files
	}
	now := p.Now()
	var lines []string
	for _, it := range p.lay.items[p.top:min(len(p.lay.items), p.top+h)] {
		switch it.kind {
		case itemBlank:
			lines = append(lines, "")
		case itemHeader:
			st := localdb.OpState(it.state)
			lines = append(lines, s.State[opRecordState(st)].Render(fmt.Sprintf(" %s (%s)", opStateLabel(st), humanize.Comma(int64(p.lay.counts[st])))))
		case itemError:
			lines = append(lines, s.Muted.Render(truncate("     "+plainError(p.ops[it.op]), w)))
		case itemOp:
			lines = append(lines, p.opLineView(int(it.op), now, w))
		case itemMore:
			more := p.lay.more[localdb.OpState(it.state)]
			lines = append(lines, s.Muted.Render(fmt.Sprintf("   … and %s more; they are sent in order with the next syncs.", humanize.Comma(int64(more)))))
		}
	}
	if files != "" {
		return fitLines(strings.Join(lines, "\n"), h) + "\n" + files
	}
	return fitLines(strings.Join(lines, "\n"), h)
}

// scrollLines keeps the cursor's op in sight, in lines: an op's lines
// below it (its error, the count of ops not listed after the last one)
// come into sight with it, and the group heading above the first op.
func (p *backlogPane) scrollLines() {
	if len(p.ops) == 0 {
		return
	}
	h := p.Height
	cursorLine := p.lay.opLine[p.list.Cursor()]
	end := cursorLine
	for end+1 < len(p.lay.items) && (p.lay.items[end+1].kind == itemError || p.lay.items[end+1].kind == itemMore) {
		end++
	}
	p.top = scrollInto(p.top, end, h)
	p.top = scrollInto(min(p.top, cursorLine), cursorLine, h)
	if cursorLine > 0 && p.top == cursorLine {
		p.top-- // keep the group heading of the first op in sight
	}
	p.top = clamp(p.top, 0, max(0, len(p.lay.items)-h))
}

func (p *backlogPane) opLineView(i int, now time.Time, w int) string {
	s := p.Styles
	op := p.ops[i]
	name := op.Collection
	if col, ok := p.Schema.Collection(op.Collection); ok {
		name = singular(col)
	}
	what := fmt.Sprintf("%s %s “%s”", opKindPhrase(op.Kind), name, p.title(op))
	var facts []string
	if op.Attempts > 0 {
		facts = append(facts, plural(op.Attempts, "attempt", "attempts"))
	}
	if op.State == localdb.OpRetrying {
		facts = append(facts, p.nextTry(now, op.NextAttempt))
	}
	if op.State == localdb.OpPending {
		facts = append(facts, "saved "+ago(now, op.CreatedAt))
	}
	right := strings.Join(facts, " · ")
	if i == p.list.Cursor() {
		return s.RowSelected.Render(pad(joinRight(" ▸ "+what, right+" ", w), w))
	}
	return joinRight("   "+what, s.Muted.Render(right)+" ", w)
}

// nextTry says when a retrying op goes again: at its time if the server
// answers, else when it does — "now" only while it can be true.
func (p *backlogPane) nextTry(now, at time.Time) string {
	if at.After(now) {
		return "next try " + in(now, at)
	}
	switch p.Conn {
	case syncer.Offline:
		return "next try when the server can be reached"
	case syncer.Degraded:
		return "next try when the server answers again"
	case syncer.WorkOffline:
		return "waits: you are working offline"
	case syncer.LoggedOut:
		return "waits: log in again"
	}
	return "next try now" // zero time: due now
}

// Kinds of backlog lines.
const (
	itemBlank = iota
	itemHeader
	itemOp
	itemError
	itemMore
)

// maxPerGroup bounds the ops listed per group: an import of a hundred
// thousand records waits as one long group nobody reads op by op.
const maxPerGroup = 500

// backlogItem is one line of the backlog: a group heading, a blank, an op
// or an op's error.
type backlogItem struct {
	kind  uint8
	state string // itemHeader: the group
	op    int32  // itemOp, itemError: index in the grouped ops
}

// backlogLayout is the backlog's lines, worked out once per read.
type backlogLayout struct {
	items  []backlogItem
	opLine []int // line of each op
	counts map[localdb.OpState]int
	more   map[localdb.OpState]int // ops of a state not listed
}

// groupOps orders the first ops of each state by group (backlogOrder) and
// lays out their lines; counts are the ops in each state, listed or not.
func groupOps(byState map[localdb.OpState][]localdb.OutboxOp, counts map[localdb.OpState]int) ([]localdb.OutboxOp, backlogLayout) {
	lay := backlogLayout{counts: map[localdb.OpState]int{}, more: map[localdb.OpState]int{}}
	n := 0
	for _, group := range byState {
		n += len(group)
	}
	grouped := make([]localdb.OutboxOp, 0, n)
	for _, st := range backlogOrder {
		group := byState[st]
		if len(group) == 0 {
			continue // none left by the time its page was read
		}
		// The counts and the pages are separate reads: an op may have
		// moved between them; the next refresh sets it right.
		lay.counts[st] = max(counts[st], len(group))
		if len(lay.items) > 0 {
			lay.items = append(lay.items, backlogItem{kind: itemBlank})
		}
		lay.items = append(lay.items, backlogItem{kind: itemHeader, state: string(st)})
		for _, op := range group {
			i := int32(len(grouped)) // #nosec G115 -- at most maxPerGroup ops per state, far below 2^31
			grouped = append(grouped, op)
			lay.opLine = append(lay.opLine, len(lay.items))
			lay.items = append(lay.items, backlogItem{kind: itemOp, op: i})
			if op.State != localdb.OpPending && plainError(op) != "" {
				lay.items = append(lay.items, backlogItem{kind: itemError, op: i})
			}
		}
		if lay.counts[st] > len(group) {
			lay.more[st] = lay.counts[st] - len(group)
			lay.items = append(lay.items, backlogItem{kind: itemMore, state: string(st)})
		}
	}
	return grouped, lay
}

// ShortHelp lists the backlog's keys.
func (p *backlogPane) ShortHelp() []key.Binding {
	k := p.Keys
	return []key.Binding{k.RetryOne, k.RetryAll, k.Discard, k.Open}
}

// FullHelp lists every key of the backlog.
func (p *backlogPane) FullHelp() [][]key.Binding {
	k := p.Keys
	return [][]key.Binding{p.list.Bindings(), {k.RetryOne, k.RetryAll, k.Discard, k.Open}}
}
