package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"casefile/config"
	"casefile/vault"
)

// TestBadInputChangesNothing runs every class of bad input against a seeded
// database: each exits 1 with one sentence on stderr and leaves the
// records, the outbox and the journal exactly as they were.
func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	matter, note := h.seed()
	dir := t.TempDir()
	badFile := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(badFile, []byte(`{"matter_id":"`+matter+`","title":"ok"}`+"\n"+`{"title":`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := "matter_id=" + matter
	cases := []struct {
		args []string
		want string
	}{
		// unknown collection or field
		{[]string{"add", "memo", "title=x"}, `unknown collection "memo" (collections: matter, contact, note, task, hearing, time_entry, document, visit, attachment)`},
		{[]string{"add", "note", m, "titel=x"}, `note.titel: no such field (fields: matter_id, title, body, status, tags)`},
		{[]string{"edit", note, "colour=red"}, `note.colour: no such field`},
		{[]string{"list", "memo"}, `unknown collection "memo"`},
		{[]string{"export", "memo"}, `unknown collection "memo"`},
		{[]string{"import", "memo", "--file", badFile}, `unknown collection "memo"`},
		// wrong type or value
		{[]string{"add", "time_entry", m, "description=Call", "minutes=lots"}, `time_entry.minutes: not a duration: "lots" (try "90", "90m", "1h30" or "1.5h")`},
		{[]string{"add", "time_entry", m, "description=Call", "minutes=5000"}, `time_entry.minutes: must be at most 1440`},
		{[]string{"add", "task", m, "title=x", "done=perhaps"}, `task.done: not true or false: "perhaps"`},
		{[]string{"add", "task", m, "title=x", "due_on=31/12/2026"}, `task.due_on: not a valid date (YYYY-MM-DD): "31/12/2026"`},
		{[]string{"add", "hearing", m, "title=x", "starts_at=soon"}, `hearing.starts_at: not a date and time: "soon" (try "9:30am"`},
		{[]string{"edit", note, "status=archived"}, `note.status: "archived" is not one of: draft, open, review, closed`},
		{[]string{"add", "note", m, "title=x", "title=y"}, `note.title: is given more than once`},
		{[]string{"add", "note", m, "title"}, `"title" is not field=value (missing "="`},
		// missing required field
		{[]string{"add", "note", m}, `note.title: is required`},
		{[]string{"add", "note", "title=x"}, `note.matter_id: is required`},
		{[]string{"edit", note, "title="}, `note.title: is required and cannot be empty`},
		// malformed or unknown id
		{[]string{"add", "note", "matter_id=42", "title=x"}, `note.matter_id: not a valid matter id: "42"`},
		{[]string{"add", "note", "matter_id=" + unknownID, "title=x"}, `no matter with id "` + unknownID + `" on this device`},
		{[]string{"add", "note", "matter_id=" + note, "title=x"}, `no matter with id "` + note + `" on this device`},
		{[]string{"add", "note", "--id", "n-1", m, "title=x"}, `"n-1" is not a record id`},
		{[]string{"add", "note", "--id", note, m, "title=x"}, `a record with id ` + note + ` already exists`},
		{[]string{"edit", "n-1", "title=x"}, `"n-1" is not a record id`},
		{[]string{"edit", unknownID, "title=x"}, `no record with id ` + unknownID + ` on this device`},
		{[]string{"rm", "n-1"}, `"n-1" is not a record id`},
		{[]string{"rm", unknownID}, `no record with id ` + unknownID + ` on this device`},
		{[]string{"show", unknownID}, `no record with id ` + unknownID + ` on this device`},
		{[]string{"list", "note", "--matter", "m-1"}, `--matter: no matter titled "m-1"`},
		{[]string{"journal", "--record", "n-1"}, `--record: "n-1" is not a record id`},
		// bad options
		{[]string{"list", "note", "--state", "lost"}, `unknown state "lost" (states: pending, syncing, retrying, failed, conflict, synced)`},
		{[]string{"list", "note", "--limit", "-1"}, `--limit must be 0 or more, not -1`},
		{[]string{"export", "--format", "csv"}, `a CSV export needs a collection`},
		{[]string{"export", "note", "--format", "xml"}, `unknown format "xml" (formats: jsonl, csv)`},
		{[]string{"import", "note", "--file", badFile, "--batch", "0"}, `--batch must be between 1 and 10000, not 0`},
		// unreadable or bad file
		{[]string{"import", "note", "--file", filepath.Join(dir, "missing.jsonl")}, `cannot read ` + filepath.Join(dir, "missing.jsonl") + `: no such file or directory`},
		{[]string{"import", "note", "--file", dir}, `cannot read ` + dir + `: it is a directory`},
		{[]string{"import", "note", "--file", badFile, "--batch", "5"}, badFile + `: line 2: not a JSON object`},
		{[]string{"export", "note", "--out", filepath.Join(dir, "no", "such", "dir.jsonl")}, `cannot write ` + filepath.Join(dir, "no", "such", "dir.jsonl") + `: no such file or directory`},
	}
	db := h.db() // one handle for every snapshot; it sees the commands' commits
	before := h.snapshotOf(db)
	for _, tc := range cases {
		r := h.run(tc.args...)
		name := strings.Join(tc.args, " ")
		if r.code != 1 {
			t.Errorf("%s: exit %d, want 1 (stderr %q)", name, r.code, r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("%s: printed %q on stdout", name, r.stdout)
		}
		// One sentence on one line, after the import's own summary line.
		lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
		last := lines[len(lines)-1]
		if !strings.HasPrefix(last, "casefile "+tc.args[0]+": ") || !strings.Contains(last, tc.want) {
			t.Errorf("%s: stderr %q, want a line with %q", name, r.stderr, tc.want)
		}
		if len(lines) > 1 && tc.args[0] != "import" {
			t.Errorf("%s: %d lines on stderr: %q", name, len(lines), r.stderr)
		}
		if after := h.snapshotOf(db); after != before {
			t.Fatalf("%s changed the database", name)
		}
	}
	// The comparison can fail: a good command shows through the same handle.
	h.ok("edit", note, "status=open")
	if h.snapshotOf(db) == before {
		t.Fatal("a snapshot does not see a command's write")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("a failed command left files in %s: %v", dir, entries)
	}
}

// TestUsageMistakes exits 2 with the mistake and the command's usage.
func TestUsageMistakes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, args := range [][]string{
		{"add"},
		{"edit"},
		{"edit", unknownID},
		{"rm"},
		{"show", unknownID, unknownID},
		{"list"},
		{"search"},
		{"import", "note"},
		{"queue", "extra"},
		{"list", "note", "--colour"},
	} {
		r := h.run(args...)
		if r.code != 2 || !strings.Contains(r.stderr, "Usage: casefile "+args[0]) {
			t.Errorf("%q: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
	r := h.run("add", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "Usage: casefile add COLLECTION field=value...") || !strings.Contains(r.stdout, "-json") {
		t.Errorf("add --help: %+v", r)
	}
	r = h.run("--help")
	for _, name := range []string{"add", "edit", "rm", "show", "list", "search", "import", "export", "queue", "journal"} {
		if !strings.Contains(r.stdout, "\n  "+name+" ") {
			t.Errorf("casefile --help does not list %s", name)
		}
	}
}

// TestCommandTable checks the table every command runs from: each entry
// named, summarised and runnable, and each shown by casefile --help.
func TestCommandTable(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	help := h.ok("--help")
	for name, c := range commandTable() {
		if c.Name != name || c.Summary == "" || c.Run == nil {
			t.Errorf("command %q: %+v", name, c)
		}
		if !strings.Contains(help, "  "+name+" ") {
			t.Errorf("--help does not list %s", name)
		}
	}
}

// TestNoArgumentCommandsRefuseArguments: every command that takes only
// flags refuses a stray argument as a usage error (exit 2) naming itself,
// before it opens anything.
func TestNoArgumentCommandsRefuseArguments(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.data = t.TempDir() // a new directory, which a command that opened anything would fill
	for _, cmd := range []string{"bench", "conflicts", "doctor", "inbox", "lock", "init", "passphrase", "queue", "status", "sync"} {
		r := h.run(cmd, "extra")
		if want := cmd + " takes no arguments"; r.code != 2 || !strings.Contains(r.stderr, want) {
			t.Errorf("casefile %s extra: exit %d, stderr %q; want exit 2 and %q", cmd, r.code, r.stderr, want)
		}
	}
	for _, name := range []string{config.DBFile, vault.FileName} {
		if _, err := os.Stat(filepath.Join(h.data, name)); !os.IsNotExist(err) {
			t.Errorf("a refused command left %s behind: %v", name, err)
		}
	}
}

// TestHelpDescribesEveryFlagItShows: every command's --help describes
// each flag it lists, and lists none of the flags only the command itself
// passes (bench's worker processes).
func TestHelpDescribesEveryFlagItShows(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for name := range commandTable() {
		r := h.run(name, "--help")
		if r.code != 0 {
			t.Errorf("%s --help: exit %d, stderr %q", name, r.code, r.stderr)
			continue
		}
		lines := strings.Split(r.stdout, "\n")
		for i, l := range lines {
			if !strings.HasPrefix(l, "  -") {
				continue
			}
			desc := ""
			if i+1 < len(lines) {
				desc = strings.TrimSpace(lines[i+1])
			}
			if desc == "" || strings.HasPrefix(desc, "(default") {
				t.Errorf("%s --help lists %q with no description", name, strings.TrimSpace(l))
			}
		}
	}
	if r := h.run("bench", "--help"); strings.Contains(r.stdout, "-worker") || !strings.Contains(r.stdout, "-notes") {
		t.Errorf("bench --help:\n%s", r.stdout)
	}
}
