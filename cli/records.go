package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"casefile/internal/safetext"
	"casefile/localdb"
	"casefile/model"
)

// recordCommands are the commands of this file, for the command table.
func recordCommands() []Command {
	return []Command{
		{
			Name:    "add",
			Usage:   "COLLECTION field=value... [--json] [--id UUID]",
			Summary: "Add a record; prints its id (saved on this device, synced later)",
			Run:     runAdd,
		},
		{
			Name:    "edit",
			Usage:   "ID field=value... [--json]",
			Summary: "Change fields of a record (field= clears a field)",
			Run:     runEdit,
		},
		{
			Name:    "rm",
			Usage:   "ID [--cascade]",
			Summary: "Delete a record with its attached files (a matter that holds records only with --cascade, which deletes them with it)",
			Run:     runRm,
		},
		{
			Name:    "show",
			Usage:   "ID [--json]",
			Summary: "Show a record: every field, its sync state and recent history",
			Run:     runShow,
		},
	}
}

func runAdd(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print the new record as JSON")
	id := fs.String("id", "", "the new record's id (a UUID; default: a new one)")
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError("name a collection")
	}
	col, err := collection(pos[0])
	if err != nil {
		return err
	}
	if col.Name == model.AttachmentCollection {
		return usageError("a file is attached with casefile attach RECORD PATH, which reads its size and sha256 from its bytes")
	}
	if *id != "" && !model.ValidID(*id) {
		return fmt.Errorf("--id: %q is not a record id (a new record takes a whole id, like 0190f3a2-7c1e-7b3d-9f00-2a6c1d5e8b41)", *id)
	}
	cfg, err := loadConfig(env)
	if err != nil {
		return err
	}
	fields, err := parseFields(cfg, col, pos[1:], true)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	rec, err := db.Create(ctx, col.Name, *id, fields)
	if err != nil {
		return recordError(*id, err)
	}
	if *asJSON {
		return printJSON(env.Stdout, rec)
	}
	_, err = fmt.Fprintln(env.Stdout, rec.ID)
	return err
}

func runEdit(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print the changed record as JSON")
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError("name the record to edit by its id")
	}
	id := pos[0]
	if err := checkID(id); err != nil {
		return err
	}
	if len(pos) == 1 {
		return usageError("say what to change as field=value")
	}
	db, cfg, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	if id, err = resolveRecord(ctx, db, id); err != nil {
		return err
	}
	rec, err := liveRecord(ctx, db, id)
	if err != nil {
		return err
	}
	col, err := collection(rec.Collection)
	if err != nil {
		return err
	}
	changes, err := parseFields(cfg, col, pos[1:], false)
	if err != nil {
		return err
	}
	rec, err = db.Update(ctx, id, changes)
	if err != nil {
		return recordError(id, err)
	}
	if *asJSON {
		return printJSON(env.Stdout, rec)
	}
	_, err = fmt.Fprintln(env.Stdout, rec.ID)
	return err
}

func runRm(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	cascade := fs.Bool("cascade", false, "for a matter: delete every record it holds with it")
	id, db, err := openForRecord(ctx, env, fs, args, "name exactly one record to delete by its id")
	if err != nil {
		return err
	}
	defer db.Close()
	rec, err := liveRecord(ctx, db, id)
	if err != nil {
		return err
	}
	col, err := collection(rec.Collection)
	if err != nil {
		return err
	}
	title := rec.Title(col)
	if *cascade && rec.Collection != model.MatterCollection {
		return usageError("--cascade is for matters; %s is a %s", id, singular(col))
	}
	held := 0
	var files []localdb.FileInfo
	if rec.Collection != model.MatterCollection && rec.Collection != model.AttachmentCollection {
		// Its attached files go with it (localdb.Delete): said below.
		if files, err = db.Files(ctx, id); err != nil {
			return err
		}
	}
	if *cascade {
		held, err = db.DeleteCascade(ctx, id)
	} else {
		err = db.Delete(ctx, id)
	}
	var holds *localdb.MatterHoldsError
	switch {
	case errors.As(err, &holds):
		return fmt.Errorf("the matter “%s” still holds %s; nothing was deleted. Run casefile rm %s --cascade to delete them with it",
			safetext.Line(title), localdb.HoldsPhrase(holds.Counts), id)
	case err != nil:
		return recordError(id, err)
	}
	if held > 0 {
		if _, err := fmt.Fprintf(env.Stdout, "Deleted %s with the matter.\n", plural(held, "record")); err != nil {
			return err
		}
	}
	if len(files) > 0 {
		if _, err := fmt.Fprintf(env.Stdout, "Deleted %s with it (casefile undo brings them back together).\n", plural(len(files), "attached file")); err != nil {
			return err
		}
	}
	// A record the server never had is gone at once with its unsent changes;
	// otherwise a tombstone waits for the server to confirm.
	if _, err := db.Get(ctx, id); errors.Is(err, localdb.ErrNotFound) {
		_, err = fmt.Fprintf(env.Stdout, "Deleted %s %q; the server never had it, so nothing is left to sync.\n", singular(col), title)
		return err
	}
	_, err = fmt.Fprintf(env.Stdout, "Deleted %s %q (saved offline until the server confirms).\n", singular(col), title)
	return err
}

// openForRecord parses a command that takes exactly one record id (usage
// says so otherwise), checks the id and opens the local database.
func openForRecord(ctx context.Context, env *Env, fs *flag.FlagSet, args []string, usage string) (string, *localdb.DB, error) {
	pos, err := Parse(fs, args)
	if err != nil {
		return "", nil, err
	}
	if len(pos) != 1 {
		return "", nil, usageError("%s", usage)
	}
	id := pos[0]
	if err := checkID(id); err != nil {
		return "", nil, err
	}
	db, _, err := openLocal(ctx, env)
	if err != nil {
		return "", nil, err
	}
	if id, err = resolveRecord(ctx, db, id); err != nil {
		db.Close()
		return "", nil, err
	}
	return id, db, nil
}

// liveRecord returns a record that exists and is not deleted.
func liveRecord(ctx context.Context, db *localdb.DB, id string) (model.Record, error) {
	rec, err := db.Get(ctx, id)
	if err != nil {
		return model.Record{}, recordError(id, err)
	}
	if rec.Deleted {
		return model.Record{}, recordError(id, localdb.ErrDeleted)
	}
	return rec, nil
}

// showLimit is how many journal entries show prints.
const showLimit = 5

// shownRecord is show's JSON: the record, its queued ops and recent history.
type shownRecord struct {
	model.Record
	Queue   []localdb.OutboxOp     `json:"queue"`
	Journal []localdb.JournalEntry `json:"journal"`
	// opIDs are the queued ops' ids as shown: as short as names each one.
	opIDs map[string]string
}

func runShow(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print the record as JSON")
	id, db, err := openForRecord(ctx, env, fs, args, "name exactly one record by its id")
	if err != nil {
		return err
	}
	defer db.Close()
	rec, err := db.Get(ctx, id)
	if err != nil {
		return recordError(id, err)
	}
	col, err := collection(rec.Collection)
	if err != nil {
		return err
	}
	out := shownRecord{Record: rec, Queue: []localdb.OutboxOp{}}
	ops, err := db.Outbox(ctx)
	if err != nil {
		return err
	}
	for _, op := range ops {
		if op.RecordID == id {
			out.Queue = append(out.Queue, op)
		}
	}
	if out.Journal, err = db.Journal(ctx, localdb.JournalQuery{RecordID: id, Limit: showLimit}); err != nil {
		return err
	}
	if out.Journal == nil {
		out.Journal = []localdb.JournalEntry{}
	}
	if *asJSON {
		return printJSON(env.Stdout, out)
	}
	opIDs := make([]string, len(out.Queue))
	for i, op := range out.Queue {
		opIDs[i] = op.OpID
	}
	if out.opIDs, err = db.ShortOpIDs(ctx, opIDs, shortIDLen); err != nil {
		return err
	}
	return writeRecord(env.Stdout, col, out)
}

// writeRecord prints a record for people: fields in schema order with
// their labels, then its sync state, queued ops and history.
func writeRecord(w io.Writer, col *model.Collection, r shownRecord) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\t%s\n", singular(col), safetext.Line(r.Title(col)))
	fmt.Fprintf(tw, "id\t%s\n", safetext.Line(r.ID))
	for _, f := range col.Fields {
		lines := safetext.Lines(model.Format(r.Fields[f.Name]))
		fmt.Fprintf(tw, "%s\t%s\n", f.Label, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(tw, "\t%s\n", l)
		}
	}
	state := r.State.Label()
	if r.Deleted {
		state = "deleted, " + state
	}
	fmt.Fprintf(tw, "state\t%s\n", state)
	if r.Version == 0 {
		fmt.Fprintf(tw, "version\t0 (not on the server yet)\n")
	} else {
		fmt.Fprintf(tw, "version\t%d\n", r.Version)
	}
	if !r.UpdatedAt.IsZero() {
		fmt.Fprintf(tw, "updated\t%s\n", r.UpdatedAt.Local().Format(time.DateTime))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Queue) > 0 {
		fmt.Fprintf(w, "\nWaiting to sync:\n")
		for _, op := range r.Queue {
			fmt.Fprintf(w, "  %s (op %s): %s, %s\n", op.Kind, cmp.Or(r.opIDs[op.OpID], op.OpID), opStateLabel(op.State), attempts(op.Attempts))
			if op.LastError != "" {
				fmt.Fprintf(w, "    last error: %s\n", safetext.Line(op.LastError))
			}
		}
	}
	if len(r.Journal) > 0 {
		fmt.Fprintf(w, "\nRecent history:\n")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, e := range r.Journal {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", e.At.Local().Format("2006-01-02 15:04"), safetext.Line(e.Actor), safetext.Line(string(e.Kind)), oneLine(e.Summary, 100))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// singular names one record of the collection for a heading: "note".
func singular(col *model.Collection) string {
	return strings.ReplaceAll(col.Name, "_", " ")
}
