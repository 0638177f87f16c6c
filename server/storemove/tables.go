package storemove

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
)

// kind says what the move does with a table of the SQLite store.
type kind int

const (
	copyRows kind = iota // every row, through COPY
	copyOne              // the one row a new store already holds, set to the source's
	compared             // schema_migrations: the layouts must match; the target keeps its own
	dropped              // not copied; why says what that costs
)

// table is a table of the SQLite store and what the move does with it.
type table struct {
	name string
	kind kind
	why  string // for dropped
	// since: the blob index of a server older than the table lacks it
	// (its tables are made as a store opens, not by versioned
	// migrations): then there is nothing of it to move.
	since bool
}

// serverTables are server.db's tables, in copying order: users before the
// tokens and memberships that refer to them.
var serverTables = []table{
	{name: "users"},
	{name: "tokens"},
	{name: "devices"},
	{name: "members"},
	{name: "access_events"},
	{name: "records"},
	{name: "moves"},
	{name: "graves"},
	{name: "ledger"},
	{name: "audit"},
	{name: "login_failures"},
	{name: "head", kind: copyOne},
	{name: "access_gen", kind: copyOne},
	{name: "schema_migrations", kind: compared},
}

// blobTables are the directory blob store's index tables (blobs.db); the
// chunks' bytes, files beside it there, go to blob_data.
var blobTables = []table{
	{name: "blob_files"},
	{name: "blob_chunks"},
	{name: "blob_proofs"},
	{name: "blob_unaudited", since: true},
	{name: "blob_staged", kind: dropped, why: "uploads in progress; each device sends its chunks again"},
}

// chunkData is the PostgreSQL table of chunk bytes, which a directory
// store keeps as files.
const chunkData = "blob_data"

// uncovered returns the tables of have that plan does not name: a
// migration added a table and the move was not taught it. Moving without
// it would lose its rows, so the move refuses.
func uncovered(have []string, plan []table) []string {
	var out []string
	for _, name := range have {
		if !slices.ContainsFunc(plan, func(t table) bool { return t.name == name }) {
			out = append(out, name)
		}
	}
	return out
}

// sourceTables lists the tables of a SQLite database.
func sourceTables(ctx context.Context, tx *sql.Tx) ([]string, error) {
	return strings1(ctx, tx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
}

// sourceColumns lists a SQLite table's columns in order.
func sourceColumns(ctx context.Context, tx *sql.Tx, table string) ([]string, error) {
	return strings1(ctx, tx, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, table)
}

// column is a column of a PostgreSQL table.
type column struct{ name, typ string }

// targetColumns lists a PostgreSQL table's columns (in the search_path's
// first schema) in order, with their types.
func targetColumns(ctx context.Context, tx *sql.Tx, table string) ([]column, error) {
	rows, err := tx.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", table, err)
	}
	defer rows.Close()
	var out []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.typ); err != nil {
			return nil, fmt.Errorf("read the columns of %s: %w", table, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// matchColumns pairs a source table's columns with the target's: the same
// names, each with the conversion its target type needs. A column on one
// side only is a layout the move cannot map, named in the error.
func matchColumns(table string, src []string, dst []column) ([]string, []convert, error) {
	if len(dst) == 0 {
		return nil, nil, fmt.Errorf("table %s has no counterpart in the PostgreSQL store", table)
	}
	byName := map[string]column{}
	for _, c := range dst {
		byName[c.name] = c
	}
	var convs []convert
	for _, name := range src {
		c, ok := byName[name]
		if !ok {
			return nil, nil, fmt.Errorf("column %s.%s has no counterpart in the PostgreSQL store", table, name)
		}
		delete(byName, name)
		conv, err := converter(c.typ)
		if err != nil {
			return nil, nil, fmt.Errorf("column %s.%s: %w", table, name, err)
		}
		convs = append(convs, conv)
	}
	for name := range byName {
		return nil, nil, fmt.Errorf("column %s.%s of the PostgreSQL store has no counterpart in the SQLite store", table, name)
	}
	return src, convs, nil
}

// convert turns a value SQLite gave into the one its PostgreSQL column
// takes.
type convert func(v any) (any, error)

// converter returns the conversion into a PostgreSQL type. SQLite keeps a
// BOOLEAN as the integer 0 or 1 and any text as TEXT; PostgreSQL wants
// booleans, and JSON as its text.
func converter(pgType string) (convert, error) {
	switch pgType {
	case "boolean":
		return func(v any) (any, error) {
			switch x := v.(type) {
			case nil, bool:
				return x, nil
			case int64:
				return x != 0, nil
			}
			return nil, fmt.Errorf("%T is not a boolean", v)
		}, nil
	case "bigint", "integer", "smallint":
		return func(v any) (any, error) {
			switch x := v.(type) {
			case nil, int64:
				return x, nil
			case bool:
				if x {
					return int64(1), nil
				}
				return int64(0), nil
			}
			return nil, fmt.Errorf("%T is not an integer", v)
		}, nil
	case "text", "json", "jsonb":
		return func(v any) (any, error) {
			switch x := v.(type) {
			case nil, string:
				return x, nil
			case []byte:
				return string(x), nil
			}
			return nil, fmt.Errorf("%T is not text", v)
		}, nil
	case "bytea":
		return func(v any) (any, error) {
			switch x := v.(type) {
			case nil, []byte:
				return x, nil
			case string:
				return []byte(x), nil
			}
			return nil, fmt.Errorf("%T is not bytes", v)
		}, nil
	}
	return nil, fmt.Errorf("the move does not know the PostgreSQL type %s", pgType)
}

// strings1 returns the first column of a query's rows as strings.
func strings1(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
