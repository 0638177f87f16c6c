// Package demo holds the data `casefile demo` seeds: a small firm's
// matters with their notes, tasks, hearings, time entries, contacts,
// documents and site visits.
package demo

import _ "embed"

// Seed is the demo data as JSON: see cli/demo_seed.go for its shape.
//
//go:embed seed.json
var Seed []byte
