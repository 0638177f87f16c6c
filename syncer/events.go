// Package syncer moves a client's outbox to the server and the server's
// changes into the local database, and tells the UI what is happening.
package syncer

import (
	"time"

	"casefile/model"
)

// Connectivity is what the client knows of its link to the server, from
// real request outcomes and a light health probe.
type Connectivity string

// The connectivity states.
const (
	Online      Connectivity = "online"       // the last exchange with the server worked
	Syncing     Connectivity = "syncing"      // an exchange is under way
	Offline     Connectivity = "offline"      // the server cannot be reached
	Degraded    Connectivity = "degraded"     // reachable, but requests fail (5xx, 429, timeouts)
	WorkOffline Connectivity = "work-offline" // the user turned all network traffic off
	LoggedOut   Connectivity = "logged-out"   // no credentials, or the server refused the token
)

// EventKind says what an Event reports.
type EventKind string

// The event kinds.
const (
	EventConnectivity EventKind = "connectivity" // Connectivity changed
	EventProgress     EventKind = "progress"     // pull progress (initial sync)
	EventRecord       EventKind = "record"       // a record changed state
	EventPushed       EventKind = "pushed"       // a push batch was answered
	EventPulled       EventKind = "pulled"       // a pull page was applied
	EventError        EventKind = "error"        // a sync step failed; Err says why
	EventCycle        EventKind = "cycle"        // a full sync cycle ended
	// EventRevoked: the server refused this device for good (an admin
	// revoked it); whoever runs the syncer must wipe the device's copy.
	// Said once; Err carries the server's sentence.
	EventRevoked EventKind = "revoked"
)

// Event is one thing the syncer tells the UI. Events are dropped, never
// blocked on, when the reader is slow; the UI re-reads the database anyway.
type Event struct {
	Kind         EventKind
	At           time.Time
	Connectivity Connectivity    // EventConnectivity, and current state on every event
	RecordID     string          // EventRecord
	State        model.SyncState // EventRecord
	Result       model.OpResult  // EventRecord after a push answer
	Done, Total  int64           // EventProgress: records pulled so far / estimate
	Counts       Summary         // EventPushed, EventPulled, EventCycle
	Err          string          // EventError: a sentence for people
}

// Summary counts what one cycle (or step) did.
type Summary struct {
	Pushed    int `json:"pushed"`    // ops the server applied or merged
	Pulled    int `json:"pulled"`    // records received
	Conflicts int `json:"conflicts"` // ops answered with conflict
	Failed    int `json:"failed"`    // ops rejected
	Retrying  int `json:"retrying"`  // ops left to retry
	// Overlapped counts the push batches taken and encoded while the
	// batch before was on the server (see run.push); for tests and
	// diagnosis.
	Overlapped int `json:"-"`
	// PulledAhead counts the pull pages asked for from the headers of the
	// answer before them, while its body was still to come (see
	// pageFetch); for tests and diagnosis.
	PulledAhead int `json:"-"`
}
