package model

import (
	"fmt"
	"time"
)

// SyncState is where a record stands between this device and the server.
type SyncState string

// The record states, in the order a user cares about them most.
const (
	StatePending  SyncState = "pending"  // saved on this device, not yet sent
	StateSyncing  SyncState = "syncing"  // being sent now
	StateRetrying SyncState = "retrying" // a send failed for a passing reason; will retry
	StateFailed   SyncState = "failed"   // the server refused the change; needs the user
	StateConflict SyncState = "conflict" // overlaps a newer server change; needs review
	StateSynced   SyncState = "synced"   // the server has exactly this
)

// States lists every record state.
var States = []SyncState{StatePending, StateSyncing, StateRetrying, StateFailed, StateConflict, StateSynced}

// Label is the state as people read it.
func (s SyncState) Label() string {
	if s == StatePending {
		return "saved offline"
	}
	return string(s)
}

// ParseState reads a state name (or the label "saved offline").
func ParseState(s string) (SyncState, error) {
	if s == "saved offline" || s == "saved-offline" {
		return StatePending, nil
	}
	for _, st := range States {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown state %q (states: pending, syncing, retrying, failed, conflict, synced)", s)
}

// Record is one record as a client holds it.
type Record struct {
	ID         string    `json:"id"`
	Collection string    `json:"collection"`
	Version    int64     `json:"version"` // the server version this copy is based on; 0 until the server has it
	State      SyncState `json:"state"`
	Deleted    bool      `json:"deleted,omitempty"`
	Fields     Fields    `json:"fields"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// MatterID returns the matter the record belongs to: its own id for a matter.
func (r Record) MatterID() string {
	return MatterOf(r.Collection, r.ID, r.Fields)
}

// MatterOf returns the matter a record of the collection with these fields
// belongs to.
func MatterOf(collection, id string, fields Fields) string {
	if collection == MatterCollection {
		return id
	}
	s, _ := fields[MatterField].(string)
	return s
}

// Title returns the text people know the record by: the first list column.
func (r Record) Title(c *Collection) string {
	for _, col := range c.Columns {
		if s := Format(r.Fields[col]); s != "" {
			return s
		}
	}
	return r.ID
}

// OpKind is what an op does to its record.
type OpKind string

// The op kinds.
const (
	OpCreate OpKind = "create"
	OpUpdate OpKind = "update"
	OpDelete OpKind = "delete"
)

// MaxVersion is the highest record version there can be (2^53 − 1, the
// largest integer every JSON reader holds exactly): versions grow by one a
// change, so no record comes near it, and an op based on a higher one is
// malformed. Bounded, a version plus one never wraps.
const MaxVersion = MaxExactNumber

// Op is one change of one record, as queued by a client and pushed to the
// server. OpID is the idempotency key: the server applies an op id once.
type Op struct {
	OpID        string `json:"op_id"`
	RecordID    string `json:"record_id"`
	Collection  string `json:"collection"`
	Kind        OpKind `json:"kind"`
	Fields      Fields `json:"fields,omitempty"` // the changed fields only (all fields for a create)
	BaseVersion int64  `json:"base_version"`     // the server version the change was made on
	// Resent marks an op sent before whose answer never arrived;
	// SentSince is then the sender's pull cursor before it first sent the
	// op. The server answers from its ledger; when the ledger no longer
	// reaches back to SentSince, it cannot tell whether the op was applied
	// and refuses it rather than apply it twice.
	Resent    bool  `json:"resent,omitempty"`
	SentSince int64 `json:"sent_since,omitempty"`
}

// OpResult is what the server did with an op.
type OpResult string

// The op results.
const (
	ResultApplied  OpResult = "applied"  // applied on the version it was based on
	ResultMerged   OpResult = "merged"   // applied over newer server changes of other fields
	ResultConflict OpResult = "conflict" // overlaps newer server changes; nothing applied
	ResultRejected OpResult = "rejected" // refused for good; nothing applied
)
