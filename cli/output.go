package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"casefile/internal/safetext"
	"casefile/localdb"
	"casefile/model"
)

// maxCell is the widest a table cell gets before it is cut with "…".
const maxCell = 40

// table writes aligned columns for people; cells are made one line and cut.
type table struct {
	tw      *tabwriter.Writer
	lastMax int // width of the last column; 0 means maxCell
	err     error
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	line := make([]string, len(cells))
	for i, c := range cells {
		limit := maxCell
		if i == len(cells)-1 && t.lastMax > 0 {
			limit = t.lastMax
		}
		line[i] = oneLine(c, limit)
	}
	if t.err == nil {
		_, t.err = fmt.Fprintln(t.tw, strings.Join(line, "\t"))
	}
}

// flush writes the table out and returns the first error met.
func (t *table) flush() error {
	if err := t.tw.Flush(); t.err == nil {
		t.err = err
	}
	return t.err
}

// oneLine makes s safe to print on one line (line breaks and tabs become
// spaces, control and format characters visible escapes: see safetext) and
// cuts it to max runes.
func oneLine(s string, max int) string {
	s = safetext.Line(s)
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// header turns a field label into a column heading.
func header(label string) string { return strings.ToUpper(label) }

// shortIDLen is the fewest characters of an id a table shows: as many as
// the first block of a UUIDv7, lengthened where the database holds another
// id that starts the same (localdb.DB.ShortIDs), so that what is shown
// names one record and commands take it back.
const shortIDLen = 8

// opStateLabel is an op state as people read it.
func opStateLabel(s localdb.OpState) string {
	return model.SyncState(s).Label()
}

// attempts says how often an op was sent.
func attempts(n int) string {
	switch n {
	case 0:
		return "not sent yet"
	case 1:
		return "sent once"
	}
	return fmt.Sprintf("sent %d times", n)
}

// when formats a time for a table: "" for zero, local time otherwise.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
