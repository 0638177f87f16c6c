package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"casefile/localdb"
	"casefile/model"
	"casefile/protocol"
)

// importCommands are the commands of this file, for the command table.
func importCommands() []Command {
	return []Command{
		{
			Name:  "import",
			Usage: "[COLLECTION] --file F.jsonl [--batch N] [--existing stop|skip|update]",
			Summary: "Import records from JSON Lines (one object per line; - reads stdin); " +
				"a bad line stops the import, keeping earlier batches; records already here with the same values are skipped",
			Run: runImport,
		},
	}
}

// Import limits.
const (
	defaultImportBatch = 1000
	maxImportBatch     = 10000
	maxImportLine      = protocol.MaxBodyBytes // bytes in one line
)

// importer reads lines into batches, prepared on one goroutine while the
// batch before is written on another: encoding and sealing a batch takes
// about as long as its transaction, and this machine has two cores.
type importer struct {
	db       *localdb.DB
	schema   *model.Schema
	only     *model.Collection // the COLLECTION argument; nil when lines name theirs
	batch    int
	existing localdb.ExistingPolicy

	// The reading goroutine's.
	seen    map[string]int // id → line it first appeared on
	pending []localdb.ImportItem
	col     *model.Collection // collection of the pending batch
	lines   []int             // line of each pending item
	readAll bool              // the input was read to its end

	// The writing goroutine's.
	imported map[string]int // records written per collection
	total    int
	counts   localdb.ImportCounts // records already here: skipped, kept, updated
	written  int                  // the last line of the last batch written
	progress io.Writer
	lastNote time.Time
}

// preparedBatch is a batch ready to write, or the error that ends the
// input after the batches before it.
type preparedBatch struct {
	prep  *localdb.PreparedImport
	col   *model.Collection
	items []localdb.ImportItem
	lines []int
	err   error
}

func runImport(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	file := fs.String("file", "", "the JSON Lines file to read (- for stdin)")
	batch := fs.Int("batch", defaultImportBatch, "records per transaction")
	existing := fs.String("existing", "stop", "a record already here with other values: stop (say which fields differ), skip (keep this device's), update (take the file's, as an edit that syncs)")
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError("name at most one collection")
	}
	if *file == "" {
		return usageError("name the file to import with --file (- for stdin)")
	}
	if *batch < 1 || *batch > maxImportBatch {
		return fmt.Errorf("--batch must be between 1 and %d, not %d", maxImportBatch, *batch)
	}
	policy, ok := existingPolicies[*existing]
	if !ok {
		return usageError("--existing must be stop, skip or update, not %q", *existing)
	}
	s, err := schema()
	if err != nil {
		return err
	}
	// Progress lines start after a second; a small import prints only its summary.
	im := &importer{schema: s, batch: *batch, seen: map[string]int{}, imported: map[string]int{},
		progress: env.Stderr, lastNote: time.Now(), existing: policy}
	if len(pos) == 1 {
		if im.only, err = collection(pos[0]); err != nil {
			return err
		}
	}
	in, name := env.Stdin, "stdin"
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			return fmt.Errorf("cannot read %s: %w", *file, pathCause(err))
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.IsDir() {
			return fmt.Errorf("cannot read %s: it is a directory", *file)
		}
		in, name = f, *file
	}
	db, _, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	im.db = db
	defer raiseGC(importGCPercent, 0)()
	err = im.run(ctx, in)
	if im.total > 0 || im.counts.Updated > 0 {
		// The batches were committed unsynced: the summary promises what
		// is on the disk.
		if serr := db.SyncWAL(); serr != nil {
			err = errors.Join(err, fmt.Errorf("the imported records may not survive a power cut: %w", serr))
		}
	}
	im.summary(name, err != nil)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// existingPolicies are the values of import's --existing.
var existingPolicies = map[string]localdb.ExistingPolicy{
	"stop": localdb.ExistingStop, "skip": localdb.ExistingSkip, "update": localdb.ExistingUpdate,
}

// pathCause drops the *os.PathError wrapper whose path the message names.
func pathCause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (im *importer) run(ctx context.Context, in io.Reader) error {
	ctx, cancel := context.WithCancel(ctx)
	batches := make(chan preparedBatch, 1) // one batch prepared ahead of the one being written
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(batches)
		im.read(ctx, in, batches)
	}()
	err := im.writeAll(ctx, batches)
	cancel()
	for range batches { // let the reader see the cancel and stop
	}
	<-done
	return err
}

// writeAll writes the batches in order until the input ends or one fails.
func (im *importer) writeAll(ctx context.Context, batches <-chan preparedBatch) error {
	for b := range batches {
		if b.err != nil {
			return b.err
		}
		if err := im.flush(ctx, b); err != nil {
			return err
		}
	}
	if !im.readAll { // interrupted while reading; the channel's close makes readAll safe to read here
		return fmt.Errorf("interrupted; line %d and after were not imported", im.written+1)
	}
	return nil
}

// read parses lines into batches and prepares each for writing; a batch is
// sent once the line after it has been read, so a bad line keeps its own
// batch, from the batch's first line on, from being written.
func (im *importer) read(ctx context.Context, in io.Reader, out chan<- preparedBatch) {
	send := func(b preparedBatch) bool {
		select {
		case out <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	fail := func(err error) { send(preparedBatch{err: err}) }
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxImportLine)
	line := 0
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		col, item, err := im.parse(raw)
		if err != nil {
			fail(fmt.Errorf("line %d: %w", line, err))
			return
		}
		if err := im.checkID(item.ID, line); err != nil {
			fail(fmt.Errorf("line %d: %w", line, err))
			return
		}
		if im.col != nil && (col != im.col || len(im.pending) >= im.batch) {
			if b := im.prepare(); !send(b) || b.err != nil {
				return
			}
		}
		im.col = col
		im.pending = append(im.pending, item)
		im.lines = append(im.lines, line)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			fail(fmt.Errorf("line %d: longer than %d bytes", line+1, maxImportLine))
			return
		}
		fail(fmt.Errorf("after line %d: %w", line, err))
		return
	}
	if len(im.pending) > 0 && !send(im.prepare()) {
		return
	}
	im.readAll = true
}

// prepare hands the pending batch over for writing and starts a new one.
func (im *importer) prepare() preparedBatch {
	b := preparedBatch{col: im.col, items: im.pending, lines: im.lines}
	b.prep, b.err = im.db.PrepareImport(im.col.Name, im.pending)
	if b.err != nil {
		b.err = im.batchError(b, b.err)
	}
	im.pending, im.lines = nil, nil
	return b
}

// parse reads one line: a flat object {"id": ..., "field": value, ...} or
// a record as export writes it {"id", "collection", "fields": {...}, ...}.
func (im *importer) parse(raw []byte) (*model.Collection, localdb.ImportItem, error) {
	// A byte order mark, as some editors save, is not part of the text.
	raw = bytes.TrimPrefix(raw, []byte("\ufeff"))
	if !utf8.Valid(raw) { // encoding/json would silently turn the bad bytes into U+FFFD
		return nil, localdb.ImportItem{}, errors.New("not valid UTF-8 text")
	}
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, localdb.ImportItem{}, errors.New("not a JSON object")
	}
	if dec.More() {
		return nil, localdb.ImportItem{}, errors.New("more than one JSON value on the line")
	}
	// encoding/json turns a \u escape of half a character (a lone
	// surrogate, \ud800–\udfff) into U+FFFD: the text would change on
	// the way in.
	if loneSurrogate(raw) {
		return nil, localdb.ImportItem{}, errors.New(`a \u escape names half a character (a lone surrogate, \ud800–\udfff); write the character or both halves of its pair`)
	}
	var item localdb.ImportItem
	if v, ok := obj["id"]; ok {
		id, ok := v.(string)
		if !ok || !model.ValidID(id) {
			return nil, item, fmt.Errorf("\"id\" must be a record id (a UUID), not %s", jsonText(v))
		}
		item.ID = id
	}
	delete(obj, "id")
	col := im.only
	if v, ok := obj["collection"]; ok {
		name, _ := v.(string)
		c, found := im.schema.Collection(name)
		switch {
		case !found:
			return nil, item, fmt.Errorf("unknown collection %s", jsonText(v))
		case col != nil && c != col:
			return nil, item, fmt.Errorf("the record is a %s, not a %s", c.Name, col.Name)
		}
		col = c
		delete(obj, "collection")
	}
	if col == nil {
		return nil, item, errors.New("the line names no collection; name one: casefile import COLLECTION --file F")
	}
	fields := model.Fields(obj)
	if nested, ok := obj["fields"]; ok {
		m, ok := nested.(map[string]any)
		if !ok {
			return nil, item, errors.New("\"fields\" must be an object")
		}
		for k, v := range obj {
			switch k {
			case "fields", "version", "state", "updated_at":
				// What export writes besides the fields; the import starts afresh.
			case "deleted":
				if v == true {
					return nil, item, errors.New("the record is deleted; leave it out")
				}
			default:
				return nil, item, fmt.Errorf("unexpected key %q next to \"fields\"", k)
			}
		}
		fields = model.Fields(m)
	}
	norm, probs := col.Validate(fields, true)
	if len(probs) > 0 {
		return nil, item, probs
	}
	item.Fields = norm
	return col, item, nil
}

// checkID refuses an id seen earlier in the input; ids already on this
// device are refused by the database, item by item.
func (im *importer) checkID(id string, line int) error {
	if id == "" {
		return nil
	}
	if prev, dup := im.seen[id]; dup {
		return fmt.Errorf("duplicate id %s (also on line %d)", id, prev)
	}
	im.seen[id] = line
	return nil
}

// flush writes a prepared batch in one transaction.
func (im *importer) flush(ctx context.Context, b preparedBatch) error {
	counts, err := im.db.WriteImportUnsynced(ctx, b.prep, im.existing)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted; line %d and after were not imported", b.lines[0])
		}
		return im.batchError(b, err)
	}
	if counts.Written > 0 {
		im.imported[b.col.Name] += counts.Written
	}
	im.total += counts.Written
	im.counts.Identical += counts.Identical
	im.counts.Kept += counts.Kept
	im.counts.Updated += counts.Updated
	im.written = b.lines[len(b.lines)-1]
	if now := time.Now(); now.Sub(im.lastNote) >= time.Second {
		im.lastNote = now
		fmt.Fprintf(im.progress, "imported %s…\n", plural(im.total, "record"))
	}
	return nil
}

// batchError says which line of a batch the database refused, and why.
func (im *importer) batchError(b preparedBatch, err error) error {
	var ie *localdb.ItemError
	if errors.As(err, &ie) && ie.Index >= 0 && ie.Index < len(b.lines) {
		line := b.lines[ie.Index]
		var differs *localdb.DiffersError
		switch {
		case errors.As(ie.Err, &differs) && differs.Deleted:
			return fmt.Errorf("line %d: record %s is deleted on this device; nothing from this batch on was written "+
				"(--existing skip leaves it deleted)", line, differs.ID)
		case errors.As(ie.Err, &differs):
			return fmt.Errorf("line %d: record %s is already here with other values of %s; nothing from this batch on was written. "+
				"Run the import again with --existing skip to keep this device's values, or --existing update to take the file's",
				line, differs.ID, strings.Join(differs.Fields, ", "))
		}
		if errors.Is(ie.Err, localdb.ErrExists) {
			return fmt.Errorf("line %d: a record with id %s already exists", line, b.items[ie.Index].ID)
		}
		return fmt.Errorf("line %d: %w", line, ie.Err)
	}
	return fmt.Errorf("lines %d to %d: %w", b.lines[0], b.lines[len(b.lines)-1], err)
}

// summary tells what was written, per collection, on stderr.
func (im *importer) summary(name string, failed bool) {
	names := make([]string, 0, len(im.imported))
	for n := range im.imported {
		names = append(names, n)
	}
	slices.Sort(names)
	msg := fmt.Sprintf("Imported %s from %s", plural(im.total, "record"), name)
	for i, n := range names {
		sep := ", "
		if i == 0 {
			sep = " ("
		}
		msg += fmt.Sprintf("%s%d %s", sep, im.imported[n], n)
	}
	if len(names) > 0 {
		msg += ")"
	}
	c := im.counts
	if c.Identical > 0 {
		msg += fmt.Sprintf("; skipped %s already here with the same values", plural(c.Identical, "record"))
	}
	if c.Kept > 0 {
		msg += fmt.Sprintf("; kept this device's values of %s that differ", plural(c.Kept, "record"))
	}
	if c.Updated > 0 {
		msg += fmt.Sprintf("; updated %s here with the file's values", plural(c.Updated, "record"))
	}
	if failed {
		msg += "; the import stopped at the error below and nothing after it was written"
	}
	fmt.Fprintln(im.progress, msg+".")
}

// jsonText shows a decoded JSON value as it was written.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return oneLine(string(b), 60)
}

// loneSurrogate reports whether a line of valid JSON spells half of a
// surrogate pair as a \u escape: a high one (\ud800–\udbff) not followed
// at once by a low one's escape, or a low one (\udc00–\udfff) alone. It
// reads escapes as JSON does, so an escaped backslash followed by "u" is
// text, not an escape.
func loneSurrogate(raw []byte) bool {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	inString := false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '"':
			inString = !inString
		case !inString || c != '\\':
		case i+1 < len(raw) && raw[i+1] != 'u':
			i++ // \", \\, \n and the like: one character
		default:
			r, ok := hex4(i)
			if !ok {
				return false // not valid JSON; the decoder said so already
			}
			switch {
			case utf16.IsSurrogate(r) && r < 0xdc00:
				if lo, ok := hex4(i + 6); !ok || lo < 0xdc00 || lo > 0xdfff {
					return true
				}
				i += 11
			case utf16.IsSurrogate(r):
				return true
			default:
				i += 5
			}
		}
	}
	return false
}
