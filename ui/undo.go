package ui

import (
	"context"
	"errors"

	tea "charm.land/bubbletea/v2"

	"casefile/localdb"
)

// undoneMsg reports what an undo took back.
type undoneMsg struct {
	u   localdb.Undone
	err error
}

// undoLast takes back the last change made on this device.
func undoLast(db *localdb.DB) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		u, err := db.Undo(ctx)
		return undoneMsg{u: u, err: err}
	}
}

// undone shows what an undo did, and reports whether it wrote anything.
func (m *Model) undone(msg undoneMsg) bool {
	switch {
	case errors.Is(msg.err, localdb.ErrNothingToUndo):
		m.setNotice("Nothing to undo: every change made on this device has been taken back.", levelInfo)
		return false
	case errors.Is(msg.err, localdb.ErrInConflict):
		m.setNotice("Nothing was undone: the record has a conflict waiting for review; resolve it first.", levelError)
		return false
	case msg.err != nil:
		m.setNotice(errMessage("undone", msg.err), levelError)
		return false
	}
	if m.detail != nil && m.detail.id == msg.u.Record.ID && msg.u.Action == localdb.UndoDeleted {
		m.detail = nil
	}
	text := msg.u.Sentence(m.sh.Schema)
	if msg.u.Action != localdb.UndoNothing {
		text += " " + m.savedSentence()
	}
	m.setNotice(text, levelOK)
	return true
}
