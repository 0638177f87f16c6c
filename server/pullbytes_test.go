package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"casefile/internal/pullpack"
	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/server/store/sqlitestore"
	"casefile/server/storetest"
)

// pullPage is one page of a pull as it came: its answer, decoded, and
// the length of its body.
type pullPage struct {
	protocol.PullResponse
	bodyBytes int
}

// pullEverything walks a pull from cursor 0 asking for limit records a
// page, in the form accept asks for, as a client does: from each page's
// cursor while it says more remains. The headers must name the next page
// as the body does.
func pullEverything(t *testing.T, c *servertest.Client, limit int, accept string) []pullPage {
	t.Helper()
	var pages []pullPage
	for cursor := int64(0); ; {
		resp, body := pullAs(t, c, cursor, limit, accept)
		var p protocol.PullResponse
		var err error
		if resp.Header.Get("Content-Type") == protocol.ContentTypePullPacked {
			p, err = pullpack.Read(body)
		} else {
			err = json.Unmarshal(body, &p)
		}
		if err != nil {
			t.Fatalf("page after %d: %v", cursor, err)
		}
		next := resp.Header.Get(protocol.HeaderPullNext)
		if want := strconv.FormatInt(p.Cursor, 10) + " " + strconv.FormatInt(p.CompactedThrough, 10); p.More != (next == want) {
			t.Fatalf("page after %d: more %v, cursor %d, next-page header %q", cursor, p.More, p.Cursor, next)
		}
		if p.More && (len(p.Records) == 0 || p.Cursor != p.Records[len(p.Records)-1].Seq) {
			t.Fatalf("page after %d: more remains after cursor %d, its records %d", cursor, p.Cursor, len(p.Records))
		}
		pages = append(pages, pullPage{p, len(body)})
		if !p.More {
			return pages
		}
		if len(pages) > 10_000 {
			t.Fatal("the pull does not end")
		}
		cursor = p.Cursor
	}
}

// recordsJSON is how many bytes recs take in a page's JSON: each record
// as json.Marshal writes it (the server's answer is byte for byte that:
// TestPullAnswerIsTheEncodedResponse), with the commas between them.
func recordsJSON(t *testing.T, recs []protocol.Record) int {
	t.Helper()
	n := max(len(recs)-1, 0)
	for i := range recs {
		b, err := json.Marshal(recs[i])
		if err != nil {
			t.Fatal(err)
		}
		n += len(b)
	}
	return n
}

// pageEnvelope is the most a page's JSON takes besides its records when
// it has no removals or dropped matters: its keys and five numbers.
const pageEnvelope = 200

// checkPages checks a pull's pages against the byte budget and the
// records the server holds (want, by id: the fields each must carry):
// every page of more than one record keeps within the budget, a page
// stops short only where the next record would not have fit, and every
// record comes exactly once.
func checkPages(t *testing.T, pages []pullPage, budget, limit int, want map[string]string) {
	t.Helper()
	seen := map[string]bool{}
	for i, p := range pages {
		size := recordsJSON(t, p.Records)
		if len(p.Records) > 1 && size > budget {
			t.Errorf("page %d: %d records take %d bytes, over the budget of %d", i, len(p.Records), size, budget)
		}
		if i == 0 && p.Total != int64(len(want)) {
			t.Errorf("page 0: total %d, want %d", p.Total, len(want))
		}
		if p.More && len(p.Records) < limit && i+1 < len(pages) {
			// The server counts each record's numbers and times at their
			// widest: allow it that much a record.
			next := recordsJSON(t, pages[i+1].Records[:1])
			if slack := 80 * (len(p.Records) + 1); size+1+next <= budget-slack {
				t.Errorf("page %d stopped at %d records and %d bytes: the next record of %d bytes fitted", i, len(p.Records), size, next)
			}
		}
		for _, r := range p.Records {
			if seen[r.ID] {
				t.Errorf("page %d: %s came again", i, r.ID)
			}
			seen[r.ID] = true
			body, ok := want[r.ID]
			if !ok {
				t.Errorf("page %d: %s is no record of the server", i, r.ID)
				continue
			}
			if got, _ := r.Fields["body"].(string); got != body {
				t.Errorf("page %d: %s has a body of %d bytes, want %d", i, r.ID, len(got), len(body))
			}
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d records pulled in %d pages, want %d", len(seen), len(pages), len(want))
	}
}

// pushBodies pushes notes in matter m with the bodies given, a few at a
// time (a push carries 16 MiB at most), and returns each note's body by
// id, as the push answered.
func pushBodies(t *testing.T, c *servertest.Client, m string, bodies []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	const perPush = 8
	for start := 0; start < len(bodies); start += perPush {
		var ops []model.Op
		for i := start; i < min(start+perPush, len(bodies)); i++ {
			f := model.Fields{model.MatterField: m, "title": "note " + strconv.Itoa(i)}
			if bodies[i] != "" {
				f["body"] = bodies[i]
			}
			ops = append(ops, servertest.Create("note", f))
		}
		resp, err := c.Push(context.Background(), ops...)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.Results {
			if r.Result != model.ResultApplied {
				t.Fatalf("push: %s %s %s", r.Result, r.Code, r.Message)
			}
			out[r.Record.ID], _ = r.Record.Fields["body"].(string)
		}
	}
	return out
}

// storedBodies is what a pull from 0 must bring, read from the server's
// SQLite file rather than through a pull: every record's body, by id.
func storedBodies(t *testing.T, srv *servertest.Server) map[string]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(srv.Dir, sqlitestore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT id, fields FROM records")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, text string
		var fields struct {
			Body string `json:"body"`
		}
		if err := rows.Scan(&id, &text); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(text), &fields); err != nil {
			t.Fatal(err)
		}
		out[id] = fields.Body
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPullPagesKeepToTheirByteBudget: a pull asking for thousands of
// records gets pages whose records keep within the server's byte budget,
// in JSON and packed alike — notes short and long, long ones of control
// characters (six bytes each in JSON), notes larger than the budget (each
// alone in a page, one after another and first of all), a note whose
// stored text is not canonical — and, walking the pages by their cursors
// as a client does, every record exactly once. Asking for fewer records
// than fit still gets that many.
func TestPullPagesKeepToTheirByteBudget(t *testing.T) {
	const budget = 16 << 10
	srv := servertest.Start(t, func(o *server.Options) { o.PullPageBytes = budget })
	ada := srv.NewUser(t, "ada", protocol.RoleMember)
	m := escapedAndSpaced(t, srv, ada)
	pushBodies(t, ada, m.ID, budgetBodies(budget))
	checkBudget(t, ada, budget, storedBodies(t, srv))
}

// TestPullPagesKeepToTheirByteBudgetOnPostgres is
// TestPullPagesKeepToTheirByteBudget on PostgreSQL, which measures a page
// before reading it.
func TestPullPagesKeepToTheirByteBudgetOnPostgres(t *testing.T) {
	const budget = 16 << 10
	url := storetest.PostgresURL(t)
	srv := servertest.Start(t, func(o *server.Options) { o.DatabaseURL, o.PullPageBytes = url, budget })
	ada := srv.NewUser(t, "ada", protocol.RoleMember)
	m := ada.CreateMatter(t, "Long notes")
	want := pushBodies(t, ada, m.ID, budgetBodies(budget))
	want[m.ID] = ""
	checkBudget(t, ada, budget, want)
}

// budgetBodies are notes' bodies for a byte budget: short and long, long
// ones of control characters (six bytes each in JSON), and larger than
// the budget (two first of all, then one now and then, some in a row).
func budgetBodies(budget int) []string {
	big := strings.Repeat("\x01", budget/6+budget/10)
	rnd := rand.New(rand.NewPCG(7, 7))
	bodies := []string{big, big}
	for range 150 {
		switch rnd.IntN(10) {
		case 0:
			bodies = append(bodies, big)
		case 1, 2:
			bodies = append(bodies, strings.Repeat("\x1f", rnd.IntN(budget/6)))
		case 3, 4, 5:
			bodies = append(bodies, strings.Repeat("é", rnd.IntN(budget/5)))
		default:
			bodies = append(bodies, "")
		}
	}
	return bodies
}

// checkBudget walks c's pull from 0 in pages of the largest limit, in
// JSON and packed, and in pages of 3 records, against the budget and the
// bodies want the server holds.
func checkBudget(t *testing.T, c *servertest.Client, budget int, want map[string]string) {
	t.Helper()
	for _, accept := range []string{"", protocol.ContentTypePullPacked + ", application/json"} {
		pages := pullEverything(t, c, protocol.MaxPullPage, accept)
		checkPages(t, pages, budget, protocol.MaxPullPage, want)
		if len(pages) < 20 {
			t.Errorf("accept %q: %d pages for %d records of budget-sized text", accept, len(pages), len(want))
		}
		for i, p := range pages {
			if accept == "" && len(p.Records) > 1 && p.bodyBytes > budget+pageEnvelope {
				t.Errorf("page %d: %d bytes of JSON for a budget of %d", i, p.bodyBytes, budget)
			}
		}
	}
	// Fewer records than the budget holds: the limit rules.
	pages := pullEverything(t, c, 3, "")
	checkPages(t, pages, budget, 3, want)
	for i, p := range pages {
		if len(p.Records) > 3 {
			t.Errorf("page %d of limit 3: %d records", i, len(p.Records))
		}
	}
}

// TestPullPageBudgetByDefault: without a budget set, a page asked for at
// the largest limit keeps to server.DefaultPullPageBytes — 20 notes of
// 100,000 control characters (600,000 bytes of JSON each) took one page
// of 12 MB, and 5,000 of them one of 3 GB — and the pages bring every
// note once.
func TestPullPageBudgetByDefault(t *testing.T) {
	srv := servertest.Start(t)
	ada := srv.NewUser(t, "ada", protocol.RoleMember)
	m := ada.CreateMatter(t, "Long notes")
	bodies := make([]string, 20)
	for i := range bodies {
		bodies[i] = strings.Repeat(string(rune(1+i)), model.MaxLongTextLen)
	}
	pushBodies(t, ada, m.ID, bodies)
	want := storedBodies(t, srv)

	pages := pullEverything(t, ada, protocol.MaxPullPage, "")
	checkPages(t, pages, server.DefaultPullPageBytes, protocol.MaxPullPage, want)
	for i, p := range pages {
		if p.bodyBytes > server.DefaultPullPageBytes+pageEnvelope {
			t.Errorf("page %d: %d bytes of JSON for a budget of %d", i, p.bodyBytes, server.DefaultPullPageBytes)
		}
	}
	if len(pages) != 2 {
		t.Errorf("%d pages, want 2", len(pages))
	}
}

// TestPullCountsPagesCutByBytes: a page that stops at the byte budget
// before its limit is counted for the operator; one that stops at its
// limit, or holds the rest, is not.
func TestPullCountsPagesCutByBytes(t *testing.T) {
	srv := servertest.Start(t, func(o *server.Options) { o.PullPageBytes = 4 << 10 })
	ada := srv.NewUser(t, "ada", protocol.RoleMember)
	m := ada.CreateMatter(t, "Cut")
	long := strings.Repeat("a", 3000)
	pushBodies(t, ada, m.ID, []string{long, long, "", ""})
	cuts := func() float64 {
		t.Helper()
		fams, _ := scrape(t, srv.URL)
		return series(t, fams, "casefile_pull_pages_cut_total", nil).GetCounter().GetValue()
	}
	for _, c := range []struct {
		cursor int64
		limit  int
		cut    float64
	}{
		{0, 2, 0},   // the matter and a long note: the limit
		{0, 100, 1}, // the matter and a long note: the budget
		{2, 1, 0},   // a long note: the limit
		{2, 100, 1}, // a long note, not the next: the budget
		{3, 100, 0}, // the rest, within the budget
	} {
		before := cuts()
		pullAs(t, ada, c.cursor, c.limit, "")
		if got := cuts() - before; got != c.cut {
			t.Errorf("pull after %d, limit %d: %v pages counted cut, want %v", c.cursor, c.limit, got, c.cut)
		}
	}
}
