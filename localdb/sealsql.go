package localdb

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"

	"modernc.org/sqlite"
)

// Some queries read a field of a sealed JSON column inside SQL (an
// attachment's hash or size, with json_extract). They decrypt it there
// through casefile_unseal(key_id, place, value), which finds the key by
// its id among the keys this process has opened databases with.

// unsealFunc is the SQL function that decrypts a sealed column.
const unsealFunc = "casefile_unseal"

// openSealers are the keys of the encrypted databases opened in this
// process, by key id (a few per process; a simulation opens dozens).
var openSealers sync.Map

func init() {
	if err := sqlite.RegisterDeterministicScalarFunction(unsealFunc, 3, unsealSQL); err != nil {
		panic(err)
	}
}

func unsealSQL(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	id, _ := args[0].(string)
	ad, _ := args[1].(string)
	var sealed []byte
	switch v := args[2].(type) {
	case nil:
		return nil, nil
	case []byte:
		sealed = v
	case string:
		sealed = []byte(v)
	default:
		return nil, ErrUnsealed
	}
	s, ok := openSealers.Load(id)
	if !ok {
		return nil, errors.New("no key open for this database")
	}
	plain, err := s.(Sealer).Open(sealed, []byte(ad))
	if err != nil {
		return nil, ErrUnsealed
	}
	return string(plain), nil
}

// sqlOpen is an SQL expression for a sealed column's plaintext: the column
// itself in a plaintext database, casefile_unseal of it in an encrypted
// one. table and column name the place; ids are SQL expressions of the
// row's identity, as place() takes them.
func (db *DB) sqlOpen(expr, table, column string, ids ...string) string {
	if db.sealer == nil {
		return expr
	}
	ad := fmt.Sprintf("'%s|%s'", table, column)
	for _, id := range ids {
		ad += " || '|' || " + id
	}
	// The key id is hex: quoting it as an SQL literal is safe.
	return fmt.Sprintf("%s('%s', %s, %s)", unsealFunc, db.sealer.ID(), ad, expr)
}

// sqlRecordFields is sqlOpen of the fields (or base_fields) of records
// aliased alias; fields of entryRef are their journal entry's after,
// opened at the place the record's identity and the entry's op, kind and
// time name, as openRecordEntry does; a base_fields of baseSame is the
// fields.
func (db *DB) sqlRecordFields(alias, column string) string {
	open := db.sqlOpen(alias+"."+column, "records", column, alias+".collection", alias+".id")
	if column != "base_fields" {
		entry := db.sqlOpen("fe.after", "journal", "after", alias+".collection", alias+".id", "fe.op_id", "fe.kind", "fe.at")
		ref := entryRefSeq(alias + ".fields")
		return "CASE WHEN " + ref + " IS NULL THEN " + open + " ELSE (SELECT " + entry + " FROM journal fe WHERE fe.seq = " + ref + ") END"
	}
	return "CASE WHEN " + alias + ".base_fields = '" + baseSame + "' THEN " + db.sqlRecordFields(alias, "fields") + " ELSE " + open + " END"
}

// sqlOpFields is sqlOpen of the fields of outbox ops aliased alias: their
// own, or their journal entry's (fields_entry), opened at the place the
// op's identity and the entry's kind and time name, as openEntryFields does.
func (db *DB) sqlOpFields(alias string) string {
	own := db.sqlOpen(alias+".fields", "outbox", "fields", alias+".collection", alias+".record_id", alias+".op_id")
	entry := db.sqlOpen("fe.after", "journal", "after", alias+".collection", alias+".record_id", alias+".op_id", "fe.kind", "fe.at")
	return "coalesce(" + own + ", (SELECT " + entry + " FROM journal fe WHERE fe.seq = " + alias + ".fields_entry))"
}
