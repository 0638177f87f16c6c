package sqlstore

import (
	"context"
	"fmt"
	"time"

	"casefile/server/store"
)

func (t *txn) User(ctx context.Context, name string) (store.User, error) {
	u := store.User{Name: name}
	var created int64
	err := t.q.QueryRow(ctx, `SELECT role, password_hash, created_at FROM users WHERE name = $1`, name).
		Scan(&u.Role, &u.PasswordHash, &created)
	if err != nil {
		return u, fmt.Errorf("read user: %w", t.mapErr(err))
	}
	u.CreatedAt = fromMicro(created)
	return u, nil
}

func (t *txn) Users(ctx context.Context) ([]store.User, error) {
	rows, err := t.q.QueryContext(ctx, `SELECT name, role, password_hash, created_at FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read users: %w", t.mapErr(err))
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		var u store.User
		var created int64
		if err := rows.Scan(&u.Name, &u.Role, &u.PasswordHash, &created); err != nil {
			return nil, fmt.Errorf("read users: %w", err)
		}
		u.CreatedAt = fromMicro(created)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read users: %w", t.mapErr(err))
	}
	return out, nil
}

func (t *txn) AddUser(ctx context.Context, u store.User) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO users (name, role, password_hash, created_at) VALUES ($1, $2, $3, $4)`,
		u.Name, u.Role, u.PasswordHash, u.CreatedAt.UnixMicro())
	if err != nil {
		return fmt.Errorf("add user: %w", t.mapErr(err))
	}
	return nil
}

func (t *txn) Token(ctx context.Context, hash string) (store.Token, error) {
	tok := store.Token{Hash: hash}
	var created, expires, revoked int64
	err := t.q.QueryRow(ctx, `SELECT t.user_name, t.device, t.created_at, t.expires_at, COALESCE(d.revoked_at, 0)
		FROM tokens t LEFT JOIN devices d ON d.user_name = t.user_name AND d.device = t.device WHERE t.hash = $1`, hash).
		Scan(&tok.User, &tok.Device, &created, &expires, &revoked)
	if err != nil {
		return tok, fmt.Errorf("read token: %w", t.mapErr(err))
	}
	tok.CreatedAt, tok.ExpiresAt = fromMicro(created), fromMicro(expires)
	if revoked != 0 {
		tok.RevokedAt = fromMicro(revoked)
	}
	return tok, nil
}

func (t *txn) Holder(ctx context.Context, hash string) (store.Token, store.User, error) {
	tok := store.Token{Hash: hash}
	var u store.User
	var created, expires, revoked, userCreated int64
	err := t.q.QueryRow(ctx, `SELECT t.user_name, t.device, t.created_at, t.expires_at, COALESCE(d.revoked_at, 0),
			u.role, u.password_hash, u.created_at
		FROM tokens t JOIN users u ON u.name = t.user_name
		LEFT JOIN devices d ON d.user_name = t.user_name AND d.device = t.device WHERE t.hash = $1`, hash).
		Scan(&tok.User, &tok.Device, &created, &expires, &revoked, &u.Role, &u.PasswordHash, &userCreated)
	if err != nil {
		return tok, u, fmt.Errorf("read token holder: %w", t.mapErr(err))
	}
	tok.CreatedAt, tok.ExpiresAt = fromMicro(created), fromMicro(expires)
	if revoked != 0 {
		tok.RevokedAt = fromMicro(revoked)
	}
	u.Name, u.CreatedAt = tok.User, fromMicro(userCreated)
	return tok, u, nil
}

func (t *txn) Devices(ctx context.Context, user string) ([]store.Device, error) {
	rows, err := t.q.QueryContext(ctx, `SELECT device, first_seen, last_seen, revoked_at, revoked_by
		FROM devices WHERE user_name = $1 ORDER BY device`, user)
	if err != nil {
		return nil, fmt.Errorf("read devices: %w", t.mapErr(err))
	}
	defer rows.Close()
	var out []store.Device
	for rows.Next() {
		d := store.Device{User: user}
		var first, last, revoked int64
		if err := rows.Scan(&d.Name, &first, &last, &revoked, &d.RevokedBy); err != nil {
			return nil, fmt.Errorf("read devices: %w", err)
		}
		d.FirstSeen, d.LastSeen = fromMicro(first), fromMicro(last)
		if revoked != 0 {
			d.RevokedAt = fromMicro(revoked)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read devices: %w", t.mapErr(err))
	}
	return out, nil
}

// touchDevice adds a device or moves its last-seen time forward, never
// back.
const touchDevice = `INSERT INTO devices (user_name, device, first_seen, last_seen) VALUES ($1, $2, $3, $3)
	ON CONFLICT (user_name, device) DO UPDATE SET last_seen = excluded.last_seen WHERE devices.last_seen < excluded.last_seen`

func (t *txn) TouchDevice(ctx context.Context, user, device string, at time.Time) error {
	if _, err := t.q.ExecContext(ctx, touchDevice, user, device, at.UnixMicro()); err != nil {
		return fmt.Errorf("note device: %w", t.mapErr(err))
	}
	return nil
}

// TouchDevice is one statement on the writer pool, outside any write
// transaction; see store.Store. With PostgreSQL the row's own lock orders
// it against a revocation of the device, which sets other columns.
func (db *DB) TouchDevice(ctx context.Context, user, device string, at time.Time) error {
	_, err := db.w.ExecContext(ctx, touchDevice, user, device, at.UnixMicro())
	if err != nil && db.d.connLost(ctx, err) {
		// A pooled connection found dead: the note is one statement
		// that may run twice (a later time only moves last_seen on), so
		// it goes again, once, on another connection.
		_, err = db.w.ExecContext(ctx, touchDevice, user, device, at.UnixMicro())
	}
	if err != nil {
		return fmt.Errorf("note device: %w", db.mapErr(err))
	}
	return nil
}

func (t *txn) RevokeDevice(ctx context.Context, user, device string, at time.Time, by string) (bool, error) {
	res, err := t.q.ExecContext(ctx, `UPDATE devices SET revoked_at = $1, revoked_by = $2 WHERE user_name = $3 AND device = $4`,
		at.UnixMicro(), by, user, device)
	if err != nil {
		return false, fmt.Errorf("revoke device: %w", t.mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("revoke device: %w", err)
	}
	return n > 0, nil
}

func (t *txn) PutToken(ctx context.Context, tok store.Token) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO tokens (hash, user_name, device, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		tok.Hash, tok.User, tok.Device, tok.CreatedAt.UnixMicro(), tok.ExpiresAt.UnixMicro())
	if err != nil {
		return fmt.Errorf("write token: %w", t.mapErr(err))
	}
	return nil
}

func (t *txn) DeleteTokens(ctx context.Context, user, device string) (int64, error) {
	q, args := `DELETE FROM tokens WHERE user_name = $1`, []any{user}
	if device != "" {
		q, args = q+` AND device = $2`, append(args, device)
	}
	res, err := t.q.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("delete tokens: %w", t.mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete tokens: %w", err)
	}
	return n, nil
}

func (t *txn) PruneLogins(ctx context.Context, now, idleBefore time.Time) (tokens, devices int64, err error) {
	// An expired token answers nothing a missing one would not, but for
	// one whose device was revoked after it was given: that one is kept,
	// so that a lost laptop coming back after its login expired is told
	// it was revoked, and wipes itself, instead of being asked to sign in
	// again with its copy left whole.
	res, err := t.q.ExecContext(ctx, `DELETE FROM tokens WHERE expires_at <= $1
		AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.user_name = tokens.user_name AND d.device = tokens.device
			AND d.revoked_at <> 0 AND tokens.created_at <= d.revoked_at)`, now.UnixMicro())
	if err != nil {
		return 0, 0, fmt.Errorf("prune tokens: %w", t.mapErr(err))
	}
	if tokens, err = res.RowsAffected(); err != nil {
		return 0, 0, fmt.Errorf("prune tokens: %w", err)
	}
	res, err = t.q.ExecContext(ctx, `DELETE FROM devices WHERE revoked_at = 0 AND last_seen < $1
		AND NOT EXISTS (SELECT 1 FROM tokens WHERE tokens.user_name = devices.user_name AND tokens.device = devices.device)`,
		idleBefore.UnixMicro())
	if err != nil {
		return 0, 0, fmt.Errorf("prune devices: %w", t.mapErr(err))
	}
	if devices, err = res.RowsAffected(); err != nil {
		return 0, 0, fmt.Errorf("prune devices: %w", err)
	}
	return tokens, devices, nil
}

func (t *txn) AccessGen(ctx context.Context) (int64, error) {
	var n int64
	// Before a snapshot has begun, the generation is read on its own: the
	// snapshot, if one follows, is then at least as new as the
	// generation, so what is read in it and remembered under this
	// generation is never older than the generation says.
	const query = `SELECT n FROM access_gen WHERE id = 1`
	q := t.q
	if l, ok := q.(*lazySnapshot); ok && !l.begun() {
		q = direct{l.db}
		err := q.QueryRow(ctx, query).Scan(&n)
		// A statement read alone changes nothing: on a pooled
		// connection found dead, it is read again, once, on another.
		if err != nil && t.d.connLost(ctx, err) {
			err = q.QueryRow(ctx, query).Scan(&n)
		}
		if err != nil {
			return 0, fmt.Errorf("read access generation: %w", t.mapErr(err))
		}
		return n, nil
	}
	if err := q.QueryRow(ctx, query).Scan(&n); err != nil {
		return 0, fmt.Errorf("read access generation: %w", t.mapErr(err))
	}
	return n, nil
}

// AccessGenAtStart: with PostgreSQL the statement that takes the head's
// lock reads the generation too (lockQuery), so a push group confirms
// the tokens it was handed without a round trip; elsewhere it is read
// here.
func (t *txn) AccessGenAtStart(ctx context.Context) (int64, error) {
	if err := t.begun(ctx); err != nil {
		return 0, err
	}
	if t.lockGenRead {
		return t.lockGen, nil
	}
	return t.AccessGen(ctx)
}

func (t *txn) IsMember(ctx context.Context, user, matterID string) (bool, error) {
	if is, ok := t.pending.members[memberKey{user, matterID}]; ok {
		return is, nil
	}
	var n int
	err := t.q.QueryRow(ctx, `SELECT COUNT(*) FROM members WHERE user_name = $1 AND matter_id = $2`, user, matterID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("read membership: %w", t.mapErr(err))
	}
	return n > 0, nil
}

func (t *txn) Members(ctx context.Context, matterID string) ([]string, error) {
	return t.strings(ctx, "members", `SELECT user_name FROM members WHERE matter_id = $1 ORDER BY user_name`, matterID)
}

func (t *txn) MattersOf(ctx context.Context, user string) ([]string, error) {
	return t.strings(ctx, "memberships", `SELECT matter_id FROM members WHERE user_name = $1 ORDER BY matter_id`, user)
}

// strings reads a one-column query of text; what names it in errors.
func (t *txn) strings(ctx context.Context, what, query string, args ...any) ([]string, error) {
	rows, err := t.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, t.mapErr(err))
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("read %s: %w", what, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", what, t.mapErr(err))
	}
	return out, nil
}

func (t *txn) AddMember(ctx context.Context, user, matterID string) (bool, error) {
	delete(t.pending.members, memberKey{user, matterID})
	res, err := t.q.ExecContext(ctx, `INSERT INTO members (user_name, matter_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, user, matterID)
	if err != nil {
		return false, fmt.Errorf("add member: %w", t.mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("add member: %w", err)
	}
	return n > 0, nil
}

func (t *txn) RemoveMember(ctx context.Context, user, matterID string) (bool, error) {
	delete(t.pending.members, memberKey{user, matterID})
	res, err := t.q.ExecContext(ctx, `DELETE FROM members WHERE user_name = $1 AND matter_id = $2`, user, matterID)
	if err != nil {
		return false, fmt.Errorf("remove member: %w", t.mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("remove member: %w", err)
	}
	return n > 0, nil
}

func (t *txn) AddAccessEvent(ctx context.Context, e store.AccessEvent) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO access_events (seq, user_name, matter_id, kind, at) VALUES ($1, $2, $3, $4, $5)`,
		e.Seq, e.User, e.MatterID, e.Kind, e.At.UnixMicro())
	if err != nil {
		return fmt.Errorf("write access event: %w", t.mapErr(err))
	}
	return nil
}

func (t *txn) DroppedMatters(ctx context.Context, q store.ChangeQuery) ([]string, error) {
	if q.All {
		return nil, nil
	}
	rows, err := t.q.QueryContext(ctx, `SELECT DISTINCT matter_id FROM access_events
		WHERE user_name = $1 AND kind = $2 AND seq > $3 AND seq <= $4
		AND matter_id NOT IN (SELECT matter_id FROM members WHERE user_name = $1)
		ORDER BY matter_id`, q.User, store.AccessRevoke, q.After, q.UpTo)
	if err != nil {
		return nil, fmt.Errorf("read dropped matters: %w", t.mapErr(err))
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read dropped matters: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read dropped matters: %w", t.mapErr(err))
	}
	return out, nil
}
