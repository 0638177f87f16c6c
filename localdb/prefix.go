package localdb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Candidate is one record an abbreviated id could mean.
type Candidate struct {
	ID         string `json:"id"`
	Collection string `json:"collection"`
	Fields     map[string]any
}

// AmbiguousError is an abbreviated id that more than one record (or
// queued change) starts with; Candidates lists some of them.
type AmbiguousError struct {
	Prefix     string
	Candidates []Candidate
	More       bool // more start with it than are listed
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("%q is the start of %d or more ids; give more of it", e.Prefix, len(e.Candidates))
}

// maxCandidates is how many matches an ambiguous prefix lists: enough to
// pick from, few enough to read.
const maxCandidates = 8

// prefixUpper bounds an id prefix's range: '~' sorts after every
// character of an id (hex digits and '-').
const prefixUpper = "~"

// ResolveID expands an abbreviated record id (its first characters, as
// git takes a commit's) to the one record id on this device that starts
// with it, tombstones included. A whole id comes back as it is; no match
// is ErrNotFound; more than one is an *AmbiguousError.
func (db *DB) ResolveID(ctx context.Context, prefix string) (string, error) {
	return db.resolvePrefix(ctx, prefix, "SELECT id, collection FROM records WHERE id >= ? AND id < ? ORDER BY id LIMIT ?", true)
}

// ResolveOpID expands an abbreviated op id of the outbox as ResolveID does
// a record's; no match is ErrNoOp.
func (db *DB) ResolveOpID(ctx context.Context, prefix string) (string, error) {
	return db.resolvePrefix(ctx, prefix, "SELECT op_id, collection FROM outbox WHERE op_id >= ? AND op_id < ? ORDER BY op_id LIMIT ?", false)
}

func (db *DB) resolvePrefix(ctx context.Context, prefix, query string, records bool) (string, error) {
	if err := db.enter(); err != nil {
		return "", fmt.Errorf("find %s: %w", prefix, err)
	}
	defer db.leave()
	prefix = strings.ToLower(prefix)
	rows, err := db.r.QueryContext(ctx, query, prefix, prefix+prefixUpper, maxCandidates+1)
	if err != nil {
		return "", fmt.Errorf("find %s: %w", prefix, mapErr(err))
	}
	var found []Candidate
	for rows.Next() {
		var c Candidate
		if err := rows.Scan(&c.ID, &c.Collection); err != nil {
			rows.Close()
			return "", fmt.Errorf("find %s: %w", prefix, mapErr(err))
		}
		found = append(found, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("find %s: %w", prefix, mapErr(err))
	}
	switch {
	case len(found) == 1:
		return found[0].ID, nil
	case len(found) == 0 && records:
		return "", fmt.Errorf("record %s: %w", prefix, ErrNotFound)
	case len(found) == 0:
		return "", fmt.Errorf("op %s: %w", prefix, ErrNoOp)
	}
	for i, c := range found {
		if c.ID == prefix {
			return c.ID, nil
		}
		if records && i < maxCandidates {
			if r, err := db.getRow(ctx, db.r, c.ID); err == nil {
				found[i].Fields = r.fields
			}
		}
	}
	e := &AmbiguousError{Prefix: prefix, Candidates: found, More: len(found) > maxCandidates}
	if e.More {
		e.Candidates = found[:maxCandidates]
	}
	return "", e
}

// ShortIDs returns, for each of ids, the shortest start of it (at least
// least characters) that ResolveID expands to that record alone on this
// device; the whole id when nothing shorter will do. A fixed cut will
// not: the first block of a UUIDv7 is its time, which every record made
// in the same minute or so shares.
func (db *DB) ShortIDs(ctx context.Context, ids []string, least int) (map[string]string, error) {
	return db.shortIDs(ctx, ids, least, "SELECT (SELECT max(id) FROM records WHERE id < ?1), (SELECT min(id) FROM records WHERE id > ?1)")
}

// ShortOpIDs is ShortIDs for op ids of the outbox, as ResolveOpID takes them.
func (db *DB) ShortOpIDs(ctx context.Context, ids []string, least int) (map[string]string, error) {
	return db.shortIDs(ctx, ids, least, "SELECT (SELECT max(op_id) FROM outbox WHERE op_id < ?1), (SELECT min(op_id) FROM outbox WHERE op_id > ?1)")
}

// shortIDs cuts each id just past the characters it shares with its
// neighbours in id order (query reads them): no other id can share more
// of it than one of those two does.
func (db *DB) shortIDs(ctx context.Context, ids []string, least int, query string) (map[string]string, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("shorten ids: %w", err)
	}
	defer db.leave()
	out := make(map[string]string, len(ids))
	for _, id := range ids {
		if _, done := out[id]; done {
			continue
		}
		var prev, next sql.NullString
		if err := db.r.QueryRowContext(ctx, query, id).Scan(&prev, &next); err != nil {
			return nil, fmt.Errorf("shorten ids: %w", mapErr(err))
		}
		n := max(least, sharedPrefix(id, prev.String)+1, sharedPrefix(id, next.String)+1)
		if n < len(id) && id[n-1] == '-' {
			n++ // a start ending in a dash reads as cut short
		}
		out[id] = id[:min(n, len(id))]
	}
	return out, nil
}

// sharedPrefix is how many leading bytes a and b share.
func sharedPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
