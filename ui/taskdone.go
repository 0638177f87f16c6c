package ui

import (
	"context"
	"fmt"

	tea "charm.land/bubbletea/v2"

	"casefile/localdb"
	"casefile/model"
)

// taskDoneMsg reports a task marked done or not done.
type taskDoneMsg struct {
	rec  model.Record
	done bool
	err  error
}

// selecting is a pane with a record under its cursor: a list, the hub,
// the agenda, a record's detail.
type selecting interface {
	selected() (model.Record, bool)
}

// selected is the record the detail shows.
func (p *detailPane) selected() (model.Record, bool) {
	return p.rec, p.loaded && !p.gone && !p.rec.Deleted
}

// selectedTask is the task under the cursor of the pane shown, if any.
func (m *Model) selectedTask() (model.Record, bool) {
	sel, ok := m.shown().(selecting)
	if !ok {
		return model.Record{}, false
	}
	rec, ok := sel.selected()
	if !ok || rec.Collection != model.TaskCollection || rec.Deleted {
		return model.Record{}, false
	}
	return rec, true
}

// markDone marks the task under the cursor done, or not done again if it
// was: an ordinary local edit, queued and journaled like any other.
func (m *Model) markDone() tea.Cmd {
	rec, ok := m.selectedTask()
	if !ok {
		return nil
	}
	return toggleDone(m.sh.DB, rec.ID)
}

// toggleDone flips a task's done field as the database holds it now, not
// as the screen last showed it.
func toggleDone(db *localdb.DB, id string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		cur, err := db.Get(ctx, id)
		if err != nil {
			return taskDoneMsg{rec: cur, err: err}
		}
		done, _ := cur.Fields[model.TaskDone].(bool)
		rec, err := db.Update(ctx, id, model.Fields{model.TaskDone: !done})
		if err != nil {
			rec = cur
		}
		return taskDoneMsg{rec: rec, done: !done, err: err}
	}
}

// taskDone is the app's part once a task was marked: the status line,
// the syncer and a refresh of what every pane shows.
func (m *Model) taskDone(msg taskDoneMsg) tea.Cmd {
	if msg.err != nil {
		m.setNotice(errMessage("marked", msg.err), levelError)
		return nil
	}
	col, _ := m.sh.Schema.Collection(model.TaskCollection)
	word := "done"
	if !msg.done {
		word = "not done"
	}
	m.setNotice(fmt.Sprintf("Marked “%s” %s. %s", safeLine(msg.rec.Title(col)), word, m.savedSentence()), levelOK)
	return tea.Batch(m.nudge(), m.refreshAll())
}
