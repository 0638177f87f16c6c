package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"

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
			Usage:   "(OP_ID | --all [--state STATE]) --yes",
			Summary: "Drop queued changes for good (one, or all, or all in a state); the journal keeps a copy (see casefile queue)",
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
	all := fs.Bool("all", false, "discard every queued change (or, with --state, every one in that state)")
	state := fs.String("state", "", "with --all: only changes in this state (failed, retrying, pending)")
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if *all {
		if len(pos) > 0 {
			return usageError("give an op id or --all, not both")
		}
		return discardAll(ctx, env, localdb.OpState(*state), *yes)
	}
	if *state != "" {
		return usageError("--state goes with --all")
	}
	if len(pos) != 1 {
		return usageError("give one op id (from 'casefile queue') or --all")
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
	if op.Kind == model.OpCreate && op.Collection == model.MatterCollection {
		// Without its create the matter is gone from this device, and the
		// records made in it would be left pointing at nothing, to be
		// refused by the server one by one.
		holds, err := db.MatterHolds(ctx, op.RecordID)
		if err != nil {
			return err
		}
		if len(holds) > 0 {
			return fmt.Errorf("the create of matter %s cannot be discarded alone: the matter holds %s, which would be left without it. "+
				"Delete them with it (casefile rm %s --cascade), or discard their changes first", op.RecordID, localdb.HoldsPhrase(holds), op.RecordID)
		}
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

// discardableStates are the states discard --all --state takes: a change
// being sent or in conflict is not discarded in bulk (the conflict review
// settles those).
var discardableStates = []localdb.OpState{localdb.OpFailed, localdb.OpRetrying, localdb.OpPending}

// discardAll drops every queued change, or every one in state, after the
// person confirmed with --yes; without it, it says how many would go.
func discardAll(ctx context.Context, env *Env, state localdb.OpState, yes bool) error {
	if state != "" && !slices.Contains(discardableStates, state) {
		return usageError("--state must be failed, retrying or pending, not %q", state)
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
	var pick []localdb.OutboxOp
	for _, op := range ops {
		if slices.Contains(discardableStates, op.State) && (state == "" || op.State == state) {
			pick = append(pick, op)
		}
	}
	what := "queued"
	if state != "" {
		what = model.SyncState(state).Label()
		if state == localdb.OpPending {
			what = "saved offline"
		}
	}
	if len(pick) == 0 {
		_, err := fmt.Fprintf(env.Stdout, "Nothing to discard: no change is %s.\n", what)
		return err
	}
	if !yes {
		return usageError("this drops %s (%s) from the queue for good (the journal keeps a copy); add --yes to confirm", changes(len(pick)), what)
	}
	n := 0
	for _, op := range pick {
		// An op may have been sent or settled since the list was read:
		// what is no longer waiting is skipped.
		if err := db.DiscardOp(ctx, op.OpID); err != nil {
			if errors.Is(err, localdb.ErrNoOp) || errors.Is(err, localdb.ErrSending) {
				continue
			}
			return fmt.Errorf("discarded %d of %d, then: %w", n, len(pick), opError(op.OpID, err))
		}
		n++
	}
	_, err = fmt.Fprintf(env.Stdout, "Discarded %s; the records show the server's copy again. The journal keeps every change.\n", changes(n))
	return err
}

// checkOpID refuses what cannot be an op id before touching the database.
func checkOpID(s string) error {
	if !validRef(s) {
		return usageError("%q is not an op id (op ids are listed by 'casefile queue'; their first characters will do)", s)
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
