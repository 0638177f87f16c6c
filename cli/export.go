package cli

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"casefile/internal/leftover"
	"casefile/internal/safetext"
	"casefile/localdb"
	"casefile/model"
)

// exportCommands are the commands of this file, for the command table.
func exportCommands() []Command {
	return []Command{
		{
			Name:    "export",
			Usage:   "[COLLECTION] [--matter ID] [--format jsonl|csv] [--out FILE]",
			Summary: "Export records as JSON Lines (all collections, or one) or CSV (one collection); --matter: one matter and its records",
			Run:     runExport,
		},
	}
}

func runExport(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	format := fs.String("format", "jsonl", "jsonl or csv")
	out := fs.String("out", "", "write to this file instead of stdout (replaced whole, only when the export succeeds)")
	matter := fs.String("matter", "", "only this matter (its title, the start of its title, or its id): the matter itself and every record it holds, ready for import")
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError("name at most one collection")
	}
	s, err := schema()
	if err != nil {
		return err
	}
	cols := s.Collections
	if len(pos) == 1 {
		c, err := collection(pos[0])
		if err != nil {
			return err
		}
		cols = []*model.Collection{c}
	}
	switch *format {
	case "jsonl":
	case "csv":
		if len(pos) == 0 {
			return fmt.Errorf("a CSV export needs a collection: casefile export COLLECTION --format csv")
		}
	default:
		return fmt.Errorf("unknown format %q (formats: jsonl, csv)", *format)
	}
	db, _, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	if *matter != "" {
		if *matter, err = resolveMatter(ctx, db, *matter); err != nil {
			return fmt.Errorf("--matter: %w", err)
		}
		m, err := db.Get(ctx, *matter)
		if err != nil || m.Collection != model.MatterCollection || m.Deleted {
			return fmt.Errorf("--matter: no matter with id %s on this device (casefile list matter shows them)", *matter)
		}
	}
	scope := exportScope{cols: cols, matter: *matter}
	if *out != "" {
		if inside(env.DataDir, *out) {
			return fmt.Errorf("%s is inside the data directory, where an export would lie in plaintext beside the encrypted data; write it elsewhere", *out)
		}
		return writeFileAtomic(*out, func(f *os.File) error {
			return exportStable(ctx, env, db, scope, *format, f)
		})
	}
	// Even to stdout, the export is first written whole, so that a
	// start-over never repeats output: in memory, since a temporary file
	// in the data directory would hold the records in plaintext.
	var buf memFile
	if err := exportStable(ctx, env, db, scope, *format, &buf); err != nil {
		return err
	}
	_, err = env.Stdout.Write(buf.b)
	return err
}

// exportSink is where exportStable writes: a file, or memory.
type exportSink interface {
	io.Writer
	Truncate(size int64) error
	Seek(offset int64, whence int) (int64, error)
}

// memFile is an exportSink in memory: writes append, Truncate(0) and Seek
// to the start begin again.
type memFile struct{ b []byte }

func (m *memFile) Write(p []byte) (int, error) { m.b = append(m.b, p...); return len(p), nil }

func (m *memFile) Truncate(size int64) error {
	if size < 0 || size > int64(len(m.b)) {
		return errors.New("truncate beyond the data")
	}
	m.b = m.b[:size]
	return nil
}

func (m *memFile) Seek(offset int64, whence int) (int64, error) {
	if offset != 0 || whence != io.SeekStart {
		return 0, errors.New("memFile seeks only to the start")
	}
	return 0, nil
}

// inside reports whether path lies in dir, as named or once symbolic
// links are followed: a link to the data directory is the data directory.
func inside(dir, path string) bool {
	within := func(d, p string) bool {
		rel, err := filepath.Rel(d, p)
		return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
	}
	d, err1 := filepath.Abs(dir)
	p, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	return within(d, p) || within(resolved(d), resolved(p))
}

// resolved returns the absolute path p with the symbolic links of its
// longest existing beginning followed; what does not exist yet is kept
// as named.
func resolved(p string) string {
	rest := ""
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(p, rest)
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// maxExportTries bounds how often export starts over because the database
// changed under it.
const maxExportTries = 5

// exportStable writes the export to f, starting over when another process
// (a syncing terminal UI) commits meanwhile: pages are read in "most
// recently changed first" order, so a record changed mid-export moves to
// the front and, if not yet written, would be left out; and the export
// would show the records as they were at different moments.
func exportStable(ctx context.Context, env *Env, db *localdb.DB, scope exportScope, format string, f exportSink) error {
	for range maxExportTries {
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("write the export: %w", err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("write the export: %w", err)
		}
		// The creates still queued are now in a backup: restored on
		// another device, it may bring their records to the server first,
		// so later changes of them must queue behind them rather than
		// fold in (localdb.MarkBackedUp). Each try marks the creates made
		// since the last.
		if _, err := db.MarkBackedUp(ctx); err != nil {
			return err
		}
		before, err := db.DataVersion(ctx)
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		if err := export(ctx, env, db, scope, format, w); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("write the export: %w", err)
		}
		after, err := db.DataVersion(ctx)
		if err != nil {
			return err
		}
		if after == before {
			return nil
		}
	}
	return fmt.Errorf("the records kept changing during the export (%d tries); try again when syncing is quieter", maxExportTries)
}

// exportTempPrefix names an export's temporary file; os.CreateTemp adds a
// random number.
const exportTempPrefix = ".casefile-export-"

// isExportTemp reports whether name is a temporary file of an export to
// target: this casefile's name for it, or the one earlier versions gave
// it, "." and the target's name and a random number.
func isExportTemp(name, target string) bool {
	return leftover.Made(name, exportTempPrefix) || leftover.Made(name, "."+filepath.Base(target)+".")
}

// writeFileAtomic writes a file through a temporary file in the same
// directory, so a failed export never leaves half a file behind. A killed
// export still leaves its temporary file, a plaintext copy of every
// record: the next export to the directory removes the ones a minute old.
// The temporary file is made readable by its owner only (os.CreateTemp's
// 0600), and so is the export it becomes.
func writeFileAtomic(path string, write func(*os.File) error) error {
	dir := filepath.Dir(path)
	stale := func(name string) bool { return isExportTemp(name, path) }
	if err := leftover.Sweep(dir, stale, leftover.StaleAge); err != nil {
		return fmt.Errorf("remove what killed exports left in %s: %w", dir, pathCause(err))
	}
	tmp, err := os.CreateTemp(dir, exportTempPrefix+"*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, pathCause(err))
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := write(tmp); err != nil {
		_ = tmp.Close() // the write error is the one to report
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, pathCause(err))
	}
	return nil
}

// exportScope is what an export holds: these collections, of one matter
// when matter is set.
type exportScope struct {
	cols   []*model.Collection
	matter string
}

// each calls fn for every record of collection c in the scope (a matter
// belongs to itself, so the matter comes with its records).
func (sc exportScope) each(ctx context.Context, env *Env, db *localdb.DB, c *model.Collection, fn func(model.Record) error) error {
	return eachListed(ctx, env, db, localdb.ListQuery{Collection: c.Name, MatterID: sc.matter}, fn)
}

func export(ctx context.Context, env *Env, db *localdb.DB, scope exportScope, format string, w io.Writer) error {
	if format == "csv" {
		return exportCSV(ctx, env, db, scope, w)
	}
	// Escaped as printJSON's output is: the lines may go to a terminal,
	// and import reads them back as the same values.
	enc := json.NewEncoder(safetext.JSONWriter(w))
	enc.SetEscapeHTML(false)
	// Matters come first in the schema, so an import meets each matter
	// before the records that refer to it.
	for _, c := range scope.cols {
		err := scope.each(ctx, env, db, c, func(r model.Record) error {
			return enc.Encode(r)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// eachRecord calls fn for every live record of a collection, a page at a
// time so a large collection is never held in memory at once. Each page
// starts after the last record of the one before: unlike an offset, that
// costs the same on every page and never skips or repeats a record that
// is not changed meanwhile.
func eachRecord(ctx context.Context, env *Env, db *localdb.DB, collection string, fn func(model.Record) error) error {
	return eachListed(ctx, env, db, localdb.ListQuery{Collection: collection}, fn)
}

// eachListed is eachRecord for the records a list query selects (its
// window is ignored).
func eachListed(ctx context.Context, env *Env, db *localdb.DB, q localdb.ListQuery, fn func(model.Record) error) error {
	page := localdb.ReadPage
	if env.hooks.exportPage > 0 {
		page = env.hooks.exportPage
	}
	q.Offset, q.Limit, q.After = 0, page, nil
	for {
		recs, err := db.List(ctx, q)
		if err != nil {
			return fmt.Errorf("read %s: %w", q.Collection, err)
		}
		if env.hooks.afterExportPage != nil {
			env.hooks.afterExportPage()
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(recs) < page {
			return nil
		}
		last := localdb.KeyOf(recs[len(recs)-1])
		q.After = &last
	}
}

func exportCSV(ctx context.Context, env *Env, db *localdb.DB, scope exportScope, w io.Writer) error {
	col := scope.cols[0]
	cw := csv.NewWriter(w)
	head := append([]string{"id", "state", "version"}, col.FieldNames()...)
	if err := cw.Write(head); err != nil {
		return err
	}
	row := make([]string, len(head))
	err := scope.each(ctx, env, db, col, func(r model.Record) error {
		row[0], row[1], row[2] = r.ID, string(r.State), strconv.FormatInt(r.Version, 10)
		for i, f := range col.Fields {
			row[3+i] = csvCell(&f, r.Fields[f.Name])
		}
		return cw.Write(row)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// csvCell renders a value for a spreadsheet: tags joined by "; ", booleans
// as true/false, control and format characters (NUL, ESC, bidi overrides)
// as visible escapes (see safetext; line breaks and tabs stay), and text
// that a spreadsheet would run as a formula made inert with a leading
// quote. The JSON Lines export is the exact one.
func csvCell(f *model.Field, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(x)
	case float64:
		// A number field's value is a plain number, never a formula.
		return model.Format(x)
	case []string:
		return defuse(safetext.Text(strings.Join(x, "; ")))
	}
	return defuse(safetext.Text(model.Format(v)))
}

// defuse prefixes cells a spreadsheet would read as a formula
// (=, +, -, @, and tab or carriage return before them) with a quote.
func defuse(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
