package storemove_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/server/storemove"
	"casefile/server/storetest"
)

// EnvLarge names how many notes TestMoveLarge moves (say 100000); unset,
// the test is skipped, since filling the store takes a while.
const EnvLarge = "CASEFILE_TEST_MOVE_RECORDS"

// TestMoveLarge times the move of a store of many notes, each with its
// ledger and audit rows, and checks the moved server answers a pull.
func TestMoveLarge(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(EnvLarge))
	if n <= 0 {
		t.Skip(EnvLarge + " is not set; skipping the large move")
	}
	pg := storetest.PostgresURL(t)
	ctx := context.Background()
	dir := t.TempDir()
	srv := start(t, server.Options{DataDir: dir})
	alice := srv.NewUser(t, "alice", protocol.RoleMember)
	matter := alice.CreateMatter(t, "Smith v Jones")
	filled := time.Now()
	const batch = 500
	for done := 0; done < n; done += batch {
		ops := make([]model.Op, 0, batch)
		for i := done; i < min(n, done+batch); i++ {
			ops = append(ops, servertest.Create("note", model.Fields{model.MatterField: matter.ID, "title": "note " + strconv.Itoa(i), "body": "Client brought the lease; the landlord disputes the deposit."}))
		}
		if _, err := alice.Push(ctx, ops...); err != nil {
			t.Fatal(err)
		}
	}
	head, err := srv.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv.stop()
	t.Logf("filled %d notes in %s", n, time.Since(filled).Round(time.Millisecond))
	res, err := storemove.Move(ctx, storemove.Options{DataDir: dir, URL: pg})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("moved in %s: %+v", res.Elapsed.Round(time.Millisecond), res.Tables)
	if res.Head.Seq != head {
		t.Fatalf("moved head %d, want %d", res.Head.Seq, head)
	}
	moved := start(t, server.Options{DatabaseURL: pg})
	alice.URL = moved.URL
	page, err := alice.Pull(ctx, head-10, 0)
	if err != nil || len(page.Records) != 10 {
		t.Fatalf("pull after the move: %d records, %v", len(page.Records), err)
	}
}
