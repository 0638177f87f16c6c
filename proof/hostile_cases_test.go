package proof

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"casefile/model"
	"casefile/protocol"
)

// cases is the table of hostile requests, by what they try.
func (w *hostileWorld) cases(t *testing.T) []hostile {
	tok := w.alice.Token
	missing := w.notFoundMessage(t)
	am, an := w.aliceMatter.ID, w.aliceNote.ID
	bm, bn := w.bobMatter.ID, w.bobNote.ID
	note := func(extra string) string {
		return pushBody(opMembers("create", "note", model.NewID(), 0, fieldsJSON(model.Fields{model.MatterField: am, "title": "x"})+extra))
	}
	update := func(id string, base int64, f model.Fields) string {
		return pushBody(opMembers("update", "note", id, base, fieldsJSON(f)))
	}
	const (
		get, post = "GET", "POST"
		pull      = protocol.PathPull
		push      = protocol.PathPush
	)
	bad, unauth, notFound := protocol.CodeBadRequest, protocol.CodeUnauthorized, protocol.CodeNotFound
	manyOps := make([]string, protocol.MaxOpsPerPush+1)
	for i := range manyOps {
		manyOps[i] = "{" + opMembers("delete", "note", model.NewID(), 1, "") + "}"
	}
	manyTags := make([]string, model.MaxTags+1)
	for i := range manyTags {
		manyTags[i] = fmt.Sprintf("t%d", i)
	}
	validOp := note("")
	cut := validOp[:len(validOp)/2]
	return []hostile{
		// Paths: only the exact routes answer.
		{name: "double slash", method: get, path: "//v1/pull", token: tok, status: 404, code: notFound},
		{name: "trailing slash", method: get, path: "/v1/pull/", token: tok, status: 404, code: notFound},
		{name: "escaped slash", method: get, path: "/v1%2Fpull", token: tok, status: 404, code: notFound},
		{name: "dot dot", method: get, path: "/v1/x/../pull", token: tok, status: 404, code: notFound},
		{name: "dot", method: get, path: "/v1/./pull", token: tok, status: 404, code: notFound},
		{name: "escaped dot dot", method: get, path: "/v1/%2e%2e/v1/pull", token: tok, status: 404, code: notFound},
		{name: "upper case", method: get, path: "/V1/PULL", token: tok, status: 404, code: notFound},
		{name: "nul in path", method: get, path: "/v1/pull%00", token: tok, status: 404, code: notFound},
		{name: "push trailing slash", method: post, path: "/v1/push/", body: validOp, token: tok, status: 404, code: notFound},
		{name: "etc passwd", method: get, path: "/v1/../../etc/passwd", token: tok, status: 404, code: notFound},
		{name: "metrics then dot dot", method: get, path: "/metrics/../v1/pull", token: tok, status: 404, code: notFound},
		{name: "delete pull", method: "DELETE", path: pull, token: tok, status: 405, code: protocol.CodeMethod},
		{name: "put push", method: "PUT", path: push, body: validOp, token: tok, status: 405, code: protocol.CodeMethod},
		{name: "get login", method: get, path: protocol.PathLogin, status: 405, code: protocol.CodeMethod},

		// Tokens.
		{name: "pull without token", method: get, path: pull, status: 401, code: unauth},
		{name: "push without token", method: post, path: push, body: validOp, status: 401, code: unauth},
		{name: "events without token", method: get, path: protocol.PathEvents, status: 401, code: unauth},
		{name: "forged token", method: get, path: pull, token: "cGxlYXNlIGxldCBtZSBpbiwgSSBhbSB0aGUgYWRtaW4", status: 401, code: unauth},
		{name: "basic auth", method: get, path: pull, header: map[string]string{"Authorization": "Basic YWxpY2U6eA=="}, status: 401, code: unauth},
		{name: "bearer without token", method: get, path: pull, header: map[string]string{"Authorization": "Bearer "}, status: 401, code: unauth},
		{name: "oversize token", method: get, path: pull, token: strings.Repeat("A", 300), status: 401, code: unauth},
		{name: "token with junk after", method: get, path: pull, token: tok + "x", status: 401, code: unauth},
		{name: "sql token", method: get, path: pull, token: "' OR '1'='1' --", status: 401, code: unauth},
		{name: "token in the query", method: get, path: pull + "?access_token=" + url.QueryEscape(tok), status: 401, code: unauth},
		{name: "expired token", method: get, path: pull, token: w.expired.Token, status: 401, code: unauth},
		{name: "expired token push", method: post, path: push, body: validOp, token: w.expired.Token, status: 401, code: unauth},
		{name: "revoked token", method: get, path: pull, token: w.revoked.Token, status: 401, code: unauth},
		{name: "revoked token events", method: get, path: protocol.PathEvents, token: w.revoked.Token, status: 401, code: unauth},

		// Logins.
		{name: "login wrong password", method: post, path: protocol.PathLogin, body: `{"user":"alice","password":"hunter2","device":"d"}`, status: 401, code: unauth},
		{name: "login unknown user", method: post, path: protocol.PathLogin, body: `{"user":"nobody","password":"hunter2","device":"d"}`, status: 401, code: unauth},
		{name: "login sql user", method: post, path: protocol.PathLogin, body: `{"user":"' OR '1'='1","password":"x","device":"d"}`, status: 401, code: unauth},
		{name: "login as admin by key", method: post, path: protocol.PathLogin, body: `{"user":"alice","password":"x","role":"admin"}`, status: 400, code: bad},
		{name: "login empty body", method: post, path: protocol.PathLogin, status: 400, code: bad},
		{name: "login password as number", method: post, path: protocol.PathLogin, body: `{"user":"alice","password":12345}`, status: 400, code: bad},
		{name: "login control chars in device", method: post, path: protocol.PathLogin, body: `{"user":"alice","password":"x","device":"a\u0000b"}`, status: 400, code: bad},
		{name: "login huge user", method: post, path: protocol.PathLogin, body: `{"user":"` + strings.Repeat("a", 10000) + `","password":"x"}`, status: 401, code: unauth},

		// Pull parameters.
		{name: "negative cursor", method: get, path: pull + "?cursor=-1", token: tok, status: 400, code: bad},
		{name: "text cursor", method: get, path: pull + "?cursor=abc", token: tok, status: 400, code: bad},
		{name: "sql cursor", method: get, path: pull + "?cursor=1%3BDROP%20TABLE%20records", token: tok, status: 400, code: bad},
		{name: "raw semicolon cursor", method: get, path: pull + "?cursor=1;DROP%20TABLE%20records", token: tok, status: 400, code: bad},
		{name: "huge cursor", method: get, path: pull + "?cursor=99999999999999999999", token: tok, status: 400, code: bad},
		{name: "float cursor", method: get, path: pull + "?cursor=1e3", token: tok, status: 400, code: bad},
		{name: "padded cursor", method: get, path: pull + "?cursor=%201", token: tok, status: 400, code: bad},
		{name: "hex cursor", method: get, path: pull + "?cursor=0x10", token: tok, status: 400, code: bad},
		{name: "future cursor", method: get, path: pull + "?cursor=999999", token: tok, status: 410, code: protocol.CodeCursorTooOld},
		{name: "zero limit", method: get, path: pull + "?limit=0", token: tok, status: 400, code: bad},
		{name: "negative limit", method: get, path: pull + "?limit=-5", token: tok, status: 400, code: bad},
		{name: "text limit", method: get, path: pull + "?limit=all", token: tok, status: 400, code: bad},
		{name: "bad Last-Event-ID", method: get, path: protocol.PathEvents, token: tok, header: map[string]string{"Last-Event-ID": "x"}, status: 400, code: bad},
		{name: "negative Last-Event-ID", method: get, path: protocol.PathEvents, token: tok, header: map[string]string{"Last-Event-ID": "-1"}, status: 400, code: bad},

		// Malformed push bodies refuse the whole batch.
		{name: "malformed json", method: post, path: push, body: `{"ops":[{`, token: tok, status: 400, code: bad},
		{name: "truncated op", method: post, path: push, body: cut, token: tok, status: 400, code: bad},
		{name: "not json", method: post, path: push, body: `hello`, token: tok, status: 400, code: bad},
		{name: "json then junk", method: post, path: push, body: `{"ops":[]} {"ops":[]}`, token: tok, status: 400, code: bad},
		{name: "top-level list", method: post, path: push, body: `[]`, token: tok, status: 400, code: bad},
		{name: "ops not a list", method: post, path: push, body: `{"ops":"all"}`, token: tok, status: 400, code: bad},
		{name: "unknown top-level key", method: post, path: push, body: `{"ops":[],"as_user":"bob"}`, token: tok, status: 400, code: bad},
		{name: "invalid utf-8 value", method: post, path: push, body: note(`,"x":"` + "\xff\xfe" + `"`), token: tok, status: 400, code: bad},
		{name: "invalid utf-8 key", method: post, path: push, body: pushBody(opMembers("create", "note", model.NewID(), 0, `,"fields":{"`+"\xc3\x28"+`":"x"}`)), token: tok, status: 400, code: bad},
		{name: "body too large", method: post, path: push, body: `{"ops":[` + strings.Repeat(" ", protocol.MaxBodyBytes) + `]}`, token: tok, status: 413, code: protocol.CodeTooLarge},
		{name: "too many ops", method: post, path: push, body: `{"ops":[` + strings.Join(manyOps, ",") + `]}`, token: tok, status: 400, code: protocol.CodeTooManyOps},
		{name: "text content type", method: post, path: push, body: `{"ops":[]}`, token: tok, header: map[string]string{"Content-Type": "text/plain"}, status: 400, code: bad},
		{name: "deep nesting", method: post, path: push, body: pushBody(opMembers("create", "note", model.NewID(), 0, `,"fields":{"title":`+strings.Repeat("[", 100000)+`}`)), token: tok, status: 400, code: bad},
		{name: "op id not a uuid", method: post, path: push, body: `{"ops":[{"op_id":"1 OR 1=1","record_id":"` + model.NewID() + `","collection":"note","kind":"delete"}]}`, token: tok, status: 400, code: bad},
		{name: "sql record id", method: post, path: push, body: `{"ops":[{"op_id":"` + model.NewID() + `","record_id":"'; DROP TABLE records; --","collection":"note","kind":"delete"}]}`, token: tok, status: 400, code: bad},
		{name: "upper-case id", method: post, path: push, body: `{"ops":[{"op_id":"` + model.NewID() + `","record_id":"` + strings.ToUpper(an) + `","collection":"note","kind":"delete","base_version":1}]}`, token: tok, status: 400, code: bad},
		{name: "path record id", method: post, path: push, body: `{"ops":[{"op_id":"` + model.NewID() + `","record_id":"../../server.db","collection":"note","kind":"delete"}]}`, token: tok, status: 400, code: bad},
		{name: "unknown kind", method: post, path: push, body: pushBody(opMembers("truncate", "note", an, 1, "")), token: tok, status: 400, code: bad},
		{name: "negative base", method: post, path: push, body: pushBody(opMembers("update", "note", an, -1, fieldsJSON(model.Fields{"title": "x"}))), token: tok, status: 400, code: bad},
		{name: "base as text", method: post, path: push, body: `{"ops":[{"op_id":"` + model.NewID() + `","record_id":"` + an + `","collection":"note","kind":"delete","base_version":"1"}]}`, token: tok, status: 400, code: bad},
		{name: "base overflows", method: post, path: push, body: `{"ops":[{"op_id":"` + model.NewID() + `","record_id":"` + an + `","collection":"note","kind":"delete","base_version":1e400}]}`, token: tok, status: 400, code: bad},
		{name: "fields as list", method: post, path: push, body: pushBody(opMembers("create", "note", model.NewID(), 0, `,"fields":["title","x"]`)), token: tok, status: 400, code: bad},
		{name: "delete with fields", method: post, path: push, body: pushBody(opMembers("delete", "note", an, 1, fieldsJSON(model.Fields{"title": "x"}))), token: tok, status: 400, code: bad},
		{name: "no collection", method: post, path: push, body: pushBody(opMembers("delete", "", an, 1, "")), token: tok, status: 400, code: bad},
		{name: "client-set version", method: post, path: push, body: note(`,"version":99`), token: tok, status: 400, code: bad},
		{name: "client-set seq", method: post, path: push, body: note(`,"seq":1`), token: tok, status: 400, code: bad},
		{name: "client-set author", method: post, path: push, body: note(`,"created_by":"bob"`), token: tok, status: 400, code: bad},
		{name: "client-set updated_at", method: post, path: push, body: note(`,"updated_at":"2001-01-01T00:00:00Z"`), token: tok, status: 400, code: bad},
		{name: "client-set matter on op", method: post, path: push, body: note(`,"matter_id":"` + bm + `"`), token: tok, status: 400, code: bad},

		// Well-formed ops the server refuses one by one.
		{name: "unknown collection", method: post, path: push, body: pushBody(opMembers("create", "memo", model.NewID(), 0, fieldsJSON(model.Fields{"title": "x"}))), token: tok, status: 200, code: protocol.CodeValidation},
		{name: "sql collection", method: post, path: push, body: pushBody(opMembers("create", "note'; DROP TABLE records; --", model.NewID(), 0, "")), token: tok, status: 200, code: protocol.CodeValidation},
		{name: "path collection", method: post, path: push, body: pushBody(opMembers("create", "../../etc/passwd", model.NewID(), 0, "")), token: tok, status: 200, code: protocol.CodeValidation},
		{name: "unknown field", method: post, path: push, body: pushBody(opMembers("create", "note", model.NewID(), 0, `,"fields":{"matter_id":"`+am+`","title":"x","colour":"red"}`)), token: tok, status: 200, code: protocol.CodeValidation},
		{name: "server field inside fields", method: post, path: push, body: pushBody(opMembers("create", "note", model.NewID(), 0, fieldsJSON(model.Fields{model.MatterField: am, "title": "x", "version": 9}))), token: tok, status: 200, code: protocol.CodeValidation},
		{name: "author inside fields", method: post, path: push, body: update(an, 1, model.Fields{"created_by": "bob"}), token: tok, status: 200, code: protocol.CodeValidation},
		{name: "wrong type", method: post, path: push, body: pushBody(opMembers("create", "note", model.NewID(), 0, fieldsJSON(model.Fields{model.MatterField: am, "title": 42}))), token: tok, status: 200, code: protocol.CodeValidation},
		{name: "object value", method: post, path: push, body: update(an, 1, model.Fields{"title": map[string]any{"$gt": ""}}), token: tok, status: 200, code: protocol.CodeValidation},
		{name: "oversize text", method: post, path: push, body: update(an, 1, model.Fields{"title": strings.Repeat("x", model.MaxTextLen+1)}), token: tok, status: 200, code: protocol.CodeValidation},
		{name: "oversize longtext", method: post, path: push, body: update(an, 1, model.Fields{"body": strings.Repeat("x", model.MaxLongTextLen+1)}), token: tok, status: 200, code: protocol.CodeValidation},
		{name: "too many tags", method: post, path: push, body: update(an, 1, model.Fields{"tags": manyTags}), token: tok, status: 200, code: protocol.CodeValidation},
		{name: "line break in text", method: post, path: push, body: update(an, 1, model.Fields{"title": "a\nb"}), token: tok, status: 200, code: protocol.CodeValidation},
		{name: "bad enum", method: post, path: push, body: update(an, 1, model.Fields{"status": "archived"}), token: tok, status: 200, code: protocol.CodeValidation},
		{name: "clear required", method: post, path: push, body: update(an, 1, model.Fields{"title": nil}), token: tok, status: 200, code: protocol.CodeValidation},
		{name: "malformed matter ref", method: post, path: push, body: pushBody(opMembers("create", "note", model.NewID(), 0, fieldsJSON(model.Fields{model.MatterField: "1 OR 1=1", "title": "x"}))), token: tok, status: 200, code: protocol.CodeValidation},
		{name: "base ahead of server", method: post, path: push, body: update(an, 99, model.Fields{"title": "x"}), token: tok, status: 200, code: protocol.CodeValidation},

		// Other users' records answer exactly like records nobody has.
		{name: "edit another user's record", method: post, path: push, body: update(bn, 2, model.Fields{"title": "mine now"}), token: tok, status: 200, code: notFound, same: missing},
		{name: "edit a record nobody has", method: post, path: push, body: update(model.NewID(), 1, model.Fields{"title": "x"}), token: tok, status: 200, code: notFound, same: missing},
		{name: "delete another user's record", method: post, path: push, body: pushBody(opMembers("delete", "note", bn, 2, "")), token: tok, status: 200, code: notFound, same: missing},
		{name: "edit another user's matter", method: post, path: push, body: pushBody(opMembers("update", "matter", bm, 1, fieldsJSON(model.Fields{"title": "x"}))), token: tok, status: 200, code: notFound, same: missing},
		{name: "note in another user's matter", method: post, path: push, body: pushBody(opMembers("create", "note", model.NewID(), 0, fieldsJSON(model.Fields{model.MatterField: bm, "title": "x"}))), token: tok, status: 200, code: notFound},
		{name: "move into another user's matter", method: post, path: push, body: update(an, 1, model.Fields{model.MatterField: bm}), token: tok, status: 200, code: notFound},
		{name: "note in a note", method: post, path: push, body: pushBody(opMembers("create", "note", model.NewID(), 0, fieldsJSON(model.Fields{model.MatterField: an, "title": "x"}))), token: tok, status: 200, code: notFound},
		{name: "create over another user's id", method: post, path: push, body: pushBody(opMembers("create", "note", bn, 0, fieldsJSON(model.Fields{model.MatterField: am, "title": "x"}))), token: tok, status: 200, code: protocol.CodeIDConflict},
		{name: "replay another user's op id", method: post, path: push, body: `{"ops":[{"op_id":"` + w.bobOp + `","record_id":"` + model.NewID() + `","collection":"matter","kind":"create","fields":{"title":"x"}}]}`, token: tok, status: 200, code: protocol.CodeIDConflict},
		{name: "viewer writes", method: post, path: push, body: update(an, 1, model.Fields{"title": "x"}), token: w.viewer.Token, status: 200, code: protocol.CodeReadOnly},
		{name: "revoked member writes", method: post, path: push, body: update(an, 1, model.Fields{"title": "x"}), token: w.formerly.Token, status: 200, code: notFound, same: missing},
		{name: "revoked member deletes", method: post, path: push, body: pushBody(opMembers("delete", "note", an, 1, "")), token: w.formerly.Token, status: 200, code: notFound, same: missing},
	}
}
