package storemove

import (
	"context"
	"fmt"
	"slices"
	"time"

	"casefile/server/store"
)

// verify reads the target back inside the move's transaction: every
// table's rows against the source's count, the single rows against the
// values set, and the audit chain from its first row to the tail the head
// holds. Only then does the move commit.
func (m *mover) verify(ctx context.Context) error {
	names := make([]string, 0, len(m.want))
	for name := range m.want {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		got, err := count(ctx, m.tx, name)
		if err != nil {
			return err
		}
		if got != m.want[name] {
			return fmt.Errorf("table %s holds %d rows, the source %d", name, got, m.want[name])
		}
	}
	for name, want := range m.one {
		got := make([]any, len(want.cols))
		ptrs := make([]any, len(got))
		for i := range got {
			ptrs[i] = &got[i]
		}
		if err := m.tx.QueryRowContext(ctx, `SELECT `+columnList(want.cols)+` FROM `+quote(name)).Scan(ptrs...); err != nil {
			return fmt.Errorf("read the target's %s: %w", name, err)
		}
		for i, col := range want.cols {
			if fmt.Sprint(got[i]) != fmt.Sprint(want.vals[i]) {
				return fmt.Errorf("%s.%s is %v, the source's %v", name, col, got[i], want.vals[i])
			}
		}
	}
	h := &m.res.Head
	if err := m.tx.QueryRowContext(ctx, `SELECT h.seq, h.compacted_through, h.ledger_through, h.audit_n, h.audit_hash, g.n
		FROM head h, access_gen g WHERE h.id = 1 AND g.id = 1`).Scan(&h.Seq, &h.CompactedThrough, &h.LedgerThrough, &h.AuditRows, &h.AuditHash, &h.AccessGen); err != nil {
		return fmt.Errorf("read the target's head: %w", err)
	}
	return m.verifyAudit(ctx)
}

// verifyAudit walks the target's audit chain: each row's number follows
// the one before, links to its hash and hashes to its own, and the last is
// the tail the head recorded.
func (m *mover) verifyAudit(ctx context.Context) error {
	rows, err := m.tx.QueryContext(ctx, `SELECT id, seq, at, actor, device, action, target, before_digest, after_digest, prev_hash, hash
		FROM audit ORDER BY id`)
	if err != nil {
		return fmt.Errorf("read the target's audit log: %w", err)
	}
	defer rows.Close()
	prev, last := "", int64(0)
	for rows.Next() {
		var e store.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &e.Seq, &at, &e.Actor, &e.Device, &e.Action, &e.Target, &e.Before, &e.After, &e.PrevHash, &e.Hash); err != nil {
			return fmt.Errorf("read the target's audit log: %w", err)
		}
		e.At = time.UnixMicro(at).UTC()
		switch {
		case e.ID != last+1:
			return fmt.Errorf("the audit log lacks row %d", last+1)
		case e.PrevHash != prev:
			return fmt.Errorf("audit row %d does not link to the row before it", e.ID)
		case e.ComputeHash() != e.Hash:
			return fmt.Errorf("audit row %d does not match its hash", e.ID)
		}
		prev, last = e.Hash, e.ID
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the target's audit log: %w", err)
	}
	if last != m.res.Head.AuditRows || prev != m.res.Head.AuditHash {
		return fmt.Errorf("the audit log ends at row %d, the head names row %d", last, m.res.Head.AuditRows)
	}
	return nil
}
