package stmtcache

import (
	"strconv"
	"strings"
	"testing"
)

// TestPositional: numbered parameters become plain ones only when each
// number comes once and in order, outside quoted text, quoted names and
// comments; anything else is left for SQLite to number.
func TestPositional(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)", "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"},
		{"SELECT json_extract(v, '$.a') FROM t WHERE k = $1", "SELECT json_extract(v, '$.a') FROM t WHERE k = ?"},
		{"SELECT 'it''s $1', $1", "SELECT 'it''s $1', ?"},
		{"-- $5 is not here\nSELECT $1", "-- $5 is not here\nSELECT ?"},
		{"/* $2 */ SELECT $1 /* $3 */", "/* $2 */ SELECT ? /* $3 */"},
		{`SELECT "$1", [$2] FROM t WHERE x = $1`, `SELECT "$1", [$2] FROM t WHERE x = ?`},
		{"SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11", "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"},
		// Left as they are.
		{"SELECT a FROM t WHERE a = $1 OR b = $1", ""},
		{"SELECT a FROM t WHERE a = $2 AND b = $1", ""},
		{"SELECT a FROM t WHERE a = $1 AND b = $3", ""},
		{"SELECT a FROM t WHERE a = ? AND b = $1", ""},
		{"SELECT a FROM t WHERE a = :a AND b = $1", ""},
		{"SELECT a FROM t WHERE a = $1 AND b = @b", ""},
		{"SELECT x$1 FROM t", ""},
		{"SELECT 1", ""},
		{"SELECT ? , ?", ""},
		{"SELECT '$1", ""},
		{"SELECT $1 /* open", ""},
	} {
		want := c.want
		if want == "" {
			want = c.in
		}
		if got := positional(c.in); got != want {
			t.Errorf("positional(%q) = %q, want %q", c.in, got, want)
		}
	}
}

// TestNumberedParameters: statements with numbered parameters bind the
// same arguments whether or not they were made positional, also when
// kept and run again.
func TestNumberedParameters(t *testing.T) {
	db := openTest(t)
	const ins = "INSERT INTO kv (k, v) VALUES ($1, $2), ($3, $4), ($5, $6)"
	for round := range 2 {
		if _, err := db.Exec("DELETE FROM kv"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ins, "a", 1+round, "b", 2+round, "c", 3+round); err != nil {
			t.Fatal(err)
		}
		var sum int
		// $1 twice: left numbered.
		if err := db.QueryRow("SELECT sum(v) FROM kv WHERE k = $1 OR k = $2 OR v = $1", "a", "c").Scan(&sum); err != nil {
			t.Fatal(err)
		}
		if want := 1 + round + 3 + round; sum != want {
			t.Fatalf("round %d: sum %d, want %d", round, sum, want)
		}
		var k string
		if err := db.QueryRow("SELECT k FROM kv WHERE v = $2 AND k <> $1", "a", 2+round).Scan(&k); err != nil || k != "b" {
			t.Fatalf("round %d: k = %q, %v; want b", round, k, err)
		}
	}
	if _, ok := kept(t, db)[ins]; !ok {
		t.Fatal("the insert was not kept under its own text")
	}
}

// BenchmarkNumberedInsert: a 64-row insert of 8 columns with "$n"
// parameters (made positional) against the same with SQLite's own
// numbered "?n" (kept numbered, as "$n" was before).
func BenchmarkNumberedInsert(b *testing.B) {
	for _, mark := range []string{"$", "?"} {
		b.Run("param="+mark, func(b *testing.B) {
			db := openTest(b)
			if _, err := db.Exec("CREATE TABLE w (a, b, c, d, e, f, g, h)"); err != nil {
				b.Fatal(err)
			}
			const rows, cols = 64, 8
			var q strings.Builder
			q.WriteString("INSERT INTO w VALUES ")
			args := make([]any, 0, rows*cols)
			for r := range rows {
				if r > 0 {
					q.WriteString(", ")
				}
				q.WriteByte('(')
				for c := range cols {
					if c > 0 {
						q.WriteString(", ")
					}
					q.WriteString(mark + strconv.Itoa(r*cols+c+1))
					args = append(args, int64(r*cols+c))
				}
				q.WriteByte(')')
			}
			tx, err := db.Begin() // no commit: the statement, not the disk
			if err != nil {
				b.Fatal(err)
			}
			defer tx.Rollback()
			b.ResetTimer()
			for b.Loop() {
				if _, err := tx.Exec(q.String(), args...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
