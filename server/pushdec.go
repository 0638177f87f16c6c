package server

import (
	"casefile/internal/jsonread"
	"casefile/model"
	"casefile/protocol"
)

// pushRequestKeys and opKeys are the keys of a push and of one op.
var (
	pushRequestKeys = jsonread.KeysOf("ops")
	opKeys          = jsonread.KeysOf("op_id", "record_id", "collection", "kind", "fields", "base_version", "resent", "sent_since")
)

// decodePushRequest decodes a push's body as decodeBody's encoding/json
// path decodes it into a zero PushRequest, without reflection: that path
// took a sixth of a large push's server CPU. It takes a body only when
// that path would take it as well: keys exactly as written in the wire
// format, no key twice in any object (case folded, fields and their values
// included), one value and nothing after it. It declines the rest, which
// decodeBody hands to that path, so every answer and every refusal is the
// same (TestDecodeBodyAsBefore).
func decodePushRequest(data []byte) (protocol.PushRequest, bool) {
	d := jsonread.NewUniqueReader(data)
	var p protocol.PushRequest
	ok := d.Members(pushRequestKeys, func([]byte) bool {
		return jsonread.Elems(d, &p.Ops, func(op *model.Op) bool { return readOp(d, op) })
	})
	if !d.End(ok) {
		return protocol.PushRequest{}, false
	}
	return p, true
}

func readOp(d *jsonread.Reader, op *model.Op) bool {
	return d.Members(opKeys, func(key []byte) bool {
		switch string(key) {
		case "op_id":
			return d.Str(&op.OpID)
		case "record_id":
			return d.Str(&op.RecordID)
		case "collection":
			return d.Str(&op.Collection)
		case "kind":
			return jsonread.StrAs(d, &op.Kind)
		case "fields":
			return jsonread.Map(d, &op.Fields)
		case "base_version":
			return d.Int(&op.BaseVersion)
		case "resent":
			return d.Bool(&op.Resent)
		case "sent_since":
			return d.Int(&op.SentSince)
		}
		return false
	})
}
