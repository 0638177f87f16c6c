package sqlstore

import (
	"context"
	"database/sql"
	"testing"
)

// TestNewRefusesAOneStatementDialectWithoutUnnest: publishing hints in the
// transaction or committing with the last statement needs that statement
// whole; a dialect asking for either without Unnest is a program error.
func TestNewRefusesAOneStatementDialectWithoutUnnest(t *testing.T) {
	commit := func(context.Context, *sql.Conn, string, []any) error { return nil }
	for _, d := range []Dialect{{NotifyChannel: "c"}, {Commit: commit}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New accepted %+v without Unnest", d)
				}
			}()
			New(nil, nil, d, "")
		}()
	}
	New(nil, nil, Dialect{NotifyChannel: "c", Commit: commit, Unnest: true}, "")
}
