package localdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"casefile/model"
)

// ItemError is a bad item of an Import batch: its 0-based index in the
// batch and what is wrong (model.Problems or ErrExists).
type ItemError struct {
	Index int
	Err   error
}

func (e *ItemError) Error() string { return fmt.Sprintf("item %d: %v", e.Index+1, e.Err) }
func (e *ItemError) Unwrap() error { return e.Err }

// ExistingPolicy says what an import does with a record already on this
// device whose values differ from the line's (one with the same values is
// always skipped and counted).
type ExistingPolicy int

// The import policies for records already here.
const (
	ExistingStop   ExistingPolicy = iota // refuse the batch, naming the record and its differing fields
	ExistingSkip                         // keep what is here
	ExistingUpdate                       // the line's values become the record's, by an edit that syncs
)

// DiffersError is an imported record already on this device with other
// values: the fields that differ, sorted, or Deleted when it is deleted here.
type DiffersError struct {
	ID      string
	Fields  []string
	Deleted bool
}

func (e *DiffersError) Error() string {
	if e.Deleted {
		return fmt.Sprintf("record %s is deleted on this device", e.ID)
	}
	return fmt.Sprintf("record %s is already here with other values of %s", e.ID, strings.Join(e.Fields, ", "))
}

// Is makes errors.Is(err, ErrExists) hold.
func (e *DiffersError) Is(target error) bool { return target == ErrExists }

// ImportCounts says what an import batch did with its items.
type ImportCounts struct {
	Written   int // new records
	Identical int // already here with the same values: skipped
	Kept      int // already here with other values, kept (ExistingSkip)
	Updated   int // already here with other values, updated (ExistingUpdate)
}

// Import writes a batch of new records in one durable transaction, each with
// its create op and its own journal entry. A bad item fails the whole batch
// and changes nothing; a record already here is refused (ExistingStop)
// unless it holds the same values, which is skipped.
func (db *DB) Import(ctx context.Context, collection string, items []ImportItem) error {
	_, err := db.ImportWith(ctx, collection, items, ExistingStop)
	return err
}

// ImportWith is Import with a policy for records already on this device
// whose values differ; it counts what it did.
func (db *DB) ImportWith(ctx context.Context, collection string, items []ImportItem, existing ExistingPolicy) (ImportCounts, error) {
	p, err := db.PrepareImport(collection, items)
	if err != nil {
		return ImportCounts{}, err
	}
	return db.WriteImport(ctx, p, existing)
}

// PreparedImport is an import batch validated, encoded and (in an
// encrypted database) sealed, ready for WriteImport on the same DB: its
// values are sealed with that database's key and bound to their places.
type PreparedImport struct {
	col   *model.Collection
	items []preparedItem
}

type preparedItem struct {
	fields model.Fields // validated
	given  bool         // the item came with its id: the record may be here already
	row    newRow
}

// PrepareImport validates a batch and encodes its rows without touching
// the database, so that a caller may prepare the next batch while
// WriteImport writes this one. A bad item is an *ItemError.
func (db *DB) PrepareImport(collection string, items []ImportItem) (*PreparedImport, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("import %s: %w", collection, err)
	}
	defer db.leave()
	col, err := db.collection(collection)
	if err != nil {
		return nil, err
	}
	p := &PreparedImport{col: col, items: make([]preparedItem, len(items))}
	seen := make(map[string]int, len(items))
	for i, it := range items {
		norm, probs := col.Validate(it.Fields, true)
		id := it.ID
		if id == "" {
			id = model.NewID()
		} else if !model.ValidID(id) {
			probs = append(model.Problems{{Collection: collection, Field: "id", Message: fmt.Sprintf("not a valid id: %q", id)}}, probs...)
		}
		if len(probs) > 0 {
			return nil, &ItemError{Index: i, Err: probs}
		}
		if j, dup := seen[id]; dup {
			return nil, &ItemError{Index: i, Err: fmt.Errorf("id %s is also item %d: %w", id, j+1, ErrExists)}
		}
		seen[id] = i
		row, err := db.newRow(col, id, norm, JournalImport, "imported")
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", collection, err)
		}
		row.search = db.searchBody(searchText(col, norm))
		p.items[i] = preparedItem{fields: norm, given: it.ID != "", row: row}
	}
	return p, nil
}

// WriteImport writes a prepared batch in one durable transaction, as
// ImportWith does.
func (db *DB) WriteImport(ctx context.Context, p *PreparedImport, existing ExistingPolicy) (ImportCounts, error) {
	return db.writeImport(ctx, p, existing, db.tx)
}

// WriteImportUnsynced is WriteImport for one batch of many: the batch is
// as atomic, and a crash of the process loses none of it, but it is not
// waited onto the disk; SyncWAL does that for every batch before it. An
// import of many batches so waits for the disk once, at its end, rather
// than once a batch.
func (db *DB) WriteImportUnsynced(ctx context.Context, p *PreparedImport, existing ExistingPolicy) (ImportCounts, error) {
	return db.writeImport(ctx, p, existing, db.txUnsynced)
}

func (db *DB) writeImport(ctx context.Context, p *PreparedImport, existing ExistingPolicy,
	inTx func(context.Context, func(*sql.Tx) error) error) (ImportCounts, error) {
	var counts ImportCounts
	if err := db.enter(); err != nil {
		return counts, fmt.Errorf("import: %w", err)
	}
	defer db.leave()
	if p == nil {
		return counts, errors.New("import: no prepared batch")
	}
	col := p.col
	err := inTx(ctx, func(tx *sql.Tx) error {
		counts = ImportCounts{}
		w, err := newImportWriter(ctx, tx, db)
		if err != nil {
			return err
		}
		defer w.close()
		// known holds the records a ref may name: those checked, and those
		// of this batch queued but not yet written.
		known := map[string]bool{}
		// given holds the new records that came with their ids: the outbox
		// may still hold ops of such a record, which left this device with
		// changes unsent (access revoked, gone), and its create queues
		// behind them.
		var given []string
		for i := range p.items {
			it := &p.items[i]
			id := it.row.id
			probs, err := refProblems(ctx, w.refs, col, it.fields, known)
			if err != nil {
				return err
			}
			if len(probs) > 0 {
				return &ItemError{Index: i, Err: probs}
			}
			here := false
			if it.given { // an id made here just now is new
				if here, err = w.exists(ctx, id); err != nil {
					return err
				}
			}
			if !here {
				w.queue(it.row)
				known[col.Name+"/"+id] = true
				counts.Written++
				if it.given {
					given = append(given, id)
				}
				continue
			}
			// The records before it are written first, so that ops stay
			// queued in the batch's order.
			if err := w.flush(ctx); err != nil {
				return err
			}
			if err := db.importExisting(ctx, tx, col, id, it.fields, existing, &counts); err != nil {
				return &ItemError{Index: i, Err: err}
			}
		}
		if err := w.flush(ctx); err != nil {
			return err
		}
		return refreshQueuedBehind(ctx, tx, given)
	})
	if err != nil {
		var ie *ItemError
		if errors.As(err, &ie) {
			return ImportCounts{}, err
		}
		return ImportCounts{}, fmt.Errorf("import %s: %w", col.Name, err)
	}
	return counts, nil
}

// refreshQueuedBehind sets the state of each of the new records ids whose
// create is not the only op queued: its state is its queue's, a failed op
// ahead of the create showing as failed (refreshStates).
func refreshQueuedBehind(ctx context.Context, tx *sql.Tx, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	behind, err := distinctRecords(ctx, tx, "SELECT record_id FROM outbox WHERE record_id "+inIDs+" GROUP BY record_id HAVING count(*) > 1", idList(ids))
	if err != nil {
		return err
	}
	return refreshStates(ctx, tx, behind)
}

// importExisting handles an imported record whose id is already here: the
// same values are skipped; other values follow the policy.
func (db *DB) importExisting(ctx context.Context, tx *sql.Tx, col *model.Collection, id string, fields model.Fields, existing ExistingPolicy, counts *ImportCounts) error {
	rec, err := db.getRow(ctx, tx, id)
	if err != nil {
		return err
	}
	if rec.collection != col.Name {
		return fmt.Errorf("record %s is a %s here: %w", id, rec.collection, ErrExists)
	}
	var differ []string
	changes := model.Fields{}
	for i := range col.Fields {
		name := col.Fields[i].Name
		if !model.Equal(rec.fields[name], fields[name]) {
			differ = append(differ, name)
			changes[name] = fields[name]
		}
	}
	switch {
	case !rec.deleted && len(differ) == 0:
		counts.Identical++
		return nil
	case existing == ExistingSkip:
		counts.Kept++
		return nil
	case existing == ExistingStop || rec.deleted:
		return &DiffersError{ID: id, Fields: differ, Deleted: rec.deleted}
	}
	if rec.state == model.StateConflict {
		return fmt.Errorf("record %s: %w", id, ErrInConflict)
	}
	_, e, err := db.updateRow(ctx, tx, col, rec, changes)
	if err != nil {
		return err
	}
	counts.Updated++
	if e == nil {
		return nil
	}
	e.Kind, e.Summary = JournalImport, "imported over the record here: "+e.Summary
	return db.journal(ctx, tx, *e)
}
