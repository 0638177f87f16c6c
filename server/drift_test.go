package server_test

import (
	"fmt"
	"strings"
	"testing"

	"casefile/model"
	"casefile/protocol"
	"casefile/server/servertest"
)

// TestDriftBlamesNeitherSide: from a client whose schema differs, a field
// the server does not have and a collection it does not have are both
// explained as the two sides holding different versions of the
// collections, with the older one to update. The fingerprint orders
// nothing, so the server cannot tell which side is older: it used to tell
// the device to update even when the device was the newer one, and to
// answer an unknown collection with a bare validation error.
func TestDriftBlamesNeitherSide(t *testing.T) {
	srv := servertest.Start(t)
	c := srv.NewUser(t, "ada", protocol.RoleAdmin)
	m := c.CreateMatter(t, "Drift")
	ops := []model.Op{
		servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": "x", "court": "high"}),
		servertest.Create("deposition", model.Fields{model.MatterField: m.ID, "title": "x"}),
	}
	resp, _ := pushAnswer(t, rawPush(t, c, "0123456789abcdef", ops...))
	for i, want := range []string{`note.court is not a field on the server`, `the server has no collection "deposition"`} {
		res := resp.Results[i]
		if res.Result != model.ResultRejected || res.Code != protocol.CodeSchemaMismatch {
			t.Errorf("op %d: %s %s (%s), want rejected %s", i, res.Result, res.Code, res.Message, protocol.CodeSchemaMismatch)
		}
		for _, say := range []string{want, "different versions of the collections", "whichever is older"} {
			if !strings.Contains(res.Message, say) {
				t.Errorf("op %d says %q; want it to say %q", i, res.Message, say)
			}
		}
		if strings.Contains(res.Message, "on this device, then") {
			t.Errorf("op %d says %q: it blames the device, which may be the newer side", i, res.Message)
		}
	}
	same, _ := pushAnswer(t, rawPush(t, c, "", ops...))
	if res := same.Results[1]; res.Code != protocol.CodeValidation || !strings.Contains(res.Message, "No such collection") {
		t.Errorf("from a client of no stated schema the unknown collection is %s %q, want the validation error", res.Code, res.Message)
	}
}

// TestFloodOfFieldsIsAnsweredBriefly: an op naming 100,000 fields the
// collection does not have, one of them 10,000 bytes long, is refused in
// an answer of a few kilobytes (MaxProblems problems and a count of the
// rest), and the same op id sent again gets the same short answer from
// the ledger. The answer used to list every field, each with the
// collection's field list: a 3.5 MB push got a 63 MB answer, stored with
// its op and sent again on every resend.
func TestFloodOfFieldsIsAnsweredBriefly(t *testing.T) {
	srv := servertest.Start(t)
	c := srv.NewUser(t, "ada", protocol.RoleAdmin)
	m := c.CreateMatter(t, "Flood")
	fields := model.Fields{model.MatterField: m.ID, "title": "x", strings.Repeat("é", 5000): "long"}
	for i := range 100_000 {
		fields[fmt.Sprintf("junk%06d", i)] = "x"
	}
	op := servertest.Create("note", fields)
	for _, schema := range []string{"", "0123456789abcdef"} {
		for try := range 2 {
			body := rawPush(t, c, schema, op)
			if len(body) > 8<<10 {
				t.Errorf("schema %q, try %d: an answer of %d bytes", schema, try, len(body))
			}
			resp, _ := pushAnswer(t, body)
			res := resp.Results[0]
			if res.Result != model.ResultRejected || len(res.Problems) > model.MaxProblems+1 ||
				!strings.Contains(res.Message, "and 99981 more problem(s)") {
				t.Errorf("schema %q, try %d: %s %s, %d problems: %.300s", schema, try, res.Result, res.Code, len(res.Problems), res.Message)
			}
			if strings.Contains(res.Message, strings.Repeat("é", 100)) {
				t.Errorf("schema %q, try %d: the long field's name is repeated whole", schema, try)
			}
		}
	}
}
