package server_test

import (
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
