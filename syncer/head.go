package syncer

import "fmt"

// learnHead stores the highest head heard of before ops are taken for
// sending: each op's first attempt carries it (sent_since), so that a
// resend after a lost request is not refused as outcome_unknown for
// being sent from cursor 0. A device that has never heard of a head —
// a new one about to push before its first pull — asks /healthz first.
func (r *run) learnHead() error {
	head := r.s.serverHead()
	if head == 0 {
		st, err := r.s.db.Status(r.ctx)
		if err != nil {
			return fmt.Errorf("read status: %w", err)
		}
		v, err := r.s.db.Meta(r.ctx, MetaServerHead)
		if err != nil {
			return err
		}
		if v != "" || st.OutboxOps == 0 {
			return nil
		}
		r.begin()
		if head, err = r.c.Health(r.nctx); err != nil {
			return err
		}
		r.s.noteHead(head)
	}
	if err := r.s.db.NoteHead(r.ctx, head); err != nil {
		return fmt.Errorf("record server head: %w", err)
	}
	return nil
}

func (s *Syncer) noteHead(head int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.head = max(s.head, head)
}

func (s *Syncer) notePulled(cursor, head int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pulled = cursor
	s.head = max(s.head, head)
}

func (s *Syncer) serverHead() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.head
}

// Head returns the highest server change sequence this syncer has heard of.
func (s *Syncer) Head() int64 { return s.serverHead() }
