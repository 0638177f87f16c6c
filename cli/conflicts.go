package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"

	"casefile/internal/safetext"
	"casefile/localdb"
	"casefile/model"
)

// conflictCommands are the commands of this file, for the command table.
func conflictCommands() []Command {
	return []Command{
		{
			Name:    "conflicts",
			Usage:   "[--json]",
			Summary: "List changes that overlap newer server changes and wait for review",
			Run:     runConflicts,
		},
		{
			Name:  "resolve",
			Usage: "ID --mine | --theirs | --field NAME=mine|theirs|VALUE ...",
			Summary: "Resolve a record's conflict: keep your change, the server's, or choose field by field " +
				"(a value that is literally mine or theirs is written value:mine)",
			Run: runResolve,
		},
	}
}

// conflictOut is one conflict as casefile conflicts --json prints it.
type conflictOut struct {
	Record string `json:"record"`
	Title  string `json:"title"`
	model.Conflict
}

func runConflicts(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print a JSON array of conflicts")
	if err := parseNoArgs(fs, args, "conflicts"); err != nil {
		return err
	}
	db, _, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	cs, err := db.Conflicts(ctx)
	if err != nil {
		return fmt.Errorf("read conflicts: %w", err)
	}
	out := make([]conflictOut, len(cs))
	for i, c := range cs {
		out[i] = conflictOut{Record: c.RecordID, Title: conflictTitle(ctx, db, c), Conflict: c}
	}
	if *asJSON {
		return printJSON(env.Stdout, out)
	}
	if len(out) == 0 {
		_, err := fmt.Fprintln(env.Stdout, "No conflicts to review.")
		return err
	}
	w := env.Stdout
	for i, c := range out {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s %s %q — %s\n", safetext.Line(c.Collection), safetext.Line(c.RecordID), c.Title, conflictKindText(c.Kind, c.TheirsVersion))
		if c.TheirsBy != "" {
			fmt.Fprintf(w, "  their change: %s, %s\n", safetext.Line(c.TheirsBy), c.TheirsAt.Local().Format("Mon 2 Jan 2006 15:04 MST"))
		}
		t := newTable(w, "  FIELD", "BASE", "MINE", "THEIRS")
		for _, f := range c.Fields {
			t.row("  "+f.Field, model.Format(f.Base), model.Format(f.Mine), model.Format(f.Theirs))
		}
		t.flush()
		switch c.Kind {
		case model.ConflictEdit:
			fmt.Fprintf(w, "  resolve: casefile resolve %s --mine | --theirs | --field NAME=mine|theirs|VALUE\n", safetext.Line(c.RecordID))
		case model.ConflictEditDeleted:
			fmt.Fprintf(w, "  resolve: casefile resolve %s --mine (restore with your edits) | --theirs (leave it deleted)\n", safetext.Line(c.RecordID))
		case model.ConflictDeleteEdit:
			fmt.Fprintf(w, "  resolve: casefile resolve %s --mine (delete it) | --theirs (keep the server's version)\n", safetext.Line(c.RecordID))
		}
	}
	return nil
}

func conflictKindText(k model.ConflictKind, version int64) string {
	switch k {
	case model.ConflictEditDeleted:
		return "you edited it, the server deleted it"
	case model.ConflictDeleteEdit:
		return fmt.Sprintf("you deleted it, the server changed it (version %d)", version)
	}
	return fmt.Sprintf("you and the server (version %d) changed the same fields", version)
}

// conflictTitle names the record for people, from its local copy or the
// server's side of the conflict.
func conflictTitle(ctx context.Context, db *localdb.DB, c model.Conflict) string {
	s := db.Schema()
	col, ok := s.Collection(c.Collection)
	if !ok {
		return c.RecordID
	}
	if r, err := db.Get(ctx, c.RecordID); err == nil {
		return r.Title(col)
	}
	return model.Record{ID: c.RecordID, Fields: c.Theirs}.Title(col)
}

// fieldChoices collects repeated --field NAME=CHOICE flags.
type fieldChoices []string

func (f *fieldChoices) String() string     { return strings.Join(*f, ", ") }
func (f *fieldChoices) Set(v string) error { *f = append(*f, v); return nil }

func runResolve(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	mine := fs.Bool("mine", false, "keep your change for every conflicting field not chosen with --field")
	theirs := fs.Bool("theirs", false, "keep the server's version for every conflicting field not chosen with --field")
	var fields fieldChoices
	fs.Var(&fields, "field", "NAME=mine, NAME=theirs or NAME=VALUE for one field (repeatable)")
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("resolve takes one record id")
	}
	id := pos[0]
	if err := checkID(id); err != nil {
		return usageError("%v", err)
	}
	if *mine && *theirs {
		return usageError("choose --mine or --theirs, not both")
	}
	if !*mine && !*theirs && len(fields) == 0 {
		return usageError("choose --mine, --theirs or --field NAME=mine|theirs|VALUE")
	}
	db, _, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	if id, err = resolveRecord(ctx, db, id); err != nil {
		return err
	}
	c, err := db.Conflict(ctx, id)
	if errors.Is(err, localdb.ErrConflict) || errors.Is(err, localdb.ErrNotFound) {
		return fmt.Errorf("record %s has no conflict to resolve (run 'casefile conflicts' to list them)", id)
	}
	if err != nil {
		return fmt.Errorf("read the conflict: %w", err)
	}
	var r model.Resolution
	switch {
	case *mine:
		r.All = model.TakeMine
	case *theirs:
		r.All = model.TakeTheirs
	}
	if len(fields) > 0 {
		if c.Kind != model.ConflictEdit {
			return fmt.Errorf("this conflict (%s) is resolved as a whole: use --mine or --theirs", c.Kind)
		}
		if r.Fields, err = parseChoices(db.Schema(), c, fields); err != nil {
			return err
		}
	}
	rec, err := db.Resolve(ctx, id, r)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", id, err)
	}
	if rec.State == model.StateSynced {
		fmt.Fprintf(env.Stdout, "Resolved %s: the server's version stands; nothing to send.\n", id)
		return nil
	}
	fmt.Fprintf(env.Stdout, "Resolved %s: your resolution is %s and goes to the server at the next sync.\n", id, rec.State.Label())
	return nil
}

// parseChoices reads --field NAME=mine|theirs|VALUE for the conflict's
// fields. "value:" before a value takes it literally (value:mine).
func parseChoices(s *model.Schema, c model.Conflict, args []string) (map[string]model.Choice, error) {
	col, ok := s.Collection(c.Collection)
	if !ok {
		return nil, fmt.Errorf("the conflict is about unknown collection %q", c.Collection)
	}
	conflicting := make([]string, len(c.Fields))
	for i, f := range c.Fields {
		conflicting[i] = f.Field
	}
	out := map[string]model.Choice{}
	for _, arg := range args {
		name, value, ok := strings.Cut(arg, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, usageError("--field %q: write NAME=mine, NAME=theirs or NAME=VALUE", arg)
		}
		if !slices.Contains(conflicting, name) {
			return nil, fmt.Errorf("--field %s: not a conflicting field of this record (conflicting: %s)", name, strings.Join(conflicting, ", "))
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("--field %s is given more than once", name)
		}
		switch value {
		case string(model.TakeMine):
			out[name] = model.Choice{Take: model.TakeMine}
			continue
		case string(model.TakeTheirs):
			out[name] = model.Choice{Take: model.TakeTheirs}
			continue
		}
		value = strings.TrimPrefix(value, "value:")
		f, _ := col.Field(name)
		v, err := f.ParseInput(value)
		if err == nil {
			v, err = f.Normalize(v)
		}
		if err != nil {
			return nil, fmt.Errorf("--field %s: %v", name, err)
		}
		if v == nil && f.Required {
			return nil, fmt.Errorf("--field %s: is required and cannot be empty", name)
		}
		out[name] = model.Choice{Take: model.TakeValue, Value: v}
	}
	return out, nil
}
