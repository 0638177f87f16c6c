package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"casefile/server/store"
)

// Preload reads which of the op ids the ledger holds, the rows of the
// records the records table holds and the memberships asked about, and
// notes the others as absent: a push's ops then need no lookup of their
// op id, nor of their record (Record hands out each row read once), nor of
// their membership. The transaction holds the write lock, so nothing else
// can add them meanwhile; what it writes itself it tracks (PutLedger,
// PutRecord, AddMember). With Dialect.Unnest it is one statement
// (preloadOne), otherwise one per kind.
func (t *txn) Preload(ctx context.Context, a store.Ahead) error {
	p := &t.pending
	recordIDs := slices.Compact(slices.Sorted(slices.Values(a.RecordIDs)))
	// A record written and not yet sent is the transaction's own.
	recordIDs = slices.DeleteFunc(recordIDs, func(id string) bool { _, ok := p.lastWrite[id]; return ok })
	var ops []string
	for _, id := range a.OpIDs {
		if _, ok := p.findLedger(id); !ok {
			ops = append(ops, id)
		}
	}
	asks := p.unknownMembers(a.Users, a.Matters)
	if !t.d.Unnest {
		if err := t.preloadLedger(ctx, ops); err != nil {
			return err
		}
		if err := t.preloadRecords(ctx, recordIDs); err != nil {
			return err
		}
		if err := t.preloadGraves(ctx, recordIDs); err != nil {
			return err
		}
		return t.preloadMembers(ctx, asks)
	}
	if len(ops)+len(recordIDs)+len(asks) == 0 {
		return nil
	}
	return t.preloadOne(ctx, ops, recordIDs, asks)
}

// preloadOne reads the ledger's op ids, the records, their graves and the
// memberships Preload asks about in one statement, for PostgreSQL, where
// each is a round trip made while a group holds the head's lock (three of
// them were a third of a group's hold: docs/benchmarks.md, fourteenth
// round). The four kinds of row come as one UNION ALL in the records'
// columns, the first column saying which kind a row is. Each kind's list
// is padded to a size of idsPerLookup, as one statement a kind was: a few
// texts, each prepared once with a generic plan (arrays of ids made
// PostgreSQL plan every execution anew, which cost more than the round
// trips saved).
func (t *txn) preloadOne(ctx context.Context, ops, recordIDs []string, asks []memberKey) error {
	const filler = `'', 0, 0, false, '', '', '', 0, '', 0, ''`
	held, found := map[string]bool{}, map[string]bool{}
	members := map[memberKey]bool{}
	graves := map[string]store.Grave{}
	for rest, restGraves, restOps, restAsks := recordIDs, recordIDs, ops, asks; len(rest)+len(restGraves)+len(restOps)+len(restAsks) > 0; {
		var q strings.Builder
		var args []any
		branch := func(query string, n, width int, arg func(i int) []any) int {
			if n == 0 {
				return 0
			}
			list, more, taken := paddedList(len(args)+1, n, width, arg)
			if q.Len() > 0 {
				q.WriteString(" UNION ALL ")
			}
			q.WriteString(query + "(" + list + ")")
			args = append(args, more...)
			return taken
		}
		n := branch(`SELECT 1, `+recordCols+` FROM records WHERE id IN `, len(rest), 1, func(i int) []any { return []any{rest[i]} })
		rest = rest[n:]
		// A record's grave is asked for with the record, found or not: a
		// found record's grave is never read.
		n = branch(`SELECT 3, id, collection, matter_id, version, 0, false, '', '', '', 0, '', 0, '' FROM graves WHERE id IN `, len(restGraves), 1,
			func(i int) []any { return []any{restGraves[i]} })
		restGraves = restGraves[n:]
		n = branch(`SELECT 0, op_id, '', `+filler+` FROM ledger WHERE op_id IN `, len(restOps), 1, func(i int) []any { return []any{restOps[i]} })
		restOps = restOps[n:]
		n = branch(`SELECT 2, user_name, matter_id, `+filler+` FROM members WHERE (user_name, matter_id) IN `, len(restAsks), 2,
			func(i int) []any { return []any{restAsks[i].user, restAsks[i].matter} })
		restAsks = restAsks[n:]
		err := t.collect(ctx, q.String(), args, func(rows scanner) error {
			var kind int64
			var s [8]string
			var n [4]int64
			var b bool
			if err := rows.Scan(&kind, &s[0], &s[1], &s[2], &n[0], &n[1], &b, &s[3], &s[4], &s[5], &n[2], &s[6], &n[3], &s[7]); err != nil {
				return err
			}
			switch kind {
			case 0:
				held[s[0]] = true
			case 1:
				r, err := scanRecord(rowValues{s[0], s[1], s[2], n[0], n[1], b, s[3], s[4], s[5], n[2], s[6], n[3], s[7]})
				if err != nil {
					return err
				}
				t.pending.keepRecord(r)
				found[r.ID] = true
			case 2:
				members[memberKey{s[0], s[1]}] = true
			case 3:
				graves[s[0]] = store.Grave{ID: s[0], Collection: s[1], MatterID: s[2], Version: n[0]}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("preload: %w", err)
		}
	}
	t.pending.noteLedger(ops, held)
	t.pending.noteRecords(recordIDs, found)
	t.pending.noteGraves(recordIDs, found, graves)
	t.pending.noteMembers(asks, members)
	return nil
}

func (t *txn) preloadLedger(ctx context.Context, ops []string) error {
	held, err := t.held(ctx, "SELECT op_id FROM ledger WHERE op_id IN ", ops)
	if err != nil {
		return fmt.Errorf("preload ledger: %w", err)
	}
	t.pending.noteLedger(ops, held)
	return nil
}

func (t *txn) preloadRecords(ctx context.Context, recordIDs []string) error {
	found := map[string]bool{}
	err := t.lookup(ctx, "SELECT "+recordCols+" FROM records WHERE id IN ", recordIDs, func(rows scanner) error {
		r, err := scanRecord(rows)
		if err != nil {
			return err
		}
		t.pending.keepRecord(r)
		found[r.ID] = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("preload records: %w", err)
	}
	t.pending.noteRecords(recordIDs, found)
	return nil
}

// preloadGraves reads the graves of the records among recordIDs that
// preloadRecords found absent: a create of such an id reads its grave.
func (t *txn) preloadGraves(ctx context.Context, recordIDs []string) error {
	var absent []string
	for _, id := range recordIDs {
		if t.pending.recordAbsent[id] {
			absent = append(absent, id)
		}
	}
	graves := map[string]store.Grave{}
	err := t.lookup(ctx, "SELECT id, collection, matter_id, version FROM graves WHERE id IN ", absent, func(rows scanner) error {
		g := store.Grave{}
		if err := rows.Scan(&g.ID, &g.Collection, &g.MatterID, &g.Version); err != nil {
			return err
		}
		graves[g.ID] = g
		return nil
	})
	if err != nil {
		return fmt.Errorf("preload graves: %w", err)
	}
	t.pending.noteGraves(absent, nil, graves)
	return nil
}

// noteLedger notes the op ids asked about and not held as absent.
func (p *pendingRows) noteLedger(ops []string, held map[string]bool) {
	for _, id := range ops {
		if !held[id] {
			p.noteAbsent(id)
		}
	}
}

// keepRecord keeps a row read ahead, for Record to hand out once.
func (p *pendingRows) keepRecord(r store.Record) {
	if p.records == nil {
		p.records = map[string]store.Record{}
	}
	p.records[r.ID] = r
}

// noteRecords notes the records asked about and not found as absent.
func (p *pendingRows) noteRecords(ids []string, found map[string]bool) {
	for _, id := range ids {
		if !found[id] {
			if p.recordAbsent == nil {
				p.recordAbsent = map[string]bool{}
			}
			p.recordAbsent[id] = true
		}
	}
}

// noteGraves notes the graves of the records asked about and not found:
// the grave read, or none.
func (p *pendingRows) noteGraves(ids []string, found map[string]bool, graves map[string]store.Grave) {
	for _, id := range ids {
		if found[id] {
			continue
		}
		if p.graves == nil {
			p.graves = map[string]store.Grave{}
		}
		p.graves[id] = graves[id]
	}
}

// unknownMembers are the memberships (users[i] of matterIDs[i]) the
// transaction does not know yet, once each.
func (p *pendingRows) unknownMembers(users, matterIDs []string) []memberKey {
	var ask []memberKey
	seen := map[memberKey]bool{}
	for i := range users {
		k := memberKey{users[i], matterIDs[i]}
		if _, known := p.members[k]; !known && !seen[k] {
			seen[k] = true
			ask = append(ask, k)
		}
	}
	return ask
}

// noteMembers records the answers to asks: the memberships found hold,
// the others do not.
func (p *pendingRows) noteMembers(asks []memberKey, found map[memberKey]bool) {
	if p.members == nil {
		p.members = map[memberKey]bool{}
	}
	for _, k := range asks {
		p.members[k] = found[k]
	}
}

// PreloadMembers reads whether each users[i] is a member of matterIDs[i],
// for IsMember to answer.
func (t *txn) PreloadMembers(ctx context.Context, users, matterIDs []string) error {
	return t.preloadMembers(ctx, t.pending.unknownMembers(users, matterIDs))
}

func (t *txn) preloadMembers(ctx context.Context, ask []memberKey) error {
	for len(ask) > 0 {
		values, args, n := paddedList(1, len(ask), 2, func(i int) []any { return []any{ask[i].user, ask[i].matter} })
		found := map[memberKey]bool{}
		err := t.collect(ctx, `WITH v(u, m) AS (VALUES `+values+`)
			SELECT user_name, matter_id FROM members JOIN v ON user_name = v.u AND matter_id = v.m`, args, func(rows scanner) error {
			var k memberKey
			if err := rows.Scan(&k.user, &k.matter); err != nil {
				return err
			}
			found[k] = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("preload memberships: %w", err)
		}
		t.pending.noteMembers(ask[:n], found)
		ask = ask[n:]
	}
	return nil
}

type memberKey struct{ user, matter string }

// idsPerLookup are the sizes of a lookup's IN list: a few statement texts,
// each prepared once. A list is padded to the next size with its last id.
var idsPerLookup = [...]int{8, 64, 512}

// paddedList lists the first of n things for a lookup, padded with the
// last to lookupSize(n) (one of a few statement texts, each prepared
// once): their placeholders from $from, width each ("$1, $2" for one, or
// "($1, $2), ($3, $4)" for pairs), the args (arg(i) for thing i) and how
// many of the n it took.
func paddedList(from, n, width int, arg func(i int) []any) (string, []any, int) {
	size := lookupSize(n)
	var b strings.Builder
	args := make([]any, 0, size*width)
	for i := range size {
		if i > 0 {
			b.WriteString(", ")
		}
		if width > 1 {
			b.WriteString(placeholders(from+len(args), width))
		} else {
			b.WriteString("$" + strconv.Itoa(from+len(args)))
		}
		args = append(args, arg(min(i, n-1))...)
	}
	return b.String(), args, min(size, n)
}

// lookupSize is the size of the list a lookup of n things is padded to.
func lookupSize(n int) int {
	for _, s := range idsPerLookup {
		if n <= s {
			return s
		}
	}
	return idsPerLookup[len(idsPerLookup)-1]
}

// held runs query (ending in "IN ") over ids, in lists of idsPerLookup,
// and returns the ids it answers.
func (t *txn) held(ctx context.Context, query string, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	err := t.lookup(ctx, query, ids, func(rows scanner) error {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		out[id] = true
		return nil
	})
	return out, err
}

// lookup runs query (ending in "IN ") over ids, in lists of idsPerLookup,
// and calls row for each row of the answers.
func (t *txn) lookup(ctx context.Context, query string, ids []string, row func(scanner) error) error {
	for len(ids) > 0 {
		list, args, n := paddedList(1, len(ids), 1, func(i int) []any { return []any{ids[i]} })
		if err := t.collect(ctx, query+"("+list+")", args, row); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

func (t *txn) collect(ctx context.Context, query string, args []any, row func(scanner) error) error {
	if begin := t.begin; begin != nil {
		// The transaction's first statement: it goes with BEGIN and
		// the head's lock (see writeOnConn).
		t.begin = nil
		return begin(ctx, query, args, row)
	}
	rows, err := t.q.QueryContext(ctx, query, args...)
	if err != nil {
		return t.mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// placeholders is "($from, …, $(from+n-1))".
func placeholders(from, n int) string {
	var b strings.Builder
	b.WriteByte('(')
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(from+i))
	}
	b.WriteByte(')')
	return b.String()
}
