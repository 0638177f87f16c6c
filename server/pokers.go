package server

import (
	"context"
	"errors"

	"casefile/protocol"
	"casefile/server/store"
)

// Pokers: how many, and how many streams one checks in a read.
const (
	pokers         = 2
	maxPokeStreams = 256
)

// pokeLoop checks and pokes streams with hints until ctx ends (see
// subscriber). A batch of streams is checked in one read: who holds each
// token, and whether each hint's matter is one its user sees.
func (s *Server) pokeLoop(ctx context.Context) {
	defer s.hub.stopPokers(ctx)()
	for {
		subs := s.hub.takeDue(ctx, maxPokeStreams)
		if subs == nil {
			return
		}
		s.pokeStreams(ctx, subs)
	}
}

// pokeCheck is one stream's part of a batch.
type pokeCheck struct {
	sub   *subscriber
	hints []store.Hint
	lost  bool
	last  int64
	now   *principal // the token's holder, read for this batch
	news  int64      // the seq to poke with, 0 for none
	err   error
}

func (s *Server) pokeStreams(ctx context.Context, subs []*subscriber) {
	checks := make([]pokeCheck, 0, len(subs))
	for _, sub := range subs {
		hints, lost := sub.take()
		sub.wmu.Lock()
		state, last := sub.state, sub.last
		if state == streamNew {
			// Not greeted yet: its goroutine hands it on once it is.
			sub.putBack(hints, lost)
		}
		sub.wmu.Unlock()
		if state != streamOpen {
			continue
		}
		kept := hints[:0]
		for _, h := range hints {
			if h.Seq > last {
				kept = append(kept, h)
			}
		}
		if len(kept) > 0 || lost {
			checks = append(checks, pokeCheck{sub: sub, hints: kept, lost: lost, last: last})
		}
	}
	if len(checks) == 0 {
		return
	}
	type access struct {
		gen     uint64
		role    protocol.Role
		matters []string
	}
	at := s.now()
	due := map[string]*access{} // users asked about: nil when the hub's set of their matters is fresh
	err := s.reads.readLater(ctx, func(ctx context.Context, rd store.Reader) error {
		type tokenHolder struct {
			now *principal
			err error
		}
		holders := map[string]tokenHolder{} // token → its holder or why none
		// Who holds each token first, then every membership the hints
		// ask about at once: one by one, a batch of streams whose memo
		// was cold took a round trip each (12,000 of them when 10,000
		// streams were first poked on PostgreSQL).
		var users, matters []string
		asked := map[memberKey]bool{}
		for i := range checks {
			c := &checks[i]
			h, ok := holders[c.sub.token]
			if !ok {
				h.now, h.err = s.principalOf(ctx, rd, c.sub.token)
				holders[c.sub.token] = h
			}
			if c.now, c.err = h.now, h.err; c.err != nil || c.now.admin() {
				continue
			}
			for _, hint := range c.hints {
				k := memberKey{c.now.user, hint.MatterID}
				if hint.MatterID != "" && hint.User != c.now.user && !asked[k] {
					asked[k] = true
					users, matters = append(users, k.user), append(matters, k.matter)
				}
			}
		}
		if len(users) > 0 {
			if err := rd.PreloadMembers(ctx, users, matters); err != nil {
				return err
			}
		}
		sees := map[memberKey]bool{}
		var head int64
		for i := range checks {
			c := &checks[i]
			if c.err != nil {
				continue
			}
			for _, hint := range c.hints {
				if hint.MatterID != "" && hint.User != c.now.user {
					k := memberKey{c.now.user, hint.MatterID}
					if _, known := sees[k]; !known {
						if sees[k], c.err = s.visible(ctx, rd, c.now, hint.MatterID); c.err != nil {
							break
						}
					}
				}
				if isNews(hint, c.now, sees) {
					c.news = max(c.news, hint.Seq)
				}
			}
			if c.err == nil && c.lost {
				if head == 0 {
					hd, err := rd.Head(ctx)
					if err != nil {
						c.err = err
						continue
					}
					head = hd.Seq
				}
				if head > c.last {
					c.news = max(c.news, head)
				}
			}
			if user := c.now.user; c.now.role != protocol.RoleAdmin {
				if _, asked := due[user]; !asked {
					due[user] = nil
					if gen, ok := s.hub.accessDue(user, at, s.opts.Heartbeat); ok {
						a := &access{gen: gen, role: c.now.role}
						if a.matters, c.err = rd.MattersOf(ctx, user); c.err == nil {
							due[user] = a
						}
					}
				}
			}
		}
		return ctx.Err()
	})
	for user, a := range due {
		if a != nil {
			s.hub.setAccess(user, a.gen, a.role, a.matters, at)
		}
	}
	for i := range checks {
		c := &checks[i]
		if err != nil && c.err == nil {
			c.err = err
		}
		c.sub.wmu.Lock()
		if c.sub.state == streamOpen {
			switch {
			case c.sub.endFor(c.err):
			case c.err != nil:
			case c.news > c.sub.last && !c.sub.poke(c.news, false):
				c.sub.drop()
			default:
				c.sub.p = c.now
			}
		}
		c.sub.wmu.Unlock()
		if c.err != nil && !errors.Is(c.err, store.ErrNotFound) && !errors.Is(c.err, errRevokedDevice) && ctx.Err() == nil {
			s.log.Warn("event stream check failed", "user", c.sub.user, "err", c.err)
		}
	}
}

// isNews says whether a hint is news for p, given the batch's answers to
// which matters users see.
func isNews(h store.Hint, p *principal, sees map[memberKey]bool) bool {
	switch {
	case h.User == p.user, h.User == "" && h.MatterID == "":
		return true
	case h.MatterID != "":
		return sees[memberKey{p.user, h.MatterID}]
	}
	return false
}
