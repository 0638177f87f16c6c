package cli

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"casefile/localdb"
	"casefile/server"
	"casefile/server/servertest"
)

// damagedSetup gives a harness logged in to a server with two synced
// matters and two notes queued offline, its database closed, and returns
// the database's path and the page numbers of the records and outbox
// tables.
func damagedSetup(t *testing.T) (h *harness, path string, recordsPage, outboxPage int64) {
	t.Helper()
	return damagedSetupOn(t, startServer(t))
}

// damagedSetupOn is damagedSetup on the server srv.
func damagedSetupOn(t *testing.T, srv *servertest.Server) (h *harness, path string, recordsPage, outboxPage int64) {
	t.Helper()
	alice := srv.NewUser(t, "alice", server.RoleMember)
	h = newHarness(t)
	h.login(srv.URL, alice)
	m1 := h.add("matter", "title=Synced one")
	h.add("matter", "title=Synced two")
	h.ok("sync")
	h.add("note", "matter_id="+m1, "title=Queued one")
	h.add("note", "matter_id="+m1, "title=Queued two")
	path = filepath.Join(h.data, "casefile.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, page := range map[string]*int64{"records": &recordsPage, "outbox": &outboxPage} {
		if err := db.QueryRow("SELECT rootpage FROM sqlite_master WHERE name = ?", name).Scan(page); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	return h, path, recordsPage, outboxPage
}

// growAtEnd adds rows to table until the database file's last two pages
// are the table's, and checkpoints them into the file.
func growAtEnd(t *testing.T, path, table string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := 0; ; i++ {
		var n int
		err := db.QueryRow(`SELECT count(*) FROM (SELECT name FROM dbstat ORDER BY pageno DESC LIMIT 2) WHERE name = ?`, table).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 2 {
			break
		}
		if i == 100 {
			t.Fatalf("%s's rows never reached the file's last two pages", table)
		}
		// #nosec G202 -- a table name of this test's own
		if _, err := db.Exec("INSERT INTO "+table+" VALUES (?, ?, ?, ?)", fmt.Sprintf("/drop/%03d-%s", i, strings.Repeat("x", 400)),
			fmt.Sprintf("%064d", i), "rec", i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
}

// pageSize is SQLite's default page size, the one casefile uses.
const pageSize = 4096

// garblePage overwrites page (numbered from 1) of the database file at
// path with bytes no b-tree page holds.
func garblePage(t *testing.T, path string, page int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(strings.Repeat("\xde\xad", pageSize/2)), (page-1)*pageSize); err != nil {
		t.Fatal(err)
	}
}

// checkRepaired runs doctor --repair on a damaged database and checks the
// rebuild: the damaged file kept, the server's records back, and every
// queued change either queued again or named as not salvaged.
func checkRepaired(t *testing.T, h *harness, wantAllSalvaged bool) (report string) {
	t.Helper()
	r := h.run("doctor", "--repair")
	if !strings.Contains(r.stdout, "the damaged file is kept as ") {
		t.Fatalf("doctor --repair: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	kept, _ := filepath.Glob(filepath.Join(h.data, "casefile.db.damaged-*"))
	if len(kept) == 0 {
		t.Errorf("no damaged file kept in %s", h.data)
	}
	if !strings.Contains(r.stdout, "pulled 2 record(s) again from the server") {
		t.Errorf("the repair did not pull the server's records:\n%s", r.stdout)
	}
	out := h.ok("list", "matter")
	if !strings.Contains(out, "Synced one") || !strings.Contains(out, "Synced two") {
		t.Errorf("after the repair, list matter:\n%s", out)
	}
	var ops []localdb.OutboxOp
	h.okJSON(&ops, "queue", "--json")
	lost := strings.Count(r.stdout, "not salvaged: change ")
	if len(ops)+lost != 2 && !strings.Contains(r.stdout, "not salvaged: the queue") && !strings.Contains(r.stdout, "not salvaged: part of the queue") {
		t.Errorf("%d change(s) queued again and %d named as lost, of 2:\n%s", len(ops), lost, r.stdout)
	}
	if wantAllSalvaged {
		if len(ops) != 2 || r.code != 0 {
			t.Fatalf("want both queued changes salvaged: exit %d, queue %+v\n%s", r.code, ops, r.stdout)
		}
		notes := h.ok("list", "note")
		if !strings.Contains(notes, "Queued one") || !strings.Contains(notes, "Queued two") || !strings.Contains(notes, "saved offline") {
			t.Errorf("the salvaged notes are not shown:\n%s", notes)
		}
		if out := h.ok("sync"); !strings.HasPrefix(out, "pushed 2,") {
			t.Errorf("the salvaged changes did not reach the server: %q", out)
		}
	} else if r.code == 0 && len(ops) != 2 {
		t.Errorf("doctor --repair lost changes and exited 0:\n%s", r.stdout)
	}
	if r := h.run("doctor"); r.code != 0 {
		t.Errorf("doctor after the repair: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// TestDoctorRepairsGarbledFile garbles the records table's page: status
// and list must say the file is damaged instead of printing counts, and
// doctor --repair rebuilds from the server with both queued notes.
func TestDoctorRepairsGarbledFile(t *testing.T) {
	t.Parallel()
	h, path, recordsPage, outboxPage := damagedSetup(t)
	if recordsPage == outboxPage {
		t.Fatal("records and outbox share a page")
	}
	garblePage(t, path, recordsPage)
	for _, args := range [][]string{{"status"}, {"list", "note"}} {
		r := h.run(args...)
		if r.code == 0 || !strings.Contains(r.stderr, "doctor --repair") {
			t.Errorf("casefile %v on a garbled file: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
		}
	}
	if r := h.run("doctor"); r.code != 1 || !strings.Contains(r.stdout, "damaged") {
		t.Errorf("doctor on a garbled file: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	checkRepaired(t, h, true)
}

// TestDoctorRepairsTruncatedFile cuts the file's last pages off: every
// command says to repair, and doctor --repair rebuilds with both queued
// notes (SQLite refuses a file shorter than its header says as a whole;
// salvage reads a copy padded to that length).
func TestDoctorRepairsTruncatedFile(t *testing.T) {
	t.Parallel()
	h, path, _, outboxPage := damagedSetup(t)
	// The file grows at its end: the drop folder's imports noted, on
	// pages of their own after the schema's and the queue's.
	growAtEnd(t, path, "drop_imports")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// Lose the last pages, as a write cut short at the end of the file
	// would; the queue's page (early in the file) stays.
	cut := fi.Size() - 2*pageSize
	if cut <= outboxPage*pageSize {
		t.Fatalf("the file (%d bytes) is too short to cut after the queue's page %d", fi.Size(), outboxPage)
	}
	if err := os.Truncate(path, cut); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"status"}, {"list", "note"}} {
		r := h.run(args...)
		if r.code == 0 || !strings.Contains(r.stderr, "doctor --repair") {
			t.Errorf("casefile %v on a truncated file: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
		}
	}
	checkRepaired(t, h, true)
}

// TestSalvageNamesUnreadableOps garbles the outbox page itself: the
// repair must say that the queue could not be read rather than claim it
// saved everything.
func TestSalvageNamesUnreadableOps(t *testing.T) {
	t.Parallel()
	h, path, _, outboxPage := damagedSetup(t)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(strings.Repeat("\xff", pageSize-8)), (outboxPage-1)*pageSize+8); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r := h.run("doctor", "--repair")
	if r.code != 1 || !strings.Contains(r.stdout, "not salvaged:") || !strings.Contains(r.stderr, "remain after the repair") {
		t.Errorf("doctor --repair with the queue garbled: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if out := h.ok("list", "matter"); !strings.Contains(out, "Synced one") {
		t.Errorf("the rebuild did not bring back the server's records:\n%s", out)
	}
}

// TestDoctorRepairsDroppedTables drops parts of the layout, as another
// program might: commands say the file is damaged and how to mend it
// (not "the local database failed"), doctor finds what its integrity
// check passes, and doctor --repair rebuilds with both queued notes and
// no advice to run itself in what it could not salvage.
func TestDoctorRepairsDroppedTables(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		drop, missing string
		salvaged      bool
	}{
		{"DROP TABLE records", "no such table: records", true},
		{"DROP TABLE search_backlog", "missing: table search_backlog", true},
		{"DROP INDEX outbox_record", "missing: index outbox_record", true},
		// An op's fields are kept in its journal entry: with the journal
		// gone they are named as lost.
		{"DROP TABLE journal", "no such table: journal", false},
	} {
		t.Run(c.drop, func(t *testing.T) {
			t.Parallel()
			h, path, _, _ := damagedSetup(t)
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(c.drop); err != nil {
				t.Fatal(err)
			}
			db.Close()
			r := h.run("doctor")
			if r.code != 1 || !strings.Contains(r.stdout, "the local database file is damaged") || !strings.Contains(r.stdout, c.missing) {
				t.Fatalf("doctor: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			if r := h.run("list", "note"); r.code == 0 && !strings.HasPrefix(c.drop, "DROP INDEX") && c.drop != "DROP TABLE search_backlog" {
				t.Errorf("list note with %s: exit 0", c.drop)
			} else if r.code != 0 && (!strings.Contains(r.stderr, "doctor --repair") || strings.Contains(r.stderr, "the local database failed")) {
				t.Errorf("list note with %s: exit %d, %q", c.drop, r.code, r.stderr)
			}
			out := checkRepaired(t, h, c.salvaged)
			if c.salvaged == strings.Contains(out, "not salvaged") {
				t.Errorf("salvaged all: %v, but the repair said:\n%s", c.salvaged, out)
			}
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "remains:") && strings.Contains(line, "doctor --repair") {
					t.Errorf("what the repair could not salvage advises running the repair: %q", line)
				}
			}
		})
	}
}
