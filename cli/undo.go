package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"casefile/internal/safetext"
	"casefile/localdb"
)

// undoCommands are the commands of this file, for the command table.
func undoCommands() []Command {
	return []Command{{
		Name:    "undo",
		Usage:   "[--json]",
		Summary: "Take back the last change made on this device (a new change that syncs like any edit; again walks further back)",
		Run:     runUndo,
	}}
}

func runUndo(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print what was undone as JSON")
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("undo takes no arguments; it takes back the last change made on this device")
	}
	db, _, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	u, err := db.Undo(ctx)
	var holds *localdb.MatterHoldsError
	switch {
	case errors.Is(err, localdb.ErrNothingToUndo):
		return localdb.ErrNothingToUndo // the sentence alone: the command's name leads it already
	case errors.As(err, &holds):
		return fmt.Errorf("cannot undo the creation of matter %s: it now holds %s; delete or move them first", u.Change.RecordID, localdb.HoldsPhrase(holds.Counts))
	case err != nil:
		return recordError(u.Change.RecordID, err)
	}
	if *asJSON {
		return printJSON(env.Stdout, u)
	}
	_, err = fmt.Fprintln(env.Stdout, safetext.Line(u.Sentence(db.Schema())))
	return err
}
