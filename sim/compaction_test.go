package sim

import (
	"fmt"
	"testing"
)

// compactionSeeds are the seeds on which the first scenarios with
// compaction found bugs, all fixed in the commit that brought compaction
// into the simulation (each also has a small test of its own):
//
//   - 1, 5: a full resync failed with cursor_too_old on its second page,
//     whose cursor lay below the compaction mark, and never finished
//     (server TestFullPullPassesTheMark, syncer TestResyncAfterCompaction).
//   - 8: a record deleted on the server while a device held unsent edits
//     of it outlived the resync; discarding the refused edits fell back to
//     a copy the server had forgotten, kept on the device for good
//     (localdb TestResetCursorKeepsOps).
//   - 3, 5, 7: the same for records of a matter the user lost: after the
//     revocation was compacted, the resync kept them for their unsent
//     changes, showing what the user may no longer see.
//   - 3: restoring a record (the "mine" side of an edit-of-deleted
//     conflict) whose tombstone was compacted created it again at version
//     1, which devices that saw the tombstone ignored as older news
//     (server TestRestoreAfterTombstoneCompacted).
//   - 177, 204: a full pull that straddled a compaction kept a record it
//     had shown alive, deleted and compacted before the pull got there;
//     full pulls now name the mark they began under and start over when
//     it moves (server TestFullPullPassesTheMark).
//   - 298: a device whose pulls had never got through (cursor 0) kept the
//     records of a matter it lost, the revocation compacted before its
//     first pull; a pull from 0 is now a resync
//     (syncer TestPullFromZeroDropsWhatItDoesNotShow).
//   - 27, 41, 101: deleting a record whose create the server had
//     answered outcome_unknown cancelled the create locally, as for a
//     refused create — but it may have been applied, and the delete
//     vanished; changes now queue behind such an op
//     (localdb TestNoFoldingIntoUnknownOutcome).
//   - 772 (a 600-scenario soak): an op answered outcome_unknown became
//     "gone" when a resync dropped its record; once the record was back,
//     sending it again applied it a second time. It now keeps saying
//     outcome_unknown (localdb TestUnknownOutcomeOutlivesADrop).
//   - 903, 983 (a second soak): a device holding no copy from the server
//     that had to resync set its cursor back to 0 without a word in the
//     journal; a cursor that goes back is now always a journaled resync.
//   - 139: a harness error (a record hidden by a refused create taken for
//     a deleted one), kept because it is a compaction-heavy history.
//
// Without the ledger mark, resends after compaction would have applied
// ops twice (server TestResendAfterLedgerCompaction).
var compactionSeeds = []uint64{1, 3, 5, 7, 8, 27, 41, 101, 139, 177, 204, 298, 772, 903, 983}

// TestConvergenceCompactionSeeds replays those seeds at full size.
func TestConvergenceCompactionSeeds(t *testing.T) {
	replaySeeds(t, "TestConvergenceCompactionSeeds", compactionSeeds, "compactions", "no longer compacts")
}

// replaySeeds replays seeds at full size, each checked to still meet what
// it found: the stat named did not stay zero (else it says so, as what).
func replaySeeds(t *testing.T, name string, seeds []uint64, stat, what string) {
	if raceEnabled {
		t.Skip("the seeds replay at full size, without -race (make test runs them)")
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			st := newStats()
			w := newWorld(t, seed, baseConfig, st)
			w.run()
			if st.n[stat] == 0 {
				t.Errorf("seed %d %s; the scenario has changed and the seed shows nothing", seed, what)
			}
			w.report(name)
		})
	}
}
