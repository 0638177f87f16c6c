package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"casefile/localdb"
	"casefile/model"
)

// listCommands are the commands of this file, for the command table.
func listCommands() []Command {
	return []Command{
		{
			Name:    "list",
			Usage:   "COLLECTION [--matter ID] [--state STATE] [--limit N] [--json]",
			Summary: "List the records of a collection with their sync state",
			Run:     runList,
		},
		{
			Name:    "search",
			Usage:   "TEXT... [--limit N] [--json]",
			Summary: "Find records by full text across every collection",
			Run:     runSearch,
		},
	}
}

func runList(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print a JSON array of records")
	matter := fs.String("matter", "", "only records of this matter: its title, the start of its title, or its id")
	state := fs.String("state", "", "only records in this state: pending (saved offline), syncing, retrying, failed, conflict, synced")
	limit := fs.Int("limit", 0, "at most this many records (0: all)")
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("name one collection to list")
	}
	col, err := collection(pos[0])
	if err != nil {
		return err
	}
	q := localdb.ListQuery{Collection: col.Name, Limit: *limit}
	if *limit < 0 {
		return fmt.Errorf("--limit must be 0 or more, not %d", *limit)
	}
	if *state != "" {
		if q.State, err = model.ParseState(*state); err != nil {
			return err
		}
	}
	db, _, err := openChecked(ctx, env, quickCheckMaxBytes)
	if err != nil {
		return err
	}
	defer db.Close()
	if *matter != "" {
		if q.MatterID, err = resolveMatter(ctx, db, *matter); err != nil {
			return fmt.Errorf("--matter: %w", err)
		}
	}
	recs, err := db.List(ctx, q)
	if err != nil {
		return err
	}
	if *asJSON {
		if recs == nil {
			recs = []model.Record{}
		}
		return printJSON(env.Stdout, recs)
	}
	if err := writeRecords(env, col, recs); err != nil {
		return err
	}
	if *limit > 0 && len(recs) == *limit {
		q.Limit = 0
		if total, err := db.Count(ctx, q); err == nil && total > len(recs) {
			fmt.Fprintf(env.Stderr, "Showing %d of %d records; raise --limit to see more.\n", len(recs), total)
		}
	}
	return nil
}

// writeRecords prints records of one collection as a table: the id, the
// schema's list columns and the sync state in words.
func writeRecords(env *Env, col *model.Collection, recs []model.Record) error {
	if len(recs) == 0 {
		_, err := fmt.Fprintf(env.Stdout, "No %s.\n", strings.ToLower(col.Label))
		return err
	}
	head := []string{"ID"}
	for _, name := range col.Columns {
		f, _ := col.Field(name)
		head = append(head, header(f.Label))
	}
	t := newTable(env.Stdout, append(head, "STATE")...)
	for _, r := range recs {
		cells := []string{r.ID}
		for _, name := range col.Columns {
			cells = append(cells, model.Format(r.Fields[name]))
		}
		t.row(append(cells, r.State.Label())...)
	}
	return t.flush()
}

// searchLimit is how many results search shows unless told otherwise.
const searchLimit = 50

func runSearch(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print a JSON array of records")
	limit := fs.Int("limit", searchLimit, "at most this many results")
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	text := strings.TrimSpace(strings.Join(pos, " "))
	if text == "" {
		return usageError("say what to search for")
	}
	if *limit < 1 {
		return fmt.Errorf("--limit must be 1 or more, not %d", *limit)
	}
	s, err := schema()
	if err != nil {
		return err
	}
	db, _, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	recs, err := db.Search(ctx, text, *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		if recs == nil {
			recs = []model.Record{}
		}
		return printJSON(env.Stdout, recs)
	}
	if len(recs) == 0 {
		_, err := fmt.Fprintf(env.Stdout, "Nothing matches %q.\n", text)
		return err
	}
	t := newTable(env.Stdout, "ID", "COLLECTION", "TITLE", "STATE")
	for _, r := range recs {
		title := r.ID
		if col, ok := s.Collection(r.Collection); ok {
			title = r.Title(col)
		}
		t.row(r.ID, r.Collection, title, r.State.Label())
	}
	return t.flush()
}
