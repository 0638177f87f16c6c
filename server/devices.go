package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"casefile/server/store"
)

// seenEvery is how stale a device's last-seen time may get: a request
// writes it at most this often per token, so that requests do not each
// write.
const seenEvery = time.Minute

// errRevokedDevice says a token belongs to a device revoked after it was
// given; requests with it get errDeviceRevoked.
var errRevokedDevice = errors.New("the token's device is revoked")

// ErrNoDevice: the user has no device of that name: never signed in from
// it, or it was forgotten by compaction (no token left, not seen for the
// retention, never revoked), and has nothing a revocation could refuse.
var ErrNoDevice = errors.New("no such device")

// revokedToken reports whether t was given to its device before the
// device was revoked: such a token never works again.
func revokedToken(t store.Token) bool {
	return !t.RevokedAt.IsZero() && !t.CreatedAt.After(t.RevokedAt)
}

// seenCache remembers when each token last wrote its device's last-seen time.
type seenCache struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// due reports whether the token's device should be noted as seen now,
// and if so counts it as noted.
func (c *seenCache) due(hash string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		c.last = make(map[string]time.Time)
	}
	if now.Sub(c.last[hash]) < seenEvery {
		return false
	}
	// Forget old entries now and then so the map does not grow for ever.
	if len(c.last) > maxSeenEntries {
		for h, at := range c.last {
			if now.Sub(at) >= seenEvery {
				delete(c.last, h)
			}
		}
	}
	c.last[hash] = now
	return true
}

// maxSeenEntries bounds the tokens remembered before old ones are swept.
const maxSeenEntries = 10000

// noteSeen writes the device's last-seen time, at most once a minute per
// token. A failure is logged, never the request's.
func (s *Server) noteSeen(ctx context.Context, p *principal) {
	now := s.now()
	if !s.seen.due(p.tokenHash, now) {
		return
	}
	if err := s.st.TouchDevice(ctx, p.user, p.device, now); err != nil {
		s.log.Warn("note device seen", "user", p.user, "device", p.device, "err", err)
	}
}

// Devices lists the devices a user has signed in from, with when each was
// last seen and whether it is revoked.
func (s *Server) Devices(ctx context.Context, user string) ([]store.Device, error) {
	var out []store.Device
	err := s.st.Read(ctx, func(rd store.Reader) error {
		if _, err := rd.User(ctx, user); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no user %q", user)
			}
			return err
		}
		var err error
		out, err = rd.Devices(ctx, user)
		return err
	})
	return out, err
}

// RevokeDevice revokes a user's device (lost, stolen): every token it holds
// now is refused for good with device_revoked, which tells the device to
// delete its copy of the server's data. The owner can sign in again from a
// new device (or the same name, with the password).
func (s *Server) RevokeDevice(ctx context.Context, user, device string) error {
	by := operator
	now := s.now()
	return s.st.Write(ctx, func(tx store.Tx) error {
		ok, err := tx.RevokeDevice(ctx, user, device, now, by)
		if err != nil {
			return err
		}
		if !ok {
			if _, err := tx.User(ctx, user); errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%w: %s", ErrNoUser, user)
			}
			return fmt.Errorf("user %q has no device %q: %w", user, device, ErrNoDevice)
		}
		return s.audit(ctx, tx, &store.AuditEntry{At: now, Actor: by, Action: "revoke_device", Target: user + "/" + device})
	})
}
