package localdb

import (
	"context"
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
