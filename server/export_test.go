package server

import (
	"context"
	"slices"

	"casefile/server/store"
)

// HoldPasswordChecks takes every password-check slot, as a burst of slow
// logins would, until the returned function is called.
func (s *Server) HoldPasswordChecks() (release func()) {
	n := cap(s.logins.slots)
	for range n {
		s.logins.slots <- struct{}{}
	}
	return func() {
		for range n {
			<-s.logins.slots
		}
	}
}

// Audit returns audit rows after afterID, at most limit.
func (s *Server) Audit(ctx context.Context, afterID int64, limit int) ([]store.AuditEntry, error) {
	var out []store.AuditEntry
	err := s.st.Read(ctx, func(r store.Reader) (err error) {
		out, err = r.Audit(ctx, afterID, limit)
		return err
	})
	return out, err
}

// PendingPushes is how many push batches wait for a group transaction.
func (s *Server) PendingPushes() int {
	s.group.mu.Lock()
	defer s.group.mu.Unlock()
	return len(s.group.pending)
}

// HandLateHint hands the streams a hint for a change committed earlier, as
// the hub's dispatcher does when it runs behind the commits.
func (s *Server) HandLateHint(seq int64, matterID string) {
	s.hub.hand(store.Hint{Seq: seq, MatterID: matterID})
}

// HubSees says which matters the hub holds a user to see, and whether it
// knows (a user it does not know is handed every hint).
func (s *Server) HubSees(user string) (matters []string, known bool) {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	u := s.hub.users[user]
	if u == nil || u.sees == nil {
		return nil, false
	}
	for m := range u.sees.matters {
		matters = append(matters, m)
	}
	slices.Sort(matters)
	return matters, true
}
