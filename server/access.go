package server

import (
	"context"
	"errors"
	"fmt"

	"casefile/model"
	"casefile/server/store"
)

// Grant makes a user a member of a matter. The matter's records (tombstones
// included) take new change sequences so they reach the user's next pull;
// every member re-receives them, which costs one pull of the matter.
// Granting a membership that exists changes nothing.
func (s *Server) Grant(ctx context.Context, user, matterID string) error {
	err := s.st.Write(ctx, func(tx store.Tx) error {
		if err := s.checkAccessArgs(ctx, tx, user, matterID); err != nil {
			return err
		}
		added, err := tx.AddMember(ctx, user, matterID)
		if err != nil || !added {
			return err
		}
		seq, err := tx.NextSeq(ctx)
		if err != nil {
			return err
		}
		now := s.now()
		if err := tx.AddAccessEvent(ctx, store.AccessEvent{Seq: seq, User: user, MatterID: matterID, Kind: store.AccessGrant, At: now}); err != nil {
			return err
		}
		_, last, err := tx.BumpMatter(ctx, matterID)
		if err != nil {
			return err
		}
		tx.Notify(store.Hint{Seq: max(seq, last), MatterID: matterID, User: user})
		return s.audit(ctx, tx, &store.AuditEntry{Seq: seq, At: now, Actor: operator, Action: "grant", Target: user + "/" + matterID})
	})
	if err != nil {
		return fmt.Errorf("grant: %w", err)
	}
	return nil
}

// Revoke ends a user's membership of a matter; the user's next pull lists
// the matter in dropped_matters.
func (s *Server) Revoke(ctx context.Context, user, matterID string) error {
	err := s.st.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.User(ctx, user); err != nil {
			return err
		}
		if !model.ValidID(matterID) {
			return fmt.Errorf("%w: %q is not a matter id", ErrInvalid, matterID)
		}
		removed, err := tx.RemoveMember(ctx, user, matterID)
		if err != nil {
			return err
		}
		if !removed {
			return fmt.Errorf("%w: %s is not a member of matter %s", ErrInvalid, user, matterID)
		}
		seq, err := tx.NextSeq(ctx)
		if err != nil {
			return err
		}
		now := s.now()
		if err := tx.AddAccessEvent(ctx, store.AccessEvent{Seq: seq, User: user, MatterID: matterID, Kind: store.AccessRevoke, At: now}); err != nil {
			return err
		}
		tx.Notify(store.Hint{Seq: seq, User: user})
		return s.audit(ctx, tx, &store.AuditEntry{Seq: seq, At: now, Actor: operator, Action: "revoke", Target: user + "/" + matterID})
	})
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("revoke: %w: %s", ErrNoUser, user)
	}
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	return nil
}

func (s *Server) checkAccessArgs(ctx context.Context, tx store.Tx, user, matterID string) error {
	if _, err := tx.User(ctx, user); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrNoUser, user)
	} else if err != nil {
		return err
	}
	if !model.ValidID(matterID) {
		return fmt.Errorf("%w: %q is not a matter id", ErrInvalid, matterID)
	}
	m, err := tx.Record(ctx, matterID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && m.Collection != model.MatterCollection) {
		return fmt.Errorf("%w: %s", ErrNoMatter, matterID)
	}
	return err
}
