package storemove

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"casefile/server/blobstore"
)

// copyAll copies server.db's tables, then the blob index's and the
// chunks' bytes.
func (m *mover) copyAll(ctx context.Context) error {
	m.want = map[string]int64{}
	m.one = map[string]oneRow{}
	if err := m.copyTables(ctx, m.src.server, m.src.serverPath, serverTables); err != nil {
		return err
	}
	if m.src.blobs == nil {
		return nil
	}
	if err := m.copyTables(ctx, m.src.blobs, filepath.Join(m.src.blobDir, blobstore.IndexName), blobTables); err != nil {
		return err
	}
	return m.copyChunks(ctx)
}

// copyTables copies the tables of one SQLite file as plan says, after
// checking that plan names every table the file holds.
func (m *mover) copyTables(ctx context.Context, src *sql.Tx, path string, plan []table) error {
	have, err := sourceTables(ctx, src)
	if err != nil {
		return fmt.Errorf("list the tables of %s: %w", path, err)
	}
	if unknown := uncovered(have, plan); len(unknown) > 0 {
		return fmt.Errorf("%s holds tables this casefile's move does not know (%s): moving would lose them, so nothing was changed; move with the casefile that made them", path, strings.Join(unknown, ", "))
	}
	for _, t := range plan {
		if !slices.Contains(have, t.name) {
			if t.since {
				continue
			}
			return fmt.Errorf("%s lacks the table %s: it is not a server store of this casefile's layout", path, t.name)
		}
		switch t.kind {
		case copyRows:
			n, err := m.copyRows(ctx, src, t.name)
			if err != nil {
				return fmt.Errorf("copy %s: %w", t.name, err)
			}
			m.res.Tables = append(m.res.Tables, Count{Table: t.name, Rows: n})
			if m.copied != nil {
				m.copied(t.name, n)
			}
		case copyOne:
			if err := m.copyOne(ctx, src, t.name); err != nil {
				return fmt.Errorf("copy %s: %w", t.name, err)
			}
		case dropped:
			n, err := count(ctx, src, t.name)
			if err != nil {
				return err
			}
			if n > 0 {
				m.res.Dropped = append(m.res.Dropped, Dropped{Table: t.name, Rows: n, Why: t.why})
			}
		}
	}
	return nil
}

// columns pairs a table's columns in both stores.
func (m *mover) columns(ctx context.Context, src *sql.Tx, name string) ([]string, []convert, error) {
	srcCols, err := sourceColumns(ctx, src, name)
	if err != nil {
		return nil, nil, fmt.Errorf("read the source's columns: %w", err)
	}
	dstCols, err := targetColumns(ctx, m.tx, name)
	if err != nil {
		return nil, nil, err
	}
	return matchColumns(name, srcCols, dstCols)
}

// copyRows copies every row of a table with one COPY.
func (m *mover) copyRows(ctx context.Context, src *sql.Tx, name string) (int64, error) {
	cols, convs, err := m.columns(ctx, src, name)
	if err != nil {
		return 0, err
	}
	want, err := count(ctx, src, name)
	if err != nil {
		return 0, err
	}
	m.want[name] = want
	rows, err := src.QueryContext(ctx, `SELECT `+columnList(cols)+` FROM `+quote(name)) // #nosec G202 -- names from the move's plan and the stores' own schemas, quoted
	if err != nil {
		return 0, fmt.Errorf("read the source: %w", err)
	}
	defer rows.Close()
	n, err := m.copyFrom(ctx, name, cols, &rowSource{rows: rows, convs: convs})
	if err != nil {
		return n, err
	}
	if n != want {
		return n, fmt.Errorf("copied %d rows of the source's %d", n, want)
	}
	return n, nil
}

// copyOne sets the single row a new store holds (the head, the access
// generation) to the source's.
func (m *mover) copyOne(ctx context.Context, src *sql.Tx, name string) error {
	cols, convs, err := m.columns(ctx, src, name)
	if err != nil {
		return err
	}
	rows, err := src.QueryContext(ctx, `SELECT `+columnList(cols)+` FROM `+quote(name)) // #nosec G202 -- names from the move's plan and the stores' own schemas, quoted
	if err != nil {
		return fmt.Errorf("read the source: %w", err)
	}
	defer rows.Close()
	rs := &rowSource{rows: rows, convs: convs}
	var vals []any
	for rs.Next() {
		if vals != nil {
			return errors.New("the source holds more than one row")
		}
		if vals, err = rs.Values(); err != nil {
			return err
		}
	}
	if err := rs.Err(); err != nil {
		return err
	}
	if vals == nil {
		return errors.New("the source holds no row")
	}
	sets := make([]string, len(cols))
	for i, c := range cols {
		sets[i] = fmt.Sprintf("%s = $%d", quote(c), i+1)
	}
	r, err := m.tx.ExecContext(ctx, `UPDATE `+quote(name)+` SET `+strings.Join(sets, ", "), vals...) // #nosec G202 -- names from the move's plan and the stores' own schemas, quoted
	if err != nil {
		return err
	}
	if n, err := r.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("the target's %s holds %d rows, not the one a new store has (%v)", name, n, err)
	}
	m.one[name] = oneRow{cols: cols, vals: vals}
	return nil
}

// copyChunks copies the bytes of every stored file's chunks from the
// directory store's files into blob_data, each checked against the sum
// its index holds: a damaged chunk stops the move rather than being
// carried into the new store.
func (m *mover) copyChunks(ctx context.Context) error {
	rows, err := m.src.blobs.QueryContext(ctx, `SELECT hash, n, sum FROM blob_chunks ORDER BY hash, n`)
	if err != nil {
		return fmt.Errorf("read the file chunks: %w", err)
	}
	defer rows.Close()
	cs := &chunkSource{dir: m.src.blobDir, rows: rows}
	n, err := m.copyFrom(ctx, chunkData, []string{"hash", "n", "data"}, cs)
	if err != nil {
		rows.Close()
		if cs.bad != "" {
			return fmt.Errorf("copy the files' bytes: %w%s", err, m.attachedTo(ctx, cs.bad))
		}
		return fmt.Errorf("copy the files' bytes: %w", err)
	}
	m.want[chunkData] = m.want["blob_chunks"]
	m.res.Files, m.res.Chunks, m.res.Bytes = m.want["blob_files"], n, cs.bytes
	if m.copied != nil {
		m.copied(chunkData, n)
	}
	return nil
}

// attachedTo names, for an error, the records whose attachment the file
// with this hash is: the person who knows them can tell what the backup
// must bring back.
func (m *mover) attachedTo(ctx context.Context, hash string) string {
	rows, err := m.src.blobs.QueryContext(ctx, `SELECT record_id FROM blob_proofs WHERE hash = ? ORDER BY record_id LIMIT 6`, hash)
	if err != nil {
		return ""
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if rows.Scan(&id) == nil {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return " (no record attaches it now)"
	}
	more := ""
	if len(ids) > 5 {
		ids, more = ids[:5], " and more"
	}
	return " (the attachment of record " + strings.Join(ids, ", ") + more + ")"
}

// analyze gathers the planner's statistics of the tables the move filled:
// until autovacuum comes by, a table loaded in bulk looks empty to the
// planner, and the first servers' queries would be planned for that.
func (m *mover) analyze(ctx context.Context) error {
	for name := range m.want {
		if _, err := m.tx.ExecContext(ctx, `ANALYZE `+quote(name)); err != nil {
			return fmt.Errorf("analyze %s: %w", name, err)
		}
	}
	return nil
}

// copyFrom runs a COPY on the transaction's connection: database/sql has
// no COPY, so it reaches the pgx connection beneath, whose transaction the
// rows join.
func (m *mover) copyFrom(ctx context.Context, table string, cols []string, src pgx.CopyFromSource) (n int64, err error) {
	err = m.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("a pgx connection was expected, not %T", dc)
		}
		n, err = c.Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, src)
		return err
	})
	return n, err
}

// rowSource feeds a COPY from a SQLite query, converting each value to
// its PostgreSQL column's type.
type rowSource struct {
	rows  *sql.Rows
	convs []convert
	err   error
}

func (r *rowSource) Next() bool { return r.err == nil && r.rows.Next() }

func (r *rowSource) Values() ([]any, error) {
	raw := make([]any, len(r.convs))
	ptrs := make([]any, len(raw))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	if err := r.rows.Scan(ptrs...); err != nil {
		r.err = err
		return nil, err
	}
	for i, conv := range r.convs {
		v, err := conv(raw[i])
		if err != nil {
			r.err = err
			return nil, err
		}
		raw[i] = v
	}
	return raw, nil
}

func (r *rowSource) Err() error { return errors.Join(r.err, r.rows.Err()) }

// chunkSource feeds a COPY into blob_data from the directory store's
// chunk files, one chunk in memory at a time.
type chunkSource struct {
	dir   string
	rows  *sql.Rows
	bytes int64
	err   error
	bad   string // the hash of the file whose chunk failed
}

func (c *chunkSource) Next() bool { return c.err == nil && c.rows.Next() }

func (c *chunkSource) Values() ([]any, error) {
	var hash, sum string
	var n int
	if err := c.rows.Scan(&hash, &n, &sum); err != nil {
		c.err = err
		return nil, err
	}
	data, err := os.ReadFile(blobstore.ChunkPath(c.dir, hash, n)) // #nosec G304 -- a path built from the store's own index
	if err == nil {
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != sum {
			err = errors.New("its bytes do not match the sum the index holds")
		}
	}
	if err != nil {
		c.bad = hash
		c.err = fmt.Errorf("chunk %d of file %s in %s: %w; the file store is damaged: restore %s from a backup, then move again", n, hash, c.dir, err, c.dir)
		return nil, c.err
	}
	if data == nil {
		data = []byte{} // an empty file's one chunk is empty, not NULL
	}
	c.bytes += int64(len(data))
	return []any{hash, n, data}, nil
}

func (c *chunkSource) Err() error { return errors.Join(c.err, c.rows.Err()) }

// count returns a table's rows in a snapshot of either store.
func count(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, name string) (int64, error) {
	var n int64
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM `+quote(name)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count the rows of %s: %w", name, err)
	}
	return n, nil
}

// quote quotes an identifier the way both SQLite and PostgreSQL read it.
func quote(name string) string { return pgx.Identifier{name}.Sanitize() }

func columnList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = quote(c)
	}
	return strings.Join(q, ", ")
}
