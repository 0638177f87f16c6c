package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"casefile/localdb"
	"casefile/model"
)

// retryCommands are the commands of this file, for the command table.
func retryCommands() []Command {
	return []Command{
		{
			Name:    "retry",
			Usage:   "OP_ID | --all",
			Summary: "Send a failed or waiting change again at the next sync (see casefile queue)",
			Run:     runRetry,
		},
		{
			Name:    "discard",
			Usage:   "OP_ID --yes",
			Summary: "Drop a queued change for good; the journal keeps a copy (see casefile queue)",
			Run:     runDiscard,
		},
	}
}

func runRetry(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	all := fs.Bool("all", false, "retry every failed or waiting change")
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case *all && len(pos) > 0:
		return usageError("give an op id or --all, not both")
	case !*all && len(pos) != 1:
		return usageError("give one op id (from 'casefile queue') or --all")
	}
	if !*all {
		if err := checkOpID(pos[0]); err != nil {
			return err
		}
	}
	db, _, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	if *all {
		n, err := db.RetryAll(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			_, err := fmt.Fprintln(env.Stdout, "Nothing to retry: no change has failed or is waiting to be retried.")
			return err
		}
		_, err = fmt.Fprintf(env.Stdout, "%s will be sent at the next sync.\n", changes(n))
		return err
	}
	op, err := outboxOp(ctx, db, pos[0])
	if err != nil {
		return err
	}
	switch op.State {
	case localdb.OpPending, localdb.OpSyncing:
		_, err := fmt.Fprintf(env.Stdout, "Change %s is already on its way (%s); nothing to retry.\n", op.OpID, model.SyncState(op.State).Label())
		return err
	case localdb.OpConflict:
		return fmt.Errorf("change %s met a conflict: review it with 'casefile conflicts' and 'casefile resolve %s'", op.OpID, op.RecordID)
	}
	if err := db.RetryOp(ctx, op.OpID); err != nil {
		return opError(op.OpID, err)
	}
	_, err = fmt.Fprintf(env.Stdout, "Change %s (%s of %s) will be sent at the next sync.\n", op.OpID, op.Kind, op.RecordID)
	return err
}

func runDiscard(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	yes := fs.Bool("yes", false, "confirm: the change is dropped from the queue (the journal keeps a copy)")
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("give one op id (from 'casefile queue')")
	}
	if err := checkOpID(pos[0]); err != nil {
		return err
	}
	db, _, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	op, err := outboxOp(ctx, db, pos[0])
	if err != nil {
		return err
	}
	if !*yes {
		return usageError("discarding drops the %s of record %s from the queue for good (the journal keeps a copy); add --yes to confirm", op.Kind, op.RecordID)
	}
	if err := db.DiscardOp(ctx, op.OpID); err != nil {
		return opError(op.OpID, err)
	}
	_, err = fmt.Fprintf(env.Stdout, "Discarded the %s of record %s; the record now shows the server's copy. The journal keeps the change ('casefile journal --record %s').\n",
		op.Kind, op.RecordID, op.RecordID)
	return err
}

// checkOpID refuses what cannot be an op id before touching the database.
func checkOpID(s string) error {
	if !model.ValidID(s) {
		return usageError("%q is not an op id (op ids are listed by 'casefile queue')", s)
	}
	return nil
}

// opError turns the local database's errors about one op into sentences.
func opError(opID string, err error) error {
	switch {
	case errors.Is(err, localdb.ErrNoOp):
		return fmt.Errorf("no queued change with id %s (run 'casefile queue' to list them)", opID)
	case errors.Is(err, localdb.ErrSending):
		return fmt.Errorf("change %s is being sent right now; try again in a moment", opID)
	case errors.Is(err, localdb.ErrInConflict):
		return fmt.Errorf("change %s met a conflict: review it with 'casefile conflicts'", opID)
	}
	return err
}

func changes(n int) string {
	if n == 1 {
		return "1 change"
	}
	return fmt.Sprintf("%d changes", n)
}
