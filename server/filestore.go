package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"casefile/server/blobstore"
	"casefile/server/store"
	"casefile/server/store/pgstore"
)

// DefaultFileStoreTimeout bounds one call of the file store unless
// Options.FileStoreTimeout says otherwise: a chunk written or read, an
// upload's state, a commit. A chunk is at most model.ChunkSize, so a call
// that takes longer is a database that stopped answering (its link gone
// silent) or a lock held by a session that will not let go.
const DefaultFileStoreTimeout = 30 * time.Second

// boundedBlobs gives each call of the file store a deadline and names its
// failures the way the record store names its own, so that a database
// that does not answer costs the request a 503 with Retry-After (and its
// client a retry) instead of a handler waiting until TCP gives up. The
// sweep, which runs in the background and may be long, has no deadline.
type boundedBlobs struct {
	blobstore.Store
	timeout time.Duration
}

// boundBlobs wraps b for the server of opts.
func boundBlobs(b blobstore.Store, opts Options) blobstore.Store {
	return &boundedBlobs{Store: b, timeout: opts.FileStoreTimeout}
}

// call runs fn under the deadline and names its failure.
func (b *boundedBlobs) call(ctx context.Context, fn func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	err := fn(cctx)
	switch {
	case err == nil:
		return nil
	case ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded):
		// Ours, not the client's going away: nothing came back in time.
		return fmt.Errorf("%w: the file store did not answer within %v: %w", store.ErrUnavailable, b.timeout, err)
	}
	// PostgreSQL's lock waits and refused connections; the directory
	// store's failures are the disk's, and come back as they are.
	return pgstore.Classify(err)
}

func (b *boundedBlobs) PutChunk(ctx context.Context, u blobstore.Upload, n int, sum string, data []byte) error {
	return b.call(ctx, func(ctx context.Context) error { return b.Store.PutChunk(ctx, u, n, sum, data) })
}

func (b *boundedBlobs) Staged(ctx context.Context, uploadID string, size int64) (have []int, err error) {
	err = b.call(ctx, func(ctx context.Context) error { have, err = b.Store.Staged(ctx, uploadID, size); return err })
	return have, err
}

func (b *boundedBlobs) Commit(ctx context.Context, uploadID string, p blobstore.Proof) error {
	return b.call(ctx, func(ctx context.Context) error { return b.Store.Commit(ctx, uploadID, p) })
}

func (b *boundedBlobs) AddProof(ctx context.Context, p blobstore.Proof) error {
	return b.call(ctx, func(ctx context.Context) error { return b.Store.AddProof(ctx, p) })
}

func (b *boundedBlobs) Proof(ctx context.Context, recordID string) (p blobstore.Proof, err error) {
	err = b.call(ctx, func(ctx context.Context) error { p, err = b.Store.Proof(ctx, recordID); return err })
	return p, err
}

func (b *boundedBlobs) Provers(ctx context.Context, hash string, limit int) (ps []blobstore.Proof, err error) {
	err = b.call(ctx, func(ctx context.Context) error { ps, err = b.Store.Provers(ctx, hash, limit); return err })
	return ps, err
}

func (b *boundedBlobs) Chunk(ctx context.Context, hash string, n int) (data []byte, sum string, err error) {
	err = b.call(ctx, func(ctx context.Context) error { data, sum, err = b.Store.Chunk(ctx, hash, n); return err })
	return data, sum, err
}

func (b *boundedBlobs) Sums(ctx context.Context, hash string) (sums []string, err error) {
	err = b.call(ctx, func(ctx context.Context) error { sums, err = b.Store.Sums(ctx, hash); return err })
	return sums, err
}

func (b *boundedBlobs) Usage(ctx context.Context, user string) (n int64, err error) {
	err = b.call(ctx, func(ctx context.Context) error { n, err = b.Store.Usage(ctx, user); return err })
	return n, err
}

func (b *boundedBlobs) DropUpload(ctx context.Context, uploadID string) error {
	return b.call(ctx, func(ctx context.Context) error { return b.Store.DropUpload(ctx, uploadID) })
}
