package ui

// Every database call of the UI is a tea.Cmd built here. Each builder takes
// what the query needs as arguments, so a Cmd never reads a model field
// while it runs on its own goroutine, and each result carries the request
// id it answers so the receiver can drop stale ones.

import (
	"context"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"casefile/localdb"
	"casefile/model"
)

// queryTimeout bounds one read; the local database answers in milliseconds
// unless something is badly wrong, and a stuck query must not pile up.
const queryTimeout = 10 * time.Second

type (
	statusMsg struct {
		id     int
		status localdb.Status
		err    error
	}
	countsMsg struct {
		id     int
		counts map[string]int
		err    error
	}
	windowMsg struct {
		id       int
		offset   int
		recs     []model.Record
		total    int
		hasTotal bool
		err      error
	}
	mattersMsg struct {
		id      int
		matters []model.Record
		err     error
	}
	detailMsg struct {
		id       int
		rec      model.Record
		journal  []localdb.JournalEntry
		conflict *model.Conflict
		err      error
	}
	conflictsMsg struct {
		id        int
		conflicts []model.Conflict
		err       error
	}
	outboxMsg struct {
		id     int
		ops    []localdb.OutboxOp // grouped by state
		layout backlogLayout
		titles map[string]string // record id → title
		err    error
	}
	journalMsg struct {
		id      int
		entries []localdb.JournalEntry
		titles  map[string]string // record id → title, of records still here
		err     error
	}
	dataVersionMsg struct {
		v   int64
		err error
	}
)

func loadStatus(db *localdb.DB, id int) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		st, err := db.Status(ctx)
		return statusMsg{id: id, status: st, err: err}
	}
}

// loadWindow reads one window of a list; with withTotal it also counts the
// whole list (needed when the filter or the data changed, not to scroll).
func loadWindow(db *localdb.DB, q localdb.ListQuery, withTotal bool, id int) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		msg := windowMsg{id: id, offset: q.Offset, hasTotal: withTotal}
		msg.recs, msg.err = db.List(ctx, q)
		if msg.err == nil && withTotal {
			cq := q
			cq.Offset, cq.Limit = 0, 0
			msg.total, msg.err = db.Count(ctx, cq)
		}
		return msg
	}
}

// maxMatters bounds the matters offered by the filter and the ref picker.
const maxMatters = 2000

func loadMatters(db *localdb.DB, id int) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		recs, err := db.List(ctx, localdb.ListQuery{Collection: model.MatterCollection, Limit: maxMatters})
		return mattersMsg{id: id, matters: recs, err: err}
	}
}

// historyLimit bounds the journal lines shown in a record's detail.
const historyLimit = 50

func loadDetail(db *localdb.DB, recordID string, id int) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		msg := detailMsg{id: id}
		msg.rec, msg.err = db.Get(ctx, recordID)
		if msg.err != nil {
			return msg
		}
		msg.journal, msg.err = db.Journal(ctx, localdb.JournalQuery{RecordID: recordID, Limit: historyLimit})
		if msg.err == nil && msg.rec.State == model.StateConflict {
			if c, err := db.Conflict(ctx, recordID); err == nil {
				msg.conflict = &c
			}
		}
		return msg
	}
}

func loadConflicts(db *localdb.DB, id int) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		cs, err := db.Conflicts(ctx)
		return conflictsMsg{id: id, conflicts: cs, err: err}
	}
}

// maxTitleLookups bounds the records read to title the backlog's ops.
const maxTitleLookups = 200

// loadOutbox reads how many ops wait in each state and the first
// maxPerGroup of each state in queue order, never the whole outbox: it may
// hold a hundred thousand imported records.
func loadOutbox(db *localdb.DB, schema *model.Schema, id int) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		counts, err := db.OutboxCounts(ctx)
		if err != nil {
			return outboxMsg{id: id, err: err}
		}
		groups := map[localdb.OpState][]localdb.OutboxOp{}
		var ops []localdb.OutboxOp
		for _, st := range backlogOrder {
			if counts[st] == 0 {
				continue
			}
			page, err := db.OutboxPage(ctx, st, 0, maxPerGroup)
			if err != nil {
				return outboxMsg{id: id, err: err}
			}
			groups[st] = page
			ops = append(ops, page...)
		}
		titles := map[string]string{}
		lookups := 0
		for _, op := range ops {
			if _, done := titles[op.RecordID]; done {
				continue
			}
			col, ok := schema.Collection(op.Collection)
			if !ok {
				continue
			}
			if op.Kind == model.OpCreate {
				titles[op.RecordID] = titleOf(col, op.RecordID, op.Fields)
				continue
			}
			if lookups >= maxTitleLookups {
				continue
			}
			lookups++
			if rec, err := db.Get(ctx, op.RecordID); err == nil {
				titles[op.RecordID] = rec.Title(col)
			}
		}
		for i := range ops {
			ops[i].Fields = nil // titled: the values are not shown
		}
		grouped, layout := groupOps(groups, counts)
		return outboxMsg{id: id, ops: grouped, layout: layout, titles: titles}
	}
}

// loadJournal reads the newest journal entries and the titles of the
// records they name (at most maxTitleLookups of them), so the feed says
// which record changed.
func loadJournal(db *localdb.DB, schema *model.Schema, limit, id int) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		es, err := db.Journal(ctx, localdb.JournalQuery{Limit: limit})
		if err != nil {
			return journalMsg{id: id, err: err}
		}
		titles := map[string]string{}
		for _, e := range es {
			if _, done := titles[e.RecordID]; done || e.RecordID == "" || len(titles) >= maxTitleLookups {
				continue
			}
			col, ok := schema.Collection(e.Collection)
			if !ok {
				continue
			}
			titles[e.RecordID] = ""
			if rec, err := db.Get(ctx, e.RecordID); err == nil {
				titles[e.RecordID] = rec.Title(col)
			} else if len(e.Before) > 0 || len(e.After) > 0 {
				// Gone since: its title as the journal last saw it.
				f := e.Before
				if len(e.After) > 0 {
					f = e.After
				}
				titles[e.RecordID] = titleOf(col, e.RecordID, f)
			}
		}
		return journalMsg{id: id, entries: es, titles: titles}
	}
}

func readDataVersion(db *localdb.DB) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		v, err := db.DataVersion(ctx)
		return dataVersionMsg{v: v, err: err}
	}
}

// titleOf is a record's title from its fields, or its id.
func titleOf(col *model.Collection, id string, f model.Fields) string {
	return model.Record{ID: id, Collection: col.Name, Fields: f}.Title(col)
}

// Writes. Each answers with the message of its outcome: one type per
// outcome, so the app and the panes match on types, not on words.
type (
	// savedMsg reports a record created or changed by the editor.
	savedMsg struct {
		rec model.Record
		err error
	}
	// deletedMsg reports a record deleted, held records with it (a
	// matter's).
	deletedMsg struct {
		rec  model.Record
		held int
		err  error
	}
	// resolvedMsg reports a conflict resolved.
	resolvedMsg struct {
		rec model.Record
		err error
	}
	// retriedMsg reports n failed or retrying ops sent back to the queue.
	retriedMsg struct {
		n   int
		err error
	}
	// discardedMsg reports a local change discarded.
	discardedMsg struct {
		n   int
		err error
	}
)

func createRecord(db *localdb.DB, collection string, fields model.Fields) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		rec, err := db.Create(ctx, collection, "", fields)
		return savedMsg{rec: rec, err: err}
	}
}

// updateRecordSeen saves a form's changes of a record; seen holds the
// values the person started from (localdb.UpdateSeen).
func updateRecordSeen(db *localdb.DB, id string, changes, seen model.Fields) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		rec, err := db.UpdateSeen(ctx, id, changes, seen)
		return savedMsg{rec: rec, err: err}
	}
}

func deleteRecord(db *localdb.DB, rec model.Record) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		err := db.Delete(ctx, rec.ID)
		return deletedMsg{rec: rec, err: err}
	}
}

// deleteMatterCascade deletes a matter with every record it holds.
func deleteMatterCascade(db *localdb.DB, rec model.Record) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		n, err := db.DeleteCascade(ctx, rec.ID)
		return deletedMsg{rec: rec, held: n, err: err}
	}
}

func resolveConflict(db *localdb.DB, recordID string, r model.Resolution) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		rec, err := db.Resolve(ctx, recordID, r)
		return resolvedMsg{rec: rec, err: err}
	}
}

func retryOp(db *localdb.DB, opID string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		return retriedMsg{n: 1, err: db.RetryOp(ctx, opID)}
	}
}

func retryAll(db *localdb.DB) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		n, err := db.RetryAll(ctx)
		return retriedMsg{n: n, err: err}
	}
}

// offlineSwitch applies the work offline switches in the order they were
// made: each runs in a command of its own, and two quick presses must not
// land the wrong way round, in the syncer or in the database.
type offlineSwitch struct {
	mu      sync.Mutex
	applied int // the last switch applied
}

// setWorkOffline applies switch seq: the syncer first (no traffic from
// now on, or a cycle at once), then the database, which remembers it for
// the next start.
func setWorkOffline(db *localdb.DB, s Syncer, sw *offlineSwitch, seq int, on bool) tea.Cmd {
	return func() tea.Msg {
		sw.mu.Lock()
		defer sw.mu.Unlock()
		if seq < sw.applied {
			return nil // a later switch is already in place
		}
		sw.applied = seq
		s.SetWorkOffline(on)
		if !on {
			s.SyncNow()
		}
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		if err := db.SetWorkOffline(ctx, on); err != nil {
			return noticeMsg{text: "This computer could not remember the switch for its next start: " + err.Error() + ".", level: levelWarn}
		}
		return nil
	}
}

func discardOp(db *localdb.DB, opID string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		return discardedMsg{n: 1, err: db.DiscardOp(ctx, opID)}
	}
}
