package sqlstore

import (
	"context"
	"fmt"
	"time"

	"casefile/server/store"
)

func (t *txn) AppendAudit(ctx context.Context, e *store.AuditEntry) error {
	// The chain's tail lives in the head row, which every writer has locked,
	// so rows are numbered and chained in commit order. The row takes the
	// new tail with the transaction's other head changes (headCache).
	h, err := t.cachedHead(ctx)
	if err != nil {
		return fmt.Errorf("audit tail: %w", err)
	}
	e.ID, e.PrevHash = h.auditN+1, h.auditHash
	e.At = e.At.UTC().Truncate(time.Microsecond)
	e.Hash = e.ComputeHash()
	t.pending.audit = append(t.pending.audit, *e)
	h.auditN, h.auditHash, h.dirty = e.ID, e.Hash, true
	return nil
}

func (t *txn) Audit(ctx context.Context, afterID int64, limit int) ([]store.AuditEntry, error) {
	if err := t.flushRows(ctx); err != nil {
		return nil, err
	}
	rows, err := t.q.QueryContext(ctx, `SELECT id, seq, at, actor, device, action, target, before_digest, after_digest, prev_hash, hash
		FROM audit WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", t.mapErr(err))
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &e.Seq, &at, &e.Actor, &e.Device, &e.Action, &e.Target, &e.Before, &e.After, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("read audit: %w", err)
		}
		e.At = fromMicro(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit: %w", t.mapErr(err))
	}
	return out, nil
}

func (t *txn) Compact(ctx context.Context, before time.Time) (store.CompactStats, error) {
	if err := t.flush(ctx); err != nil {
		return store.CompactStats{}, err
	}
	var st store.CompactStats
	cut := before.UnixMicro()
	mark := func(what string, n *int64, count, del string) error {
		var top int64
		if err := t.q.QueryRow(ctx, count, cut).Scan(n, &top); err != nil {
			return fmt.Errorf("compact %s: %w", what, t.mapErr(err))
		}
		if *n == 0 {
			return nil
		}
		if _, err := t.q.ExecContext(ctx, del, cut); err != nil {
			return fmt.Errorf("compact %s: %w", what, t.mapErr(err))
		}
		st.CompactedThrough = max(st.CompactedThrough, top)
		return nil
	}
	// What a restore must know of a tombstone outlives it: the matter it
	// was in (whose members must hear that it left, if it comes back
	// elsewhere, and only who may see it may bring it back).
	if _, err := t.q.ExecContext(ctx, `INSERT INTO graves (id, collection, matter_id, version)
		SELECT id, collection, matter_id, version FROM records WHERE deleted AND updated_at < $1
		ON CONFLICT (id) DO UPDATE SET collection = excluded.collection, matter_id = excluded.matter_id, version = excluded.version`, cut); err != nil {
		return st, fmt.Errorf("compact tombstones: keep their graves: %w", t.mapErr(err))
	}
	t.pending.graves = nil // what was read of graves before may be older
	// A tombstone marks by the seq of its deletion (changed_seq), not by a
	// seq a grant gave it since to send it again: every device whose
	// cursor is younger than the retention has pulled the deletion, and
	// must not be sent back to a full resync for a tombstone a grant made
	// look new.
	if err := mark("tombstones", &st.Tombstones,
		`SELECT COUNT(*), COALESCE(MAX(changed_seq), 0) FROM records WHERE deleted AND updated_at < $1`,
		`DELETE FROM records WHERE deleted AND updated_at < $1`); err != nil {
		return st, err
	}
	if err := mark("moves", &st.Moves,
		`SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM moves WHERE at < $1`,
		`DELETE FROM moves WHERE at < $1`); err != nil {
		return st, err
	}
	if err := mark("access events", &st.AccessEvents,
		`SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM access_events WHERE at < $1`,
		`DELETE FROM access_events WHERE at < $1`); err != nil {
		return st, err
	}
	// The ledger goes by sequence, not time: what the push handler needs
	// is a sequence below which an answer may be missing, and answers are
	// not stored in strict time order across transactions.
	var old, top int64
	if err := t.q.QueryRow(ctx, `SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM ledger WHERE at < $1`, cut).Scan(&old, &top); err != nil {
		return st, fmt.Errorf("compact ledger: %w", t.mapErr(err))
	}
	h, err := t.Head(ctx)
	if err != nil {
		return st, err
	}
	st.LedgerThrough = h.LedgerThrough
	if old > 0 {
		st.LedgerThrough = max(top+1, h.LedgerThrough)
		res, err := t.q.ExecContext(ctx, `DELETE FROM ledger WHERE seq <= $1`, top)
		if err != nil {
			return st, fmt.Errorf("compact ledger: %w", t.mapErr(err))
		}
		if st.LedgerEntries, err = res.RowsAffected(); err != nil {
			return st, fmt.Errorf("compact ledger: %w", err)
		}
	}
	st.CompactedThrough = max(st.CompactedThrough, h.CompactedThrough)
	if st.CompactedThrough == h.CompactedThrough && st.LedgerThrough == h.LedgerThrough {
		return st, nil
	}
	if _, err := t.q.ExecContext(ctx, `UPDATE head SET compacted_through = $1, ledger_through = $2 WHERE id = 1`,
		st.CompactedThrough, st.LedgerThrough); err != nil {
		return st, fmt.Errorf("compact mark: %w", t.mapErr(err))
	}
	if c := t.head; c != nil {
		c.compactedThrough, c.ledgerThrough = st.CompactedThrough, st.LedgerThrough
	}
	return st, nil
}

func (t *txn) HasAudit(ctx context.Context, e store.AuditEntry) (bool, error) {
	if err := t.flushRows(ctx); err != nil {
		return false, err
	}
	var n int64
	err := t.q.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM audit
		WHERE target = $1 AND action = $2 AND at = $3 AND actor = $4 AND device = $5 AND after_digest = $6 LIMIT 1) AS found`,
		e.Target, e.Action, e.At.UnixMicro(), e.Actor, e.Device, e.After).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look for an audit row: %w", t.mapErr(err))
	}
	return n > 0, nil
}

func (t *txn) AuditedVersion(ctx context.Context, collection, id string) (int64, error) {
	if err := t.flushRows(ctx); err != nil {
		return 0, err
	}
	target := collection + "/" + id
	var n int64
	err := t.q.QueryRow(ctx, `SELECT COUNT(*) FROM audit
		WHERE target = $1 AND action IN ('create', 'update', 'delete', 'restore')
		AND id >= COALESCE((SELECT MAX(id) FROM audit WHERE target = $1 AND action = 'create'), -1)
		AND EXISTS (SELECT 1 FROM audit WHERE target = $1 AND action = 'create')`, target).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("read a record's audited version: %w", t.mapErr(err))
	}
	return n, nil
}

func (t *txn) Grave(ctx context.Context, id string) (store.Grave, error) {
	if g, ok := t.pending.graves[id]; ok {
		if g.ID == "" {
			return store.Grave{}, fmt.Errorf("read a grave: %w", store.ErrNotFound)
		}
		return g, nil
	}
	g := store.Grave{ID: id}
	err := t.q.QueryRow(ctx, `SELECT collection, matter_id, version FROM graves WHERE id = $1`, id).Scan(&g.Collection, &g.MatterID, &g.Version)
	if err != nil {
		return store.Grave{}, fmt.Errorf("read a grave: %w", t.mapErr(err))
	}
	return g, nil
}
