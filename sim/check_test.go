package sim

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"casefile/localdb"
	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/store"

	_ "modernc.org/sqlite" // the fresh connection of integrityCheck
)

// truth is the server's state, read straight from its store.
type truth struct {
	records map[string]store.Record
	members map[string]map[string]bool // matter → member names
	// audited counts each record's audited changes since its last create:
	// an id whose tombstone was compacted can be created again.
	audited map[string]int64
	created map[string]int64 // record id → the seq of its last create
	// hist holds, per record, the record after each version of its
	// current life, as the ledger's stored answers show it; all holds
	// every answered copy of every life.
	hist map[string]map[int64]protocol.Record
	all  map[string][]protocol.Record
	// states holds, per record, the digest of each state the audit log
	// says it had (server.RecordDigest), every life's.
	states   map[string]map[string]bool
	journals map[int][]localdb.JournalEntry // client → its whole journal
	outboxes map[int][]localdb.OutboxOp
}

// readTruth reads the server's records, memberships, audit log and the
// ledger answers of every op id any client's journal names.
func (w *world) readTruth() *truth {
	w.awaitServerIdle()
	tr := &truth{
		records:  map[string]store.Record{},
		members:  map[string]map[string]bool{},
		audited:  map[string]int64{},
		created:  map[string]int64{},
		hist:     map[string]map[int64]protocol.Record{},
		all:      map[string][]protocol.Record{},
		states:   map[string]map[string]bool{},
		journals: map[int][]localdb.JournalEntry{},
		outboxes: map[int][]localdb.OutboxOp{},
	}
	var opIDs []string
	seen := map[string]bool{}
	for _, c := range w.clients {
		j := w.journalOf(c)
		tr.journals[c.i] = j
		for _, e := range j {
			if e.OpID != "" && !seen[e.OpID] {
				seen[e.OpID] = true
				opIDs = append(opIDs, e.OpID)
			}
		}
		ops, err := c.db.Outbox(w.ctx)
		w.must(c.name+": outbox", err)
		tr.outboxes[c.i] = ops
	}
	for _, id := range w.retiredOps {
		if !seen[id] {
			seen[id] = true
			opIDs = append(opIDs, id)
		}
	}
	err := w.reader.Read(w.ctx, func(r store.Reader) error {
		head, err := r.Head(w.ctx)
		if err != nil {
			return err
		}
		recs, err := r.Changes(w.ctx, store.ChangeQuery{All: true, UpTo: head.Seq})
		if err != nil {
			return err
		}
		// Memberships outlive a matter's compacted tombstone: read them for
		// every matter a record names, not only the matters still stored.
		matters := map[string]bool{}
		for _, rec := range recs {
			tr.records[rec.ID] = rec
			matters[rec.MatterID] = true
			if rec.Collection == model.MatterCollection {
				matters[rec.ID] = true
			}
		}
		for _, m := range sortedKeys(matters) {
			names, err := r.Members(w.ctx, m)
			if err != nil {
				return err
			}
			tr.members[m] = map[string]bool{}
			for _, n := range names {
				tr.members[m][n] = true
			}
		}
		for after := int64(0); ; {
			rows, err := r.Audit(w.ctx, after, 1000)
			if err != nil {
				return err
			}
			for _, a := range rows {
				after = a.ID
				_, id, ok := strings.Cut(a.Target, "/")
				if ok && a.After != "" {
					if tr.states[id] == nil {
						tr.states[id] = map[string]bool{}
					}
					tr.states[id][a.After] = true
				}
				switch {
				case !ok:
				case a.Action == "create":
					tr.audited[id], tr.created[id] = 1, a.Seq
				case a.Action == "restore", a.Action == "update", a.Action == "delete":
					tr.audited[id]++
				}
			}
			if len(rows) < 1000 {
				break
			}
		}
		answers, err := w.answers(r, opIDs)
		if err != nil {
			return err
		}
		for _, id := range opIDs {
			res, ok := answers[id]
			if !ok || res.Record == nil || res.Result == model.ResultRejected {
				continue // never sent (coalesced, cancelled or discarded first), or no record
			}
			rid := res.Record.ID
			tr.all[rid] = append(tr.all[rid], *res.Record)
			if res.Record.Seq < tr.created[rid] {
				continue // a copy from before the record was created again
			}
			if tr.hist[rid] == nil {
				tr.hist[rid] = map[int64]protocol.Record{}
			}
			tr.hist[rid][res.Record.Version] = *res.Record
		}
		return nil
	})
	w.must("read the server", err)
	return tr
}

// answers returns the server's answer to each op id that has one: from
// the ledger, or from the harness's copy of the ledger made before each
// compaction (compaction erases answers; the exactly-once check needs
// them all). Answers are kept as they are found.
func (w *world) answers(r store.Reader, opIDs []string) (map[string]protocol.OpResult, error) {
	for _, id := range opIDs {
		if _, ok := w.ledger[id]; ok {
			continue
		}
		e, err := r.Ledger(w.ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // not sent yet, never sent, or refused without an answer kept
		}
		if err != nil {
			return nil, err
		}
		var res protocol.OpResult
		if err := json.Unmarshal(e.Result, &res); err != nil {
			return nil, err
		}
		if res.OpID != id {
			w.violate("the ledger entry of op %s holds the answer of op %s", id, res.OpID)
		}
		w.ledger[id] = res
	}
	return w.ledger, nil
}

// opIDs lists every op id any client's journal names, in journal order.
func (w *world) opIDs() []string {
	var ids []string
	seen := map[string]bool{}
	for _, c := range w.clients {
		j := w.journalOf(c)
		for _, e := range j {
			if e.OpID != "" && !seen[e.OpID] {
				seen[e.OpID] = true
				ids = append(ids, e.OpID)
			}
		}
	}
	for _, id := range w.retiredOps {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

// checkAll checks the invariants. Before settling (final false) the
// outboxes may hold failed ops and conflicts; after it, nothing at all.
func (w *world) checkAll(final bool) {
	tr := w.readTruth()
	w.checkOnce(tr)
	for _, c := range w.clients {
		w.checkClient(c, tr, final)
		if n := c.link.stalledForever(); n > 0 {
			w.violate("%s: %d stalled request(s) were still waited for after %v: the request timeout did not fire", c.name, n, stallGuard)
		}
	}
	if !final {
		w.checkWrites(tr)
	}
	rep, err := w.srv.VerifyAudit(w.ctx)
	w.must("verify audit", err)
	if !rep.OK() {
		w.violate("the audit chain breaks at row %d: %s", rep.BrokenAt, rep.Problem)
	}
}

// checkOnce checks that no op took effect twice: each record's version
// counts its audited changes, every version came from an op a client sent
// (the ledger holds one answer per op id), and no unique value was set
// twice by an update.
func (w *world) checkOnce(tr *truth) {
	for _, id := range sortedKeys(tr.records) {
		rec := tr.records[id]
		// No record outlives its matter: the server refuses to delete a
		// matter that holds records, whoever added them.
		if m, ok := tr.records[rec.MatterID]; !rec.Deleted && rec.Collection != model.MatterCollection && (!ok || m.Deleted) {
			w.violate("record #%d lives on in matter #%d, which is deleted", w.index[id], w.index[rec.MatterID])
		}
		if n := tr.audited[id]; n != rec.Version {
			w.violate("record #%d is at version %d but the audit log has %d change(s) of it", w.index[id], rec.Version, n)
		}
		h := tr.hist[id]
		var prev *protocol.Record
		set := map[string]int{}
		for v := int64(1); v <= rec.Version; v++ {
			cur, ok := h[v]
			if !ok {
				w.violate("version %d of record #%d came from no op a client sent", v, w.index[id])
				prev = nil
				continue
			}
			restore := prev != nil && prev.Deleted && !cur.Deleted
			for _, f := range tracked[rec.Collection] {
				s, _ := cur.Fields[f].(string)
				if s == "" || restore || (prev != nil && prev.Fields[f] == s) {
					continue
				}
				set[f+"\x00"+s]++
				// An undo sets a field back to an earlier value: that
				// value may be set once more per undo.
				if set[f+"\x00"+s] == 2+w.resets[id+"\x00"+f+"\x00"+s] {
					w.violate("record #%d: %s was set to %q twice (version %d): an op took effect twice", w.index[id], f, s, v)
				}
			}
			prev = &cur
		}
		if last, ok := h[rec.Version]; ok && (last.Deleted != rec.Deleted || len(diffFields(w.schema, rec.Collection, last.Fields, rec.Fields)) > 0) {
			w.violate("record #%d: the server's copy differs from the answer that made its version %d", w.index[id], rec.Version)
		}
	}
}

// visible reports whether u may see a matter's records now.
func (tr *truth) visible(u *user, matter string) bool {
	return u.admin || tr.members[matter][u.name]
}

// outOfSight reports whether a matter the server holds live is one u may
// not see: a deleted matter's records left its members' devices as
// deleted, their history theirs to keep.
func (tr *truth) outOfSight(u *user, matter string) bool {
	m, ok := tr.records[matter]
	return ok && !m.Deleted && !tr.visible(u, matter)
}

// expectedCodes are the reasons a server may rightly refuse an op here.
var expectedCodes = []protocol.Code{protocol.CodeNotFound, protocol.CodeIDConflict, protocol.CodeAccessRevoked, protocol.CodeGone,
	protocol.CodeOutcomeUnknown, protocol.CodeMatterNotEmpty, "conflict"}

// checkClient checks that c mirrors the server for the matters its user
// may see, holds nothing of others, and keeps only explained ops.
func (w *world) checkClient(c *client, tr *truth, final bool) {
	w.checkServerCopies(c, tr)
	rows, err := c.db.List(w.ctx, localdb.ListQuery{IncludeDeleted: true})
	w.must(c.name+": list", err)
	queued := map[string]int{}
	for _, o := range tr.outboxes[c.i] {
		queued[o.RecordID]++
	}
	held := map[string]bool{}
	for _, r := range rows {
		held[r.ID] = true
		// What the device may hold is decided by the server's copy, when it
		// has one: a record with unsent changes may show a move into a
		// matter the user has since lost. A record with unsent changes and
		// no server copy here (version 0) is this device's own unsent
		// work, whatever the server did with an earlier answer of it.
		m := r.MatterID()
		sr, onServer := tr.records[r.ID]
		switch {
		case final || queued[r.ID] == 0:
		case onServer && r.Version > 0:
			m = sr.MatterID
		default:
			m = ""
		}
		if _, known := tr.records[m]; m != "" && (known || queued[r.ID] == 0 || final) && !tr.visible(c.user, m) {
			w.violate("%s holds %s #%d of matter #%d, which %s may not see", c.name, r.Collection, w.index[r.ID], w.index[m], c.user.name)
		}
		if queued[r.ID] > 0 && !final {
			continue
		}
		sr, ok := tr.records[r.ID]
		switch {
		case !ok || sr.Deleted || !tr.visible(c.user, sr.MatterID):
			w.violate("%s holds %s #%d (%s, deleted %v) that the server does not show it", c.name, r.Collection, w.index[r.ID], r.State, r.Deleted)
		case r.Deleted || r.Version != sr.Version || r.State != model.StateSynced:
			w.violate("%s: #%d is version %d %s (deleted %v), the server's version %d", c.name, w.index[r.ID], r.Version, r.State, r.Deleted, sr.Version)
		default:
			if d := diffFields(w.schema, r.Collection, r.Fields, sr.Fields); len(d) > 0 {
				w.violate("%s: #%d differs from the server in %s", c.name, w.index[r.ID], strings.Join(d, ", "))
			}
		}
	}
	for _, id := range sortedKeys(tr.records) {
		sr := tr.records[id]
		if !sr.Deleted && tr.visible(c.user, sr.MatterID) && !held[id] && (final || queued[id] == 0) {
			w.violate("%s lacks %s #%d of matter #%d", c.name, sr.Collection, w.index[id], w.index[sr.MatterID])
		}
	}
	w.checkOutbox(c, tr, final)
	w.checkFileStates(c, tr, rows)
	if final {
		w.checkSearch(c, rows)
		w.checkJournalSight(c, tr, held, queued)
	}
	for _, p := range w.doctor(c) {
		w.violate("%s: doctor: %s", c.name, p)
	}
}

// checkJournalSight checks that c's journal keeps no value of a record
// its user may no longer see: one the server holds in a matter out of
// the user's sight, not on the device, with no op of it left (an op kept
// as failed is the user's own unsent work, and keeps the entry it names).
func (w *world) checkJournalSight(c *client, tr *truth, held map[string]bool, queued map[string]int) {
	// The device's journal as its file holds it now (journalOf adds what
	// earlier files of the device held).
	journal, err := c.db.Journal(w.ctx, localdb.JournalQuery{})
	w.must(c.name+": journal", err)
	// A record the server's answers or pulls never told this device of
	// is its user's own work, refused (its matter lost before it was
	// sent) and discarded: what the journal keeps of it is what they
	// typed. Of one the server did tell, nothing may stay.
	told := map[string]bool{}
	for _, e := range journal {
		if e.Actor == "sync" && e.Kind != localdb.JournalRejected && (e.Before != nil || e.After != nil) {
			told[e.RecordID] = true
		}
	}
	for _, e := range journal {
		if e.Before == nil && e.After == nil || held[e.RecordID] || queued[e.RecordID] > 0 || !told[e.RecordID] {
			continue
		}
		sr, ok := tr.records[e.RecordID]
		if !ok || !tr.outOfSight(c.user, sr.MatterID) {
			continue
		}
		w.stats.inc(statJournalOutOfSight, 1)
		w.violate("%s: journal entry %d (%s, %q) keeps values of %s #%d, in matter #%d, which %s may no longer see",
			c.name, e.Seq, e.Kind, e.Summary, sr.Collection, w.index[e.RecordID], w.index[sr.MatterID], c.user.name)
	}
	for _, e := range journal {
		if sr, ok := tr.records[e.RecordID]; ok && !held[e.RecordID] && tr.outOfSight(c.user, sr.MatterID) {
			w.stats.inc(statJournalChecked, 1)
		}
	}
}

// statJournalChecked counts the journal entries of records out of their
// devices' users' sight the final checks looked at; the sets must draw
// some. statJournalOutOfSight counts those found holding values.
const (
	statJournalChecked    = "contract: journal entries of records out of sight checked for values"
	statJournalOutOfSight = "journal entries keeping values of records out of sight"
)

// checkFileStates checks that a device says a file is on the server only
// where the server holds its record or once answered this device with a
// copy of it (a version): a file whose record a backup restored and the
// server never took is not on the server, whatever the backup said.
func (w *world) checkFileStates(c *client, tr *truth, rows []model.Record) {
	version := make(map[string]int64, len(rows))
	for _, r := range rows {
		version[r.ID] = r.Version
	}
	files, err := c.db.Files(w.ctx, "")
	w.must(c.name+": list files", err)
	for _, f := range files {
		_, onServer := tr.records[f.ID]
		switch {
		case f.State == localdb.FileOnServer && !onServer && version[f.ID] == 0:
			w.violate("%s: file %s is %q, and the server never had its record", c.name, f.ID, f.StateText())
		case f.State == localdb.FileAwaiting:
			w.stats.inc("files awaiting sync when checked", 1)
		}
	}
}

// searchChecks is how many of a device's records a check looks for by
// the words of their title.
const searchChecks = 10

// checkSearch looks for some of the device's live records by the words of
// their title, as the device now holds it (searchProblems).
func (w *world) checkSearch(c *client, rows []model.Record) {
	probs, err := searchProblems(w.ctx, c.db, rows, c.keys == nil)
	w.must(c.name+": search", err)
	for _, p := range probs {
		w.violate("%s: %s", c.name, p)
	}
}

// searchProblems looks for some of rows' live records by the words of
// their title: each search must find exactly the live records whose
// searchable text has a word beginning with each word searched for (being
// it, in an encrypted database, which searches by whole words). Writes
// leave their full-text entries to a backlog that searches catch up, and
// crashes and restarts may leave it behind.
func searchProblems(ctx context.Context, db *localdb.DB, rows []model.Record, prefix bool) ([]string, error) {
	var live []model.Record
	var words [][]string // each live record's searchable words
	for _, r := range rows {
		if !r.Deleted {
			live = append(live, r)
			words = append(words, searchableWords(db.Schema(), r))
		}
	}
	var probs []string
	step := max(1, len(live)/searchChecks)
	for i := 0; i < len(live); i += step {
		title, _ := live[i].Fields["title"].(string)
		asked := searchWords(title)
		if len(asked) == 0 {
			continue
		}
		found, err := db.Search(ctx, title, -1)
		if err != nil {
			return nil, err
		}
		var got, want []string
		for _, r := range found {
			got = append(got, r.ID)
		}
		for j, r := range live {
			if holdsAll(words[j], asked, prefix) {
				want = append(want, r.ID)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			probs = append(probs, fmt.Sprintf("a search for %q found %d records, want %d (%s's title)", title, len(got), len(want), live[i].ID))
		}
	}
	return probs, nil
}

// searchWords are text's words as the full-text index splits them.
func searchWords(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// searchableWords are the words of r's searchable fields.
func searchableWords(s *model.Schema, r model.Record) []string {
	col, ok := s.Collection(r.Collection)
	if !ok {
		return nil
	}
	var have []string
	for i := range col.Fields {
		if f := &col.Fields[i]; f.Searchable() {
			have = append(have, searchWords(model.Format(r.Fields[f.Name]))...)
		}
	}
	return have
}

// holdsAll says whether, for every one of asked, have holds a word that
// begins with it (prefix) or is it.
func holdsAll(have, asked []string, prefix bool) bool {
	for _, want := range asked {
		if !slices.ContainsFunc(have, func(h string) bool { return h == want || prefix && strings.HasPrefix(h, want) }) {
			return false
		}
	}
	return true
}

// doctor returns the problems the client's Doctor finds.
func (w *world) doctor(c *client) []string {
	rep, err := c.db.Doctor(w.ctx, false)
	w.must(c.name+": doctor", err)
	return rep.Problems
}

// integrityCheck runs PRAGMA integrity_check on a fresh connection and
// returns what is not "ok".
func integrityCheck(path string) ([]string, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.Query("PRAGMA integrity_check")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var bad []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		if line != "ok" {
			bad = append(bad, "integrity: "+line)
		}
	}
	return bad, rows.Err()
}

// checkOutbox checks that only failed ops and conflicts wait, each
// explained in the journal, and after settling nothing waits at all.
func (w *world) checkOutbox(c *client, tr *truth, final bool) {
	explained := map[string]map[string]bool{} // op id or record id → journal kinds
	for _, e := range tr.journals[c.i] {
		for _, key := range []string{e.OpID, e.RecordID} {
			if key == "" {
				continue
			}
			if explained[key] == nil {
				explained[key] = map[string]bool{}
			}
			explained[key][string(e.Kind)] = true
		}
	}
	dropped := false
	for _, e := range tr.journals[c.i] {
		dropped = dropped || e.Kind == "dropped_matter"
	}
	confs, err := c.db.Conflicts(w.ctx)
	w.must(c.name+": conflicts", err)
	inConflict := map[string]bool{}
	blocked := map[string]bool{} // records with an op in conflict or failed
	for _, o := range tr.outboxes[c.i] {
		if final {
			w.violate("%s: after settling, op %s of #%d is still %s", c.name, o.Kind, w.index[o.RecordID], o.State)
		}
		switch o.State {
		case localdb.OpConflict:
			inConflict[o.OpID] = true
			blocked[o.RecordID] = true
			if !explained[o.OpID]["conflict"] {
				w.violate("%s: op %s of #%d is in conflict with no conflict in the journal", c.name, o.Kind, w.index[o.RecordID])
			}
		case localdb.OpFailed:
			blocked[o.RecordID] = true
			w.stats.inc("left failed: "+string(o.ErrorCode), 1)
			if !slices.Contains(expectedCodes, o.ErrorCode) && !(c.user.viewer && o.ErrorCode == protocol.CodeReadOnly) {
				w.violate("%s: op %s of #%d was refused with code %q: %s", c.name, o.Kind, w.index[o.RecordID], o.ErrorCode, o.LastError)
			}
			ok := explained[o.OpID]["rejected"]
			switch o.ErrorCode {
			case protocol.CodeAccessRevoked:
				ok = explained[o.RecordID]["removed"] || dropped
			case protocol.CodeGone:
				ok = explained[o.RecordID]["removed"]
			}
			if !ok {
				w.violate("%s: failed op %s of #%d is not explained in the journal", c.name, o.Kind, w.index[o.RecordID])
			}
		case localdb.OpPending:
			// An op made while an earlier one of its record was out waits
			// behind it; when that one met a conflict or failed, it waits
			// for the person, explained by that op.
			if !blocked[o.RecordID] {
				w.violate("%s: op %s of #%d is still pending after quiescing, behind no conflict or failed op", c.name, o.Kind, w.index[o.RecordID])
			}
		default:
			w.violate("%s: op %s of #%d is still %s after quiescing (attempts %d, base version %d, last error %q)",
				c.name, o.Kind, w.index[o.RecordID], o.State, o.Attempts, o.BaseVersion, o.LastError)
		}
	}
	for _, cf := range confs {
		if !inConflict[cf.OpID] {
			w.violate("%s: the conflict of #%d has no op in conflict in the outbox", c.name, w.index[cf.RecordID])
		}
		// The review shows, and "theirs" applies, the newest copy of the
		// server's this device has pulled, not the one met at the push.
		if rec, err := c.db.Get(w.ctx, cf.RecordID); err == nil && rec.Version != cf.TheirsVersion {
			w.violate("%s: the conflict of #%d shows the server's version %d, the device has pulled %d", c.name, w.index[cf.RecordID], cf.TheirsVersion, rec.Version)
		}
	}
}

// diffFields names the fields whose values differ between a and b.
func diffFields(s *model.Schema, collection string, a, b model.Fields) []string {
	col, _ := s.Collection(collection)
	var out []string
	for _, f := range col.Fields {
		x, _ := f.Normalize(a[f.Name])
		y, _ := f.Normalize(b[f.Name])
		if !model.Equal(x, y) {
			out = append(out, f.Name)
		}
	}
	for k := range a {
		if _, ok := col.Field(k); !ok {
			out = append(out, k)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// checkServerCopies holds every live server copy c keeps of a record (what
// its queued ops stand on, what it shows once they are gone) to a state
// the server's audit log says the record had at that version: an op made
// on a copy the server never had claims to have seen values it never saw,
// and the server's merge takes the claim for true. (A tombstone's fields
// are a restore's starting point only: no op is made on them.)
func (w *world) checkServerCopies(c *client, tr *truth) {
	copies, err := c.db.ServerCopies(w.ctx)
	w.must(c.name+": server copies", err)
	for _, id := range sortedKeys(copies) {
		sc := copies[id]
		d := server.RecordDigest(store.Record{ID: id, Collection: sc.Collection, MatterID: model.MatterOf(sc.Collection, id, sc.Fields),
			Version: sc.Version, Deleted: sc.Deleted, Fields: sc.Fields})
		if !tr.states[id][d] {
			w.violate("%s: its copy of %s #%d at version %d (deleted %v) is no state the server had: %v", c.name, sc.Collection, w.index[id], sc.Version, sc.Deleted, sc.Fields)
			continue
		}
		w.stats.inc("contract: server copies held to the audit log", 1)
	}
}
