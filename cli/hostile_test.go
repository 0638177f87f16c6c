package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"casefile/model"
	"casefile/server"
	"casefile/server/servertest"
)

// hostile is text a collaborator could store to drive a reader's
// terminal: a window title, a screen clear, colour, a C1 CSI, NUL, DEL,
// and bidi overrides and isolates that reorder what is shown.
const hostile = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x1b[0m nul\x00del\x7f c1\u009b2J evil\u202egpj.exe \u2066iso\u2069 zw\u200bsp"

// escapedHostile is how hostile must show on one line (see safetext).
const escapedHostile = `\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x1b[0m nul\x00del\x7f c1\u009b2J evil\u202egpj.exe \u2066iso\u2069 zw\u200bsp`

// noTerminalControl fails t when out holds anything a terminal would act
// on or that hides text: control characters other than newline and tab,
// format characters (bidi, zero-width) and invalid UTF-8.
func noTerminalControl(t *testing.T, what, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%s: output is not valid UTF-8: %q", what, out)
	}
	for i, r := range out {
		if r == '\n' || r == '\t' {
			continue
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
			t.Errorf("%s: raw %U at byte %d of\n%q", what, r, i, out)
			return
		}
	}
}

// TestStoredTextCannotDriveTheTerminal has another member of a shared
// matter store escape sequences through a real server, and checks that
// every command printing stored text shows them as escapes, while JSON
// output keeps them exact.
func TestStoredTextCannotDriveTheTerminal(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	mallory := srv.NewUser(t, "mallory", server.RoleMember)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	ctx := context.Background()
	m := mallory.CreateMatter(t, "Shared "+hostile)
	if err := srv.Grant(ctx, "alice", m.ID); err != nil {
		t.Fatal(err)
	}
	res := mallory.PushOne(t, servertest.Create("note", model.Fields{
		model.MatterField: m.ID, "title": hostile, "body": hostile + "\nsecond line\r\n" + hostile, "tags": []any{hostile},
	}))
	if res.Result != model.ResultApplied || res.Record == nil {
		t.Fatalf("store hostile note: %s %s %s", res.Result, res.Code, res.Message)
	}
	note := res.Record
	// What the agenda and the time totals show: a hearing, a task due and
	// time worked, each named in hostile text.
	soon := time.Now().Add(24 * time.Hour)
	for _, op := range []model.Op{
		servertest.Create("hearing", model.Fields{model.MatterField: m.ID, "title": hostile, "starts_at": soon.UTC().Format(time.RFC3339)}),
		servertest.Create("task", model.Fields{model.MatterField: m.ID, "title": hostile, "due_on": soon.Format("2006-01-02")}),
		servertest.Create("time_entry", model.Fields{model.MatterField: m.ID, "description": hostile, "minutes": 90.0, "worked_on": soon.Format("2006-01-02")}),
	} {
		if r := mallory.PushOne(t, op); r.Result != model.ResultApplied {
			t.Fatalf("store hostile %s: %s %s %s", op.Collection, r.Result, r.Code, r.Message)
		}
	}

	h := newHarness(t)
	h.login(srv.URL, alice)
	h.ok("sync")
	// A conflict whose server side is hostile text.
	h.ok("edit", note.ID, "status=open")
	h.ok("edit", note.ID, "title=Alice's title")
	if r := mallory.PushOne(t, servertest.Update(note, model.Fields{"title": hostile + " again"})); r.Result != model.ResultApplied {
		t.Fatalf("hostile update: %s %s %s", r.Result, r.Code, r.Message)
	}
	if r := h.run("sync"); r.code != exitConflicts {
		t.Fatalf("sync into the conflict: exit %d, %q", r.code, r.stderr)
	}

	for _, args := range [][]string{
		{"list", "note"},
		{"list", "matter"},
		{"search", "pwned"},
		{"show", note.ID},
		{"journal"},
		{"journal", "--record", note.ID},
		{"queue"},
		{"conflicts"},
		{"status"},
		{"export", "note", "--format", "csv"},
		{"agenda"},
		{"time"},
		{"time", "--by", "day"},
	} {
		r := h.run(args...)
		if r.code != 0 {
			t.Errorf("casefile %v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		what := "casefile " + strings.Join(args, " ")
		noTerminalControl(t, what, r.stdout)
		noTerminalControl(t, what+" (stderr)", r.stderr)
	}
	for _, args := range [][]string{{"list", "matter"}, {"search", "pwned"}} {
		if out := h.ok(args...); !strings.Contains(out, `Shared \x1b]0;pwned`) {
			t.Errorf("casefile %v does not show the matter's title as escapes:\n%s", args, out)
		}
	}
	if out := h.ok("show", note.ID); !strings.Contains(out, escapedHostile) {
		t.Errorf("show does not show the text as escapes:\n%s", out)
	}
	if out := h.ok("agenda"); !strings.Contains(out, `\x1b]0;pwned`) {
		t.Errorf("agenda does not show the hearing's title as escapes:\n%s", out)
	}
	if out := h.ok("time"); !strings.Contains(out, `Shared \x1b]0;pwned`) {
		t.Errorf("time does not show the matter's title as escapes:\n%s", out)
	}
	if out := h.ok("conflicts"); !strings.Contains(out, "  their change: mallory, ") {
		t.Errorf("conflicts does not say who made the server's change:\n%s", out)
	}
	if out := h.ok("conflicts"); !strings.Contains(out, `\x1b]0;pwned`) {
		t.Errorf("conflicts does not show the server's side as escapes:\n%s", out)
	}
	if out := h.ok("export", "note", "--format", "csv"); strings.IndexByte(out, 0) >= 0 || !strings.Contains(out, `nul\x00del`) {
		t.Errorf("CSV export holds a raw NUL or lost the text:\n%q", out)
	}

	// JSON stays exact: the same bytes the collaborator stored.
	var rec model.Record
	h.okJSON(&rec, "show", note.ID, "--json")
	if rec.Fields["body"] != hostile+"\nsecond line\r\n"+hostile {
		t.Errorf("show --json changed the body: %q", rec.Fields["body"])
	}
	var cs []conflictOut
	h.okJSON(&cs, "conflicts", "--json")
	if len(cs) != 1 || cs[0].Theirs["title"] != hostile+" again" {
		t.Errorf("conflicts --json = %+v", cs)
	}
	var jsonl bytes.Buffer
	jsonl.WriteString(h.ok("export", "note"))
	if !strings.Contains(jsonl.String(), `\u001b]0;pwned`) {
		t.Errorf("the JSON Lines export is not exact:\n%s", jsonl.String())
	}
	var exported model.Record
	if err := json.Unmarshal([]byte(strings.SplitN(jsonl.String(), "\n", 2)[0]), &exported); err != nil || exported.Fields["body"] != rec.Fields["body"] {
		t.Errorf("the JSON Lines export reads back as %q, %v", exported.Fields["body"], err)
	}
	// Exact, and still no terminal control: what JSON writes raw (C1
	// controls, bidi, zero-width characters) goes out as \u escapes.
	for _, args := range [][]string{
		{"show", note.ID, "--json"}, {"list", "note", "--json"}, {"list", "matter", "--json"}, {"search", "pwned", "--json"},
		{"journal", "--json"}, {"queue", "--json"}, {"conflicts", "--json"}, {"export", "note"}, {"export"},
	} {
		r := h.run(args...)
		if r.code != 0 {
			t.Errorf("casefile %v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		noTerminalControl(t, "casefile "+strings.Join(args, " "), r.stdout)
	}
}

// TestServerErrorTextIsShownAsData checks that an error quoting the
// server's words cannot drive the terminal either.
func TestServerErrorTextIsShownAsData(t *testing.T) {
	t.Parallel()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":{"code":"unauthorized","message":"\u001b]0;pwned\u0007\u001b[2Jno \u202eentry"}}`))
	}))
	defer hs.Close()
	h := newHarness(t)
	h.stdin = "secret password\n"
	r := h.run("login", "--server", hs.URL, "--user", "alice")
	if r.code == 0 {
		t.Fatalf("login against a refusing server succeeded: %q", r.stdout)
	}
	noTerminalControl(t, "login error", r.stderr)
	if !strings.Contains(r.stderr, `login refused: \x1b]0;pwned\x07\x1b[2Jno \u202eentry`) {
		t.Errorf("login error = %q", r.stderr)
	}
}
