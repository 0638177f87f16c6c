package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"

	"casefile/localdb"
	"casefile/model"
)

// queueCommands are the commands of this file, for the command table.
func queueCommands() []Command {
	return []Command{
		{
			Name:    "queue",
			Usage:   "[--json]",
			Summary: "List the changes waiting to reach the server (the outbox)",
			Run:     runQueue,
		},
		{
			Name:    "journal",
			Usage:   "[--record ID] [--limit N] [--json]",
			Summary: "Show the history of local writes and sync events, newest first",
			Run:     runJournal,
		},
	}
}

func runQueue(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print a JSON array of queued ops")
	if err := parseNoArgs(fs, args, "queue"); err != nil {
		return err
	}
	db, _, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	ops, err := db.Outbox(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if ops == nil {
			ops = []localdb.OutboxOp{}
		}
		return printJSON(env.Stdout, ops)
	}
	if len(ops) == 0 {
		_, err := fmt.Fprintln(env.Stdout, "Nothing is waiting to sync.")
		return err
	}
	t := newTable(env.Stdout, "OP", "RECORD", "COLLECTION", "KIND", "STATE", "ATTEMPTS", "NEXT ATTEMPT", "LAST ERROR")
	for _, op := range ops {
		t.row(op.OpID, op.RecordID, op.Collection, string(op.Kind), opStateLabel(op.State),
			strconv.Itoa(op.Attempts), when(op.NextAttempt), op.LastError)
	}
	return t.flush()
}

// journalLimit is how many entries journal shows unless told otherwise.
const journalLimit = 50

func runJournal(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print a JSON array of journal entries")
	record := fs.String("record", "", "only entries about this record (its id)")
	limit := fs.Int("limit", journalLimit, "at most this many entries (0: all)")
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("journal takes no arguments; use --record ID for one record")
	}
	if *record != "" {
		if err := checkID(*record); err != nil {
			return fmt.Errorf("--record: %w", err)
		}
	}
	if *limit < 0 {
		return fmt.Errorf("--limit must be 0 or more, not %d", *limit)
	}
	db, _, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	if *record != "" {
		if *record, err = resolveRecord(ctx, db, *record); err != nil {
			return fmt.Errorf("--record: %w", err)
		}
	}
	entries, err := db.Journal(ctx, localdb.JournalQuery{RecordID: *record, Limit: *limit})
	if err != nil {
		return err
	}
	if *asJSON {
		if entries == nil {
			entries = []localdb.JournalEntry{}
		}
		return printJSON(env.Stdout, entries)
	}
	if len(entries) == 0 {
		_, err := fmt.Fprintln(env.Stdout, "The journal is empty.")
		return err
	}
	t := newTable(env.Stdout, "TIME", "ACTOR", "KIND", "RECORD", "ID", "SUMMARY")
	t.lastMax = 120
	titles := journalTitles(ctx, db, entries)
	for _, e := range entries {
		t.row(when(e.At), e.Actor, string(e.Kind), titles[e.RecordID], e.RecordID, e.Summary)
	}
	return t.flush()
}

// journalTitles names the records of journal entries for people: its
// collection and title as the record now is, or as the journal last saw
// it when it left the device.
func journalTitles(ctx context.Context, db *localdb.DB, entries []localdb.JournalEntry) map[string]string {
	out := map[string]string{}
	for _, e := range entries {
		if _, done := out[e.RecordID]; done || e.RecordID == "" {
			continue
		}
		col, ok := db.Schema().Collection(e.Collection)
		if !ok {
			out[e.RecordID] = e.RecordID
			continue
		}
		title := ""
		if rec, err := db.Get(ctx, e.RecordID); err == nil {
			title = rec.Title(col)
		} else if f := e.After; len(f) > 0 || len(e.Before) > 0 {
			if len(f) == 0 || (model.Record{Fields: f}).Title(col) == "" {
				f = e.Before
			}
			title = model.Record{ID: e.RecordID, Fields: f}.Title(col)
		}
		out[e.RecordID] = fmt.Sprintf("%s “%s”", singular(col), title)
	}
	return out
}
