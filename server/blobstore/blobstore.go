// Package blobstore keeps the bytes of attached files on the server:
// content-addressed by SHA-256, in chunks of model.ChunkSize, with uploads
// staged chunk by chunk (so a cut upload resumes from what the server
// holds) and each record's proof that its uploader had the bytes. Two
// implementations run through one conformance suite: a directory (the
// SQLite default; chunk files beside a small SQLite index) and PostgreSQL
// (chunks in a table), so several replicas on one database serve the same
// files.
package blobstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors of a Store, checked with errors.Is.
var (
	ErrNotFound     = errors.New("blob not found")
	ErrIncomplete   = errors.New("upload incomplete")
	ErrHashMismatch = errors.New("bytes do not match the file's sha256")
	ErrCorrupt      = errors.New("stored chunk does not match its sha256")
)

// Upload names a staging area: one per attachment record, so what one
// user's upload holds is never visible through another record.
type Upload struct {
	ID   string // the attachment record's id
	User string // who sends the chunks (their quota pays for them)
	// Size is the whole file's, and Quota the bytes User may hold (0: no
	// limit). PutChunk refuses, with a *QuotaError, a chunk of an upload
	// whose file, counted whole, would take User past Quota; the check
	// and the staging are one step, so uploads sent at once cannot pass
	// it together.
	Size, Quota int64
}

// QuotaError is PutChunk's refusal of a chunk whose upload would take its
// user past their quota. Used is what the user's proofs and staged chunks
// take now.
type QuotaError struct{ Used, Quota int64 }

func (e *QuotaError) Error() string {
	return fmt.Sprintf("past the quota: %d bytes used of %d", e.Used, e.Quota)
}

// Proof says that a record's file was received whole: the record may be
// downloaded, and its bytes are kept while the record exists.
type Proof struct {
	RecordID string
	MatterID string
	Hash     string
	Size     int64
	User     string // who uploaded it
	At       time.Time
	// Device, on a Commit, is the device that sent the bytes: kept with
	// the upload's arrival until the server has audited it (Arrivals),
	// not with the proof.
	Device string
}

// SweepStats counts what a sweep removed.
type SweepStats struct {
	Proofs, Files, Uploads int64
	Bytes                  int64 // bytes of files removed
}

// Stats describes what a store holds.
type Stats struct {
	Files int64 // distinct files (by hash)
	Bytes int64 // their bytes, each counted once
}

// Store is a server's file storage.
type Store interface {
	// PutChunk stages chunk n of an upload; sum is its verified SHA-256.
	// Putting a chunk again replaces it.
	PutChunk(ctx context.Context, u Upload, n int, sum string, data []byte) error
	// Staged returns the chunk numbers an upload holds for a file of size
	// bytes, in order. A staged chunk that such a file does not have, or
	// whose length is not its chunk's, is dropped from the upload, to be
	// sent again: it was staged while the attachment named another size
	// (any member may change it), and listed as held it would never be.
	Staged(ctx context.Context, uploadID string, size int64) ([]int, error)
	// Commit checks that the upload holds every chunk of p.Size bytes and
	// that they hash to p.Hash, keeps the bytes (once per hash) and stores
	// p, with the upload's arrival to be audited (Arrivals) in the same
	// transaction. ErrIncomplete when chunks are missing; a staged chunk that fails
	// its checks (its length, its bytes gone or not matching its sum) is
	// dropped from the upload, to be sent again, as is one past the
	// file's end. ErrHashMismatch when the bytes are another file's, and
	// then the upload is emptied.
	Commit(ctx context.Context, uploadID string, p Proof) error
	// AddProof stores a proof for bytes the store already holds (a record
	// of a matter that already has them); ErrNotFound if it does not.
	AddProof(ctx context.Context, p Proof) error
	// Proof returns a record's proof or ErrNotFound.
	Proof(ctx context.Context, recordID string) (Proof, error)
	// Provers returns up to limit proofs that name hash, the records'
	// whose file it is (a proof's MatterID is the record's matter when
	// the proof was made: records move, so callers ask the record).
	Provers(ctx context.Context, hash string, limit int) ([]Proof, error)
	// Chunk returns chunk n of a file and its SHA-256; ErrCorrupt if
	// the stored bytes no longer match.
	Chunk(ctx context.Context, hash string, n int) ([]byte, string, error)
	// Sums returns the SHA-256 of each chunk of a file, in order.
	Sums(ctx context.Context, hash string) ([]string, error)
	// Usage returns the bytes a user's proofs and staged chunks take, each
	// file (hash) of their proofs counted once.
	Usage(ctx context.Context, user string) (int64, error)
	// DropUpload empties an upload.
	DropUpload(ctx context.Context, uploadID string) error
	// Arrivals returns uploads committed before before whose arrival is
	// not yet audited (Arrived), oldest first, at most limit: the server
	// died, or its database failed, between a Commit and its audit row.
	// Each is the proof Commit stored, with its Device (and no MatterID),
	// kept even when the proof has since been swept.
	Arrivals(ctx context.Context, before time.Time, limit int) ([]Proof, error)
	// Arrived notes that an upload's arrival is in the audit log.
	Arrived(ctx context.Context, recordID string) error
	// Sweep drops proofs whose record is gone (keep says false), files no
	// proof names and uploads untouched since staleBefore.
	Sweep(ctx context.Context, keep func(ctx context.Context, recordID string) (bool, error), staleBefore time.Time) (SweepStats, error)
	// Stats describes what the store holds.
	Stats(ctx context.Context) (Stats, error)
	// Close releases the store.
	Close() error
}
