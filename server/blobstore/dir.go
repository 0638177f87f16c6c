package blobstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"casefile/internal/sqlitefile"
	"casefile/internal/stmtcache"
)

//go:embed migrations/sqlite.sql
var sqliteSchema string

// DirName is the blob store's directory inside a server data directory.
const DirName = "files"

// IndexName is the directory store's index inside its directory.
const IndexName = "blobs.db"

// ChunkPath is where a directory store at dir keeps chunk n of a file.
func ChunkPath(dir, hash string, n int) string {
	return filepath.Join(dirBytes{dir: dir}.fileDir(hash), strconv.Itoa(n))
}

// OpenDir opens (creating) a directory store: chunk files under
// dir/sha256/ab/HASH/N, uploads under dir/staging/ID/N and their index in
// dir/blobs.db.
func OpenDir(ctx context.Context, dir string) (Store, error) {
	for _, sub := range []string{"sha256", "staging"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("create blob dir: %w", err)
		}
	}
	// The index names every file's hash and who uploaded it: as private
	// as the chunks, whatever the directory it sits in lets others do.
	index := filepath.Join(dir, IndexName)
	if err := sqlitefile.Private(index); err != nil {
		return nil, fmt.Errorf("open blob index: %w", err)
	}
	// synchronous FULL: an index row may be the only record that an
	// acknowledged chunk is held.
	db := stmtcache.Open("file:" + index +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, sqliteSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create blob index: %w", err)
	}
	return &sqlStore{db: db, bytes: dirBytes{dir: dir}, now: time.Now, close: db.Close}, nil
}

// dirBytes keeps chunks as files. A chunk is written to a temporary name,
// synced and renamed, so a chunk file is either whole or absent.
type dirBytes struct{ dir string }

func (d dirBytes) stagingDir(upload string) string { return filepath.Join(d.dir, "staging", upload) }

func (d dirBytes) fileDir(hash string) string {
	return filepath.Join(d.dir, "sha256", hash[:2], hash)
}

// lockUser has nothing to take: the index has one connection and begins
// its transactions IMMEDIATE, so they run one at a time.
func (dirBytes) lockUser(context.Context, *txn, string) error { return nil }

func (d dirBytes) putStaged(_ context.Context, _ *txn, upload string, n int, data []byte) error {
	dir := d.stagingDir(upload)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return writeFileSync(filepath.Join(dir, strconv.Itoa(n)), data)
}

func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600) // #nosec G304 -- a path built from a record id the server checked
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func readChunkFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- a path built from a hash or record id the server checked
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	return b, err
}

func (d dirBytes) staged(_ context.Context, _ querier, upload string, n int) ([]byte, error) {
	return readChunkFile(filepath.Join(d.stagingDir(upload), strconv.Itoa(n)))
}

// promote renames the upload's directory to the file's before the index
// commits: if the commit then fails, the index still lists the upload's
// chunks, Commit finds them missing and has them sent again; the other
// order could leave an index naming bytes that are nowhere.
func (d dirBytes) promote(_ context.Context, _ *txn, upload, hash string) error {
	dst := d.fileDir(hash)
	if _, err := os.Stat(dst); err == nil {
		return os.RemoveAll(d.stagingDir(upload))
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	return os.Rename(d.stagingDir(upload), dst)
}

func (d dirBytes) dropStaged(_ context.Context, tx *txn, upload string) error {
	tx.after = append(tx.after, func() { _ = os.RemoveAll(d.stagingDir(upload)) })
	return nil
}

func (d dirBytes) dropStagedChunk(_ context.Context, _ *txn, upload string, n int) error {
	err := os.Remove(filepath.Join(d.stagingDir(upload), strconv.Itoa(n)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func (d dirBytes) chunk(_ context.Context, _ querier, hash string, n int) ([]byte, error) {
	return readChunkFile(ChunkPath(d.dir, hash, n))
}

func (d dirBytes) drop(_ context.Context, tx *txn, hash string) error {
	tx.after = append(tx.after, func() { _ = os.RemoveAll(d.fileDir(hash)) })
	return nil
}
