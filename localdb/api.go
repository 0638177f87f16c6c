package localdb

// This file is the contract the syncer, the CLI and the UI program against.
// Signatures change only with everyone who calls them.

import (
	"database/sql"
	"errors"
	"time"

	"casefile/model"
	"casefile/protocol"
)

// Sentinel errors; callers test them with errors.Is.
var (
	ErrNotFound = errors.New("no such record")
	ErrExists   = errors.New("a record with this id already exists")
	ErrDeleted  = errors.New("the record is deleted")
	ErrNoOp     = errors.New("no such queued op")
	ErrConflict = errors.New("no such conflict")
)

// OpState is where a queued op stands.
type OpState string

// The op states. An op leaves the outbox when the server applies or merges it.
const (
	OpPending  OpState = "pending"  // never sent; later edits coalesce into it
	OpSyncing  OpState = "syncing"  // handed to the syncer, answer not yet applied
	OpRetrying OpState = "retrying" // sent at least once; retried at NextAttempt
	OpFailed   OpState = "failed"   // the server rejected it; waits for the user
	OpConflict OpState = "conflict" // the server answered conflict; waits for a resolution
)

// OutboxOp is one queued op with its delivery bookkeeping.
type OutboxOp struct {
	Seq         int64         `json:"seq"` // queue order
	model.Op                  // op_id, record_id, collection, kind, fields, base_version
	State       OpState       `json:"state"`
	Attempts    int           `json:"attempts"`
	LastError   string        `json:"last_error"`
	ErrorCode   protocol.Code `json:"error_code,omitempty"`
	NextAttempt time.Time     `json:"next_attempt"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
	// FieldsJSON, on an op of NextPushBatch, holds the op's fields in
	// place of Fields (left nil): their JSON exactly as encoding Fields
	// writes it, nil for none.
	FieldsJSON []byte `json:"-"`
	// claimed is what NextBatch changed when it handed the op out, for
	// Unclaim.
	claimed claim
}

// claim is an op's queue state before a batch took it.
type claim struct {
	state        OpState
	updatedAt    int64
	attemptSince sql.NullInt64
	// entry is the op's fields_entry as handed out; stored says FieldsJSON
	// is the fields' text exactly as the op (or that entry) holds it,
	// opened, so that the answers' transaction need not read it again.
	entry  sql.NullInt64
	stored bool
}

// JournalKind says what a journal entry records.
type JournalKind string

// The journal kinds: local writes, then what sync did.
const (
	JournalCreate  JournalKind = "create"  // a record added here
	JournalUpdate  JournalKind = "update"  // fields changed here
	JournalDelete  JournalKind = "delete"  // a record deleted here
	JournalImport  JournalKind = "import"  // a record added by casefile import
	JournalResolve JournalKind = "resolve" // a conflict resolved here
	JournalRetry   JournalKind = "retry"   // an op queued to be sent again
	JournalDiscard JournalKind = "discard" // an op given up, its record back to the server's copy
	// The server's answers to an op, named as model.OpResult names them.
	JournalApplied  JournalKind = JournalKind(model.ResultApplied)
	JournalMerged   JournalKind = JournalKind(model.ResultMerged)
	JournalConflict JournalKind = JournalKind(model.ResultConflict)
	JournalRejected JournalKind = JournalKind(model.ResultRejected)
	JournalPull     JournalKind = "pull"    // a page of server changes received
	JournalRemoved  JournalKind = "removed" // a record left the device: deleted on the server or out of sight
	// JournalDroppedMatter: access to a matter was lost and its records left the device.
	JournalDroppedMatter JournalKind = "dropped_matter"
	JournalReset         JournalKind = "reset" // the sync cursor started over
	// JournalRestore: ops salvaged from a damaged database queued again.
	JournalRestore JournalKind = "restore"
	// JournalUndo: a local change taken back by a new op (Undoes names it).
	JournalUndo JournalKind = "undo"
	// JournalDraft: a form's unsaved values, kept when casefile was
	// stopped while it was open; nothing is queued (KeepDraft).
	JournalDraft JournalKind = "draft"
)

// JournalEntry is one line of the append-only journal.
type JournalEntry struct {
	Seq        int64        `json:"seq"`
	At         time.Time    `json:"at"`
	Actor      string       `json:"actor"` // "local", "sync", a user name
	Kind       JournalKind  `json:"kind"`
	RecordID   string       `json:"record_id,omitempty"`
	Collection string       `json:"collection,omitempty"`
	OpID       string       `json:"op_id,omitempty"`
	Summary    string       `json:"summary"` // a sentence for people
	Before     model.Fields `json:"before,omitempty"`
	After      model.Fields `json:"after,omitempty"`
	// Undoes, on an undo, is the seq of the entry it took back.
	Undoes int64 `json:"undoes,omitempty"`
	// Version is the record's server version the entry speaks of: the
	// one a local change was based on, the one an answer or pull gave.
	Version int64 `json:"version,omitempty"`
}

// ListQuery selects records for a list; zero values mean "any".
type ListQuery struct {
	Collection     string
	MatterID       string
	State          model.SyncState
	Text           string // full-text filter
	IncludeDeleted bool   // tombstones not yet acknowledged by the server
	Offset, Limit  int    // window; Limit 0 means no limit
	// After, when set, starts the window just after this place in the
	// order. Paging with the key of each page's last record never skips
	// or repeats a record that stays unchanged between pages, whatever
	// else changes; an Offset moves with every record that does.
	After *ListKey
	// SortField, when set, orders the list by that field of Collection
	// (model.Field.Compare: dates by instant, missing values last), then
	// by last change; SortDesc reverses it. After is ignored then.
	SortField string
	SortDesc  bool
}

// ListKey is a record's place in List's order, most recently changed
// first: its change time, then its id (the greater first).
type ListKey struct {
	UpdatedAt time.Time
	ID        string
}

// KeyOf returns a listed record's place in List's order.
func KeyOf(r model.Record) ListKey { return ListKey{UpdatedAt: r.UpdatedAt, ID: r.ID} }

// JournalQuery selects journal entries, newest first.
type JournalQuery struct {
	RecordID string
	AfterSeq int64 // only entries after this seq
	Limit    int
}

// Status sums up the local side of sync for the header and `casefile status`.
type Status struct {
	Counts        map[model.SyncState]int `json:"counts"` // records per state
	Conflicts     int                     `json:"conflicts"`
	OutboxOps     int                     `json:"outbox_ops"`
	OldestPending time.Time               `json:"oldest_pending"` // zero when nothing waits
	Cursor        int64                   `json:"cursor"`
	// CursorErr is set, matching ErrBadCursor, when the stored cursor is
	// damaged; Cursor then holds what could be read of it.
	CursorErr error     `json:"-"`
	LastSync  time.Time `json:"last_sync"`
	// Attached files of records not deleted: uploads still to be sent,
	// and uploads and downloads that failed for good (the server refused
	// the file, or its bytes cannot be had), until retried or detached.
	UploadsWaiting  int `json:"uploads_waiting"`
	UploadsFailed   int `json:"uploads_failed"`
	DownloadsFailed int `json:"downloads_failed"`
	// FailedOps are the queued changes that failed and wait for the person
	// (retry or discard), with those whose record left this device when
	// access to its matter was revoked, which no record's state counts.
	FailedOps int `json:"failed_ops"`
}

// ImportItem is one record to import: Fields already parsed, ID optional.
type ImportItem struct {
	ID     string
	Fields model.Fields
}

// PushOutcome is one op's answer as the syncer hands it to ApplyPushResults.
type PushOutcome = protocol.OpResult

// Report is what Doctor found.
type Report struct {
	Problems []string `json:"problems"`
	Repaired []string `json:"repaired"`
}
