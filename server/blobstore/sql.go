package blobstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"casefile/internal/pghealth"
	"casefile/model"
)

// chunkBytes is where an implementation keeps chunk bytes; the index
// (sums, proofs, quotas) is the same SQL for both.
type chunkBytes interface {
	// putStaged keeps chunk n of an upload (inside tx when the bytes live
	// in the database).
	putStaged(ctx context.Context, tx *txn, upload string, n int, data []byte) error
	// staged reads a staged chunk; ErrNotFound if it is missing.
	staged(ctx context.Context, q querier, upload string, n int) ([]byte, error)
	// promote makes an upload's chunks the file hash's (or drops them
	// when the file is already held).
	promote(ctx context.Context, tx *txn, upload, hash string) error
	// lockUser makes tx the only one of its kind between here and its
	// end for a user's uploads, so that what the user holds cannot grow
	// between a quota check and the staging it allows.
	lockUser(ctx context.Context, tx *txn, user string) error
	// dropStaged forgets an upload's chunks.
	dropStaged(ctx context.Context, tx *txn, upload string) error
	// dropStagedChunk forgets chunk n of an upload, before tx commits:
	// should the commit fail, the index lists a chunk whose bytes are
	// gone, which Commit finds missing and has sent again.
	dropStagedChunk(ctx context.Context, tx *txn, upload string, n int) error
	// chunk reads chunk n of a file; ErrNotFound if it is missing.
	chunk(ctx context.Context, q querier, hash string, n int) ([]byte, error)
	// drop forgets a file's chunks.
	drop(ctx context.Context, tx *txn, hash string) error
}

// txn is an index transaction and the file removals that must wait for
// its commit (bytes go only once the index no longer names them).
type txn struct {
	*sql.Tx
	after []func()
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// sqlStore is the index both implementations share, written with $N
// parameters that SQLite and PostgreSQL both take.
type sqlStore struct {
	db    *sql.DB
	bytes chunkBytes
	now   func() time.Time
	close func() error
	// health, for a pool of connections to PostgreSQL, says which
	// errors are a connection found dead (nil for SQLite, in-process).
	health *pghealth.Pool
}

// again runs fn, a read or a statement that may run twice, and runs it
// once more when it failed on a pooled connection found dead (the
// database restarted, the network reset its connections) while ctx
// stands: the pool then checks the connections taken before the loss
// and hands out a live one, so the first requests after a restart are
// answered rather than refused.
func (s *sqlStore) again(ctx context.Context, fn func() error) error {
	err := fn()
	if s.health != nil && s.health.Retry(ctx, err) {
		err = fn()
	}
	return err
}

func (s *sqlStore) tx(ctx context.Context, fn func(*txn) error) (err error) {
	var sqltx *sql.Tx
	// A transaction that failed as it began has done nothing, so it may
	// begin again; one whose COMMIT was sent is never run again.
	err = s.again(ctx, func() (err error) {
		sqltx, err = s.db.BeginTx(ctx, nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &txn{Tx: sqltx}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, fn := range tx.after {
		fn()
	}
	return nil
}

func sum256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (s *sqlStore) PutChunk(ctx context.Context, u Upload, n int, sum string, data []byte) error {
	return s.tx(ctx, func(tx *txn) error {
		if u.Quota > 0 {
			if err := s.bytes.lockUser(ctx, tx, u.User); err != nil {
				return fmt.Errorf("lock the user's uploads: %w", err)
			}
			used, err := s.usage(ctx, tx, u.User)
			if err != nil {
				return err
			}
			// The upload's own staged chunks are in used already: the
			// file is counted whole once.
			var mine int64
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(size), 0) FROM blob_staged WHERE upload = $1 AND user_name = $2`,
				u.ID, u.User).Scan(&mine); err != nil {
				return err
			}
			if used-mine+u.Size > u.Quota {
				return &QuotaError{Used: used, Quota: u.Quota}
			}
		}
		if err := s.bytes.putStaged(ctx, tx, u.ID, n, data); err != nil {
			return fmt.Errorf("stage chunk: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO blob_staged (upload, n, sum, size, user_name, at) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (upload, n) DO UPDATE SET sum = excluded.sum, size = excluded.size, user_name = excluded.user_name, at = excluded.at`,
			u.ID, n, sum, len(data), u.User, s.now().UnixMicro())
		return err
	})
}

func (s *sqlStore) Staged(ctx context.Context, upload string, size int64) ([]int, error) {
	var fit map[int]stagedChunk
	var misfits []int
	err := s.again(ctx, func() (err error) {
		fit, misfits, err = s.stagedFit(ctx, s.db, upload, size)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(misfits) > 0 {
		// Read again in the transaction, so that a chunk staged since at
		// the right length is not the one dropped.
		err := s.tx(ctx, func(tx *txn) error {
			_, misfits, err := s.stagedFit(ctx, tx, upload, size)
			if err != nil {
				return err
			}
			return s.dropChunks(ctx, tx, upload, misfits)
		})
		if err != nil {
			return nil, fmt.Errorf("drop chunks of another size: %w", err)
		}
	}
	out := make([]int, 0, len(fit))
	for n := range fit {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

type stagedChunk struct {
	sum  string
	size int64
}

// stagedFit reads an upload's staged chunks: those a file of size bytes
// has, at their length, and the numbers of the others (misfits).
func (s *sqlStore) stagedFit(ctx context.Context, q querier, upload string, size int64) (map[int]stagedChunk, []int, error) {
	rows, err := q.QueryContext(ctx, `SELECT n, sum, size FROM blob_staged WHERE upload = $1`, upload)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	fit := map[int]stagedChunk{}
	var misfits []int
	for rows.Next() {
		var n int
		var c stagedChunk
		if err := rows.Scan(&n, &c.sum, &c.size); err != nil {
			return nil, nil, err
		}
		if want := model.ChunkLen(size, n); want < 0 || c.size != int64(want) {
			misfits = append(misfits, n)
			continue
		}
		fit[n] = c
	}
	return fit, misfits, rows.Err()
}

// dropChunks forgets chunks of an upload, bytes and index rows.
func (s *sqlStore) dropChunks(ctx context.Context, tx *txn, upload string, ns []int) error {
	for _, n := range ns {
		if err := s.bytes.dropStagedChunk(ctx, tx, upload, n); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM blob_staged WHERE upload = $1 AND n = $2`, upload, n); err != nil {
			return err
		}
	}
	return nil
}

func (s *sqlStore) Commit(ctx context.Context, upload string, p Proof) error {
	// Chunks found wanting are dropped in the same transaction, which
	// then commits: the answer is ErrIncomplete, and the upload lists
	// only what the file can use, so the client sends the rest.
	var incomplete bool
	err := s.tx(ctx, func(tx *txn) error {
		incomplete = false
		staged, misfits, err := s.stagedFit(ctx, tx, upload, p.Size)
		if err != nil {
			return err
		}
		if err := s.dropChunks(ctx, tx, upload, misfits); err != nil {
			return err
		}
		count := model.ChunkCount(p.Size)
		if len(staged) < count {
			incomplete = true
			return nil
		}
		held, err := s.held(ctx, tx, p.Hash)
		if err != nil {
			return err
		}
		// Even a file the store holds is read whole: the proof is that
		// this uploader had these bytes.
		whole := sha256.New()
		sums := make([]string, count)
		var missing []int
		for n := range count {
			b, err := s.bytes.staged(ctx, tx, upload, n)
			if errors.Is(err, ErrNotFound) || (err == nil && sum256(b) != staged[n].sum) {
				// Bytes the index lists but the store lost (a crash
				// between a file move and its index) or that changed.
				missing = append(missing, n)
				continue
			}
			if err != nil {
				return err
			}
			whole.Write(b)
			sums[n] = staged[n].sum
		}
		if len(missing) > 0 {
			incomplete = true
			return s.dropChunks(ctx, tx, upload, missing)
		}
		if hex.EncodeToString(whole.Sum(nil)) != p.Hash {
			return ErrHashMismatch
		}
		if !held {
			if _, err := tx.ExecContext(ctx, `INSERT INTO blob_files (hash, size, created_at) VALUES ($1, $2, $3)`, p.Hash, p.Size, s.now().UnixMicro()); err != nil {
				return err
			}
			for n, sum := range sums {
				if _, err := tx.ExecContext(ctx, `INSERT INTO blob_chunks (hash, n, sum) VALUES ($1, $2, $3)`, p.Hash, n, sum); err != nil {
					return err
				}
			}
		}
		if err := s.bytes.promote(ctx, tx, upload, p.Hash); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM blob_staged WHERE upload = $1`, upload); err != nil {
			return err
		}
		if p.At.IsZero() {
			p.At = s.now()
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO blob_unaudited (record_id, hash, size, user_name, device, at) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (record_id) DO UPDATE SET hash = excluded.hash, size = excluded.size, user_name = excluded.user_name,
			device = excluded.device, at = excluded.at`, p.RecordID, p.Hash, p.Size, p.User, p.Device, p.At.UnixMicro()); err != nil {
			return err
		}
		return s.putProof(ctx, tx, p)
	})
	switch {
	case err == nil && incomplete:
		return ErrIncomplete
	case errors.Is(err, ErrHashMismatch):
		return errors.Join(ErrHashMismatch, s.DropUpload(ctx, upload))
	}
	return err
}

func (s *sqlStore) held(ctx context.Context, q querier, hash string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM blob_files WHERE hash = $1`, hash).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func (s *sqlStore) putProof(ctx context.Context, q querier, p Proof) error {
	if p.At.IsZero() {
		p.At = s.now()
	}
	_, err := q.ExecContext(ctx, `INSERT INTO blob_proofs (record_id, matter_id, hash, size, user_name, at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (record_id) DO UPDATE SET matter_id = excluded.matter_id, hash = excluded.hash, size = excluded.size, user_name = excluded.user_name, at = excluded.at`,
		p.RecordID, p.MatterID, p.Hash, p.Size, p.User, p.At.UnixMicro())
	return err
}

func (s *sqlStore) Arrivals(ctx context.Context, before time.Time, limit int) (out []Proof, err error) {
	err = s.again(ctx, func() (err error) {
		out, err = s.arrivals(ctx, before, limit)
		return err
	})
	return out, err
}

func (s *sqlStore) arrivals(ctx context.Context, before time.Time, limit int) ([]Proof, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT record_id, hash, size, user_name, device, at FROM blob_unaudited
		WHERE at < $1 ORDER BY at, record_id LIMIT $2`, before.UnixMicro(), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Proof
	for rows.Next() {
		var p Proof
		var at int64
		if err := rows.Scan(&p.RecordID, &p.Hash, &p.Size, &p.User, &p.Device, &at); err != nil {
			return nil, err
		}
		p.At = time.UnixMicro(at).UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

func (s *sqlStore) Arrived(ctx context.Context, recordID string) error {
	return s.again(ctx, func() error {
		_, err := s.db.ExecContext(ctx, `DELETE FROM blob_unaudited WHERE record_id = $1`, recordID)
		return err
	})
}

func (s *sqlStore) AddProof(ctx context.Context, p Proof) error {
	return s.tx(ctx, func(tx *txn) error {
		held, err := s.held(ctx, tx, p.Hash)
		if err != nil {
			return err
		}
		if !held {
			return ErrNotFound
		}
		return s.putProof(ctx, tx, p)
	})
}

func (s *sqlStore) Proof(ctx context.Context, recordID string) (Proof, error) {
	p := Proof{RecordID: recordID}
	var at int64
	err := s.again(ctx, func() error {
		return s.db.QueryRowContext(ctx, `SELECT matter_id, hash, size, user_name, at FROM blob_proofs WHERE record_id = $1`, recordID).
			Scan(&p.MatterID, &p.Hash, &p.Size, &p.User, &at)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrNotFound
	}
	p.At = time.UnixMicro(at).UTC()
	return p, err
}

func (s *sqlStore) Provers(ctx context.Context, hash string, limit int) (out []Proof, err error) {
	err = s.again(ctx, func() (err error) {
		out, err = s.provers(ctx, hash, limit)
		return err
	})
	return out, err
}

func (s *sqlStore) provers(ctx context.Context, hash string, limit int) ([]Proof, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT record_id, matter_id, size, user_name, at FROM blob_proofs WHERE hash = $1
		ORDER BY at, record_id LIMIT $2`, hash, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Proof
	for rows.Next() {
		p := Proof{Hash: hash}
		var at int64
		if err := rows.Scan(&p.RecordID, &p.MatterID, &p.Size, &p.User, &at); err != nil {
			return nil, err
		}
		p.At = time.UnixMicro(at).UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

func (s *sqlStore) Chunk(ctx context.Context, hash string, n int) (b []byte, sum string, err error) {
	err = s.again(ctx, func() (err error) {
		b, sum, err = s.chunk(ctx, hash, n)
		return err
	})
	return b, sum, err
}

func (s *sqlStore) chunk(ctx context.Context, hash string, n int) ([]byte, string, error) {
	var sum string
	err := s.db.QueryRowContext(ctx, `SELECT sum FROM blob_chunks WHERE hash = $1 AND n = $2`, hash, n).Scan(&sum)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", ErrNotFound
	}
	if err != nil {
		return nil, "", err
	}
	b, err := s.bytes.chunk(ctx, s.db, hash, n)
	if errors.Is(err, ErrNotFound) {
		return nil, "", fmt.Errorf("%w: chunk %d of %s is missing", ErrCorrupt, n, hash)
	}
	if err != nil {
		return nil, "", err
	}
	if sum256(b) != sum {
		return nil, "", fmt.Errorf("%w: chunk %d of %s", ErrCorrupt, n, hash)
	}
	return b, sum, nil
}

func (s *sqlStore) Sums(ctx context.Context, hash string) (out []string, err error) {
	err = s.again(ctx, func() (err error) {
		out, err = s.sums(ctx, hash)
		return err
	})
	return out, err
}

func (s *sqlStore) sums(ctx context.Context, hash string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT sum FROM blob_chunks WHERE hash = $1 ORDER BY n`, hash)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var sum string
		if err := rows.Scan(&sum); err != nil {
			return nil, err
		}
		out = append(out, sum)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return out, nil
}

func (s *sqlStore) Usage(ctx context.Context, user string) (used int64, err error) {
	err = s.again(ctx, func() (err error) {
		used, err = s.usage(ctx, s.db, user)
		return err
	})
	return used, err
}

func (s *sqlStore) usage(ctx context.Context, q querier, user string) (int64, error) {
	// A file counts once however many of the user's records name it:
	// copies of one file take no more room. Proofs and staged chunks are
	// read in one statement, so in one snapshot: read in two, a commit
	// between them, which turns a file's staged chunks into its proof,
	// had the file counted in neither (PostgreSQL reads each statement
	// as of its start), and a user's uploads at once passed the quota.
	var used int64
	err := q.QueryRowContext(ctx, `SELECT
		(SELECT COALESCE(SUM(size), 0) FROM (SELECT DISTINCT hash, size FROM blob_proofs WHERE user_name = $1) AS held) +
		(SELECT COALESCE(SUM(size), 0) FROM blob_staged WHERE user_name = $1)`, user).Scan(&used)
	return used, err
}

func (s *sqlStore) DropUpload(ctx context.Context, upload string) error {
	return s.tx(ctx, func(tx *txn) error {
		if err := s.bytes.dropStaged(ctx, tx, upload); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM blob_staged WHERE upload = $1`, upload)
		return err
	})
}

func (s *sqlStore) Sweep(ctx context.Context, keep func(context.Context, string) (bool, error), staleBefore time.Time) (SweepStats, error) {
	var st SweepStats
	ids, err := s.column(ctx, `SELECT record_id FROM blob_proofs ORDER BY record_id`)
	if err != nil {
		return st, err
	}
	for _, id := range ids {
		ok, err := keep(ctx, id)
		if err != nil {
			return st, fmt.Errorf("sweep: %w", err)
		}
		if ok {
			continue
		}
		err = s.again(ctx, func() error {
			_, err := s.db.ExecContext(ctx, `DELETE FROM blob_proofs WHERE record_id = $1`, id)
			return err
		})
		if err != nil {
			return st, err
		}
		st.Proofs++
	}
	stale, err := s.column(ctx, `SELECT DISTINCT upload FROM blob_staged GROUP BY upload HAVING MAX(at) < $1`, staleBefore.UnixMicro())
	if err != nil {
		return st, err
	}
	for _, u := range stale {
		if err := s.DropUpload(ctx, u); err != nil {
			return st, err
		}
		st.Uploads++
	}
	orphans, err := s.column(ctx, `SELECT hash FROM blob_files f WHERE NOT EXISTS (SELECT 1 FROM blob_proofs p WHERE p.hash = f.hash)`)
	if err != nil {
		return st, err
	}
	for _, h := range orphans {
		err := s.tx(ctx, func(tx *txn) error {
			// A proof added since the query keeps the file.
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM blob_proofs WHERE hash = $1 LIMIT 1`, h).Scan(&one)
			if err == nil {
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			var size int64
			if err := tx.QueryRowContext(ctx, `SELECT size FROM blob_files WHERE hash = $1`, h).Scan(&size); err != nil {
				return err
			}
			if err := s.bytes.drop(ctx, tx, h); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM blob_chunks WHERE hash = $1`, h); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM blob_files WHERE hash = $1`, h); err != nil {
				return err
			}
			st.Files++
			st.Bytes += size
			return nil
		})
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

func (s *sqlStore) column(ctx context.Context, q string, args ...any) (out []string, err error) {
	err = s.again(ctx, func() (err error) {
		out, err = s.column1(ctx, q, args...)
		return err
	})
	return out, err
}

func (s *sqlStore) column1(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (s *sqlStore) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := s.again(ctx, func() error {
		return s.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blob_files`).Scan(&st.Files, &st.Bytes)
	})
	return st, err
}

func (s *sqlStore) Close() error { return s.close() }
