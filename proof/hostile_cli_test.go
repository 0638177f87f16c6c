package proof

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"casefile/assets"
	"casefile/cli"
	"casefile/localdb"
	"casefile/model"
	"casefile/vault"
)

// cliRun runs casefile in-process on a data directory, with an empty config
// file of its own so no user's config leaks in (a config path named on the
// command line must exist).
func cliRun(t *testing.T, data string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	cfg := filepath.Join(t.TempDir(), "empty-config.toml")
	if err := os.WriteFile(cfg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	full := append([]string{"--data", data, "--config", cfg}, args...)
	code = cli.Main(bg, full, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// localState is everything a command could change in the local database:
// records (tombstones included), the outbox, conflicts and the journal.
func localState(t *testing.T, data string) string {
	t.Helper()
	schema, err := model.ParseSchema(assets.Schema)
	if err != nil {
		t.Fatal(err)
	}
	// The CLI encrypted the directory with a key stored beside it (no
	// terminal, no passphrase).
	keys, err := vault.Unlock(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	db, err := localdb.Open(bg, filepath.Join(data, "casefile.db"), schema, localdb.WithSealer(keys))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var all struct {
		Records   []model.Record
		Outbox    []localdb.OutboxOp
		Conflicts []model.Conflict
		Journal   []localdb.JournalEntry
	}
	if all.Records, err = db.List(bg, localdb.ListQuery{IncludeDeleted: true}); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(all.Records, func(a, b model.Record) int { return strings.Compare(a.ID, b.ID) })
	if all.Outbox, err = db.Outbox(bg); err != nil {
		t.Fatal(err)
	}
	if all.Conflicts, err = db.Conflicts(bg); err != nil {
		t.Fatal(err)
	}
	if all.Journal, err = db.Journal(bg, localdb.JournalQuery{}); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cliInternals are internals but paths: a command names the files it was given.
var cliInternals = slices.DeleteFunc(slices.Clone(internals), func(s string) bool { return s == "/tmp/" || s == tempDirText })

// TestHostileCommandLines runs bad arguments and bad import files against a
// seeded local database: each exits non-zero with one clear sentence on
// stderr, shows nothing internal, and leaves the database as it was.
func TestHostileCommandLines(t *testing.T) {
	t.Setenv("CASEFILE_DATA", "")
	t.Setenv("CASEFILE_CONFIG", "")
	t.Setenv("CASEFILE_SERVER", "")
	data := t.TempDir()
	add := func(args ...string) string {
		out, errs, code := cliRun(t, data, "", append([]string{"add"}, args...)...)
		if code != 0 {
			t.Fatalf("add %v: exit %d: %s", args, code, errs)
		}
		return strings.TrimSpace(out)
	}
	matter := add("matter", "title=Smith v Jones")
	note := add("note", "matter_id="+matter, "title=First meeting")
	m := "matter_id=" + matter
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := fmt.Sprintf(`{"matter_id":%q,"title":"fine"}`, matter)
	manyTags := make([]string, model.MaxTags+1)
	for i := range manyTags {
		manyTags[i] = fmt.Sprintf("t%d", i)
	}
	cases := []struct {
		name  string
		args  []string
		stdin string
		usage bool // a usage error: the sentence may be followed by the usage
	}{
		{name: "unknown command", args: []string{"frobnicate"}},
		{name: "unknown flag", args: []string{"add", "note", "--force"}, usage: true},
		{name: "add without collection", args: []string{"add"}, usage: true},
		{name: "unknown collection", args: []string{"add", "memo", "title=x"}},
		{name: "path as collection", args: []string{"add", "../../etc/passwd", "title=x"}},
		{name: "unknown field", args: []string{"add", "note", m, "titel=x"}},
		{name: "server field", args: []string{"add", "note", m, "title=x", "version=7"}},
		{name: "not field=value", args: []string{"add", "note", m, "title"}},
		{name: "missing required field", args: []string{"add", "note", m}},
		{name: "clear required field", args: []string{"edit", note, "title="}},
		{name: "not a number", args: []string{"add", "time_entry", m, "description=Call", "minutes=lots"}},
		{name: "number out of range", args: []string{"add", "time_entry", m, "description=Call", "minutes=5000"}},
		{name: "not a bool", args: []string{"add", "task", m, "title=x", "done=perhaps"}},
		{name: "not a date", args: []string{"add", "task", m, "title=x", "due_on=31/12/2026"}},
		{name: "not a date-time", args: []string{"add", "hearing", m, "title=x", "starts_at=soon"}},
		{name: "bad enum", args: []string{"edit", note, "status=archived"}},
		{name: "line break in text", args: []string{"add", "note", m, "title=a\nb"}},
		{name: "oversize text", args: []string{"add", "note", m, "title=" + strings.Repeat("x", model.MaxTextLen+1)}},
		{name: "too many tags", args: []string{"add", "note", m, "title=x", "tags=" + strings.Join(manyTags, ",")}},
		{name: "invalid utf-8", args: []string{"add", "note", m, "title=\xff\xfe"}},
		{name: "malformed matter ref", args: []string{"add", "note", "matter_id=42", "title=x"}},
		{name: "sql matter ref", args: []string{"add", "note", "matter_id=' OR 1=1 --", "title=x"}},
		{name: "unknown matter", args: []string{"add", "note", "matter_id=" + model.NewID(), "title=x"}},
		{name: "note as matter", args: []string{"add", "note", "matter_id=" + note, "title=x"}},
		{name: "malformed id to edit", args: []string{"edit", "n-1", "title=x"}},
		{name: "sql id to remove", args: []string{"rm", "'; DROP TABLE records; --"}},
		{name: "path id to show", args: []string{"show", "../../etc/passwd"}},
		{name: "unknown id to remove", args: []string{"rm", model.NewID()}},
		{name: "taken id", args: []string{"add", "note", "--id", note, m, "title=x"}},
		{name: "unknown state", args: []string{"list", "note", "--state", "lost"}},
		{name: "malformed matter filter", args: []string{"list", "note", "--matter", "m-1"}},
		{name: "unknown export format", args: []string{"export", "note", "--format", "xml"}},
		{name: "malformed journal record", args: []string{"journal", "--record", "n-1"}},
		{name: "import missing file", args: []string{"import", "note", "--file", filepath.Join(dir, "missing.jsonl")}},
		{name: "import a directory", args: []string{"import", "note", "--file", dir}},
		{name: "import unknown collection", args: []string{"import", "memo", "--file", file("ok.jsonl", ok+"\n")}},
		{name: "import truncated line", args: []string{"import", "note", "--file", file("cut.jsonl", ok+"\n"+`{"matter_id":"`+matter+`","ti`)}},
		{name: "import not json", args: []string{"import", "note", "--file", file("garbage.jsonl", "\x00\x01\x02 not json\n")}},
		{name: "import a list line", args: []string{"import", "note", "--file", file("list.jsonl", ok+"\n[1,2,3]\n")}},
		{name: "import unknown field", args: []string{"import", "note", "--file", file("field.jsonl", ok+"\n"+fmt.Sprintf(`{"matter_id":%q,"title":"x","colour":"red"}`, matter)+"\n")}},
		{name: "import wrong type", args: []string{"import", "note", "--file", file("type.jsonl", fmt.Sprintf(`{"matter_id":%q,"title":42}`, matter)+"\n")}},
		{name: "import existing id", args: []string{"import", "note", "--file", file("taken.jsonl", fmt.Sprintf(`{"id":%q,"matter_id":%q,"title":"x"}`, note, matter)+"\n")}},
		{name: "import duplicate ids", args: []string{"import", "note", "--file", file("dup.jsonl", strings.Repeat(fmt.Sprintf(`{"id":"0190f3a2-7c1e-7b3d-9f00-2a6c1d5e8b41","matter_id":%q,"title":"x"}`, matter)+"\n", 2))}},
		{name: "import malformed id", args: []string{"import", "note", "--file", file("id.jsonl", fmt.Sprintf(`{"id":"1; DROP TABLE records","matter_id":%q,"title":"x"}`, matter)+"\n")}},
		{name: "import invalid utf-8", args: []string{"import", "note", "--file", file("utf8.jsonl", fmt.Sprintf(`{"matter_id":%q,"title":"`+"\xff"+`"}`, matter)+"\n")}},
		{name: "import server field", args: []string{"import", "note", "--file", file("version.jsonl", fmt.Sprintf(`{"matter_id":%q,"title":"x","version":9}`, matter)+"\n")}},
		{name: "import bad stdin", args: []string{"import", "note", "--file", "-"}, stdin: "{\n"},
		{name: "import batch of zero", args: []string{"import", "note", "--file", file("ok2.jsonl", ok+"\n"), "--batch", "0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := localState(t, data)
			out, errs, code := cliRun(t, data, c.stdin, c.args...)
			if code == 0 {
				t.Fatalf("exit 0; stdout %q", out)
			}
			lines := strings.Split(strings.TrimRight(errs, "\n"), "\n")
			if c.args[0] == "import" {
				// An import first says how far it got (progress), then why it stopped.
				lines = lines[len(lines)-1:]
			}
			first := lines[0]
			switch {
			case !strings.HasPrefix(first, "casefile") || len(first) < len("casefile x: y"):
				t.Errorf("stderr does not open with a sentence: %q", errs)
			case len(lines) > 1 && !c.usage:
				t.Errorf("stderr holds %d lines, want one sentence: %q", len(lines), errs)
			}
			// The user's own file names may appear; nothing of the program's insides.
			if l := leakedOf(cliInternals, errs, nil); l != "" {
				t.Errorf("stderr shows %q: %q", l, errs)
			}
			if after := localState(t, data); after != before {
				t.Errorf("the local database changed")
			}
		})
	}
	t.Logf("%d hostile command lines", len(cases))
}
