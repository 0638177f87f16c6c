package apiclient

import (
	"casefile/internal/jsonread"
	"casefile/protocol"
)

// decodePull decodes a pull page as encoding/json decodes it into a zero
// PullResponse, without reflection (jsonread): decoding took a sixth of a
// first sync's client CPU (docs/benchmarks.md, fifteenth round). It
// answers false for whatever encoding/json would have to judge; the
// caller then decodes with encoding/json, so the answer is the same
// either way (TestDecodePullIsJSONs draws both).
func decodePull(data []byte) (protocol.PullResponse, bool) {
	d := jsonread.NewReader(data)
	var p protocol.PullResponse
	if !d.End(page(d, &p)) {
		return protocol.PullResponse{}, false
	}
	return p, true
}

// pageKeys, removalKeys and recordKeys are the keys of a page, a removal
// and a record.
var (
	pageKeys    = jsonread.KeysOf("records", "removed", "dropped_matters", "cursor", "more", "head", "compacted_through", "total")
	removalKeys = jsonread.KeysOf("id", "matter_id")
	recordKeys  = jsonread.KeysOf("id", "collection", "matter_id", "version", "seq", "deleted", "fields",
		"created_by", "created_at", "updated_by", "updated_at")
)

func page(d *jsonread.Reader, p *protocol.PullResponse) bool {
	return d.Members(pageKeys, func(key []byte) bool {
		switch string(key) {
		case "records":
			return jsonread.Elems(d, &p.Records, func(r *protocol.Record) bool { return record(d, r) })
		case "removed":
			return jsonread.Elems(d, &p.Removed, func(r *protocol.Removal) bool {
				return d.Members(removalKeys, func(key []byte) bool {
					if string(key) == "id" {
						return d.Str(&r.ID)
					}
					return d.Str(&r.MatterID)
				})
			})
		case "dropped_matters":
			return d.Strings(&p.DroppedMatters)
		case "cursor":
			return d.Int(&p.Cursor)
		case "more":
			return d.Bool(&p.More)
		case "head":
			return d.Int(&p.Head)
		case "compacted_through":
			return d.Int(&p.CompactedThrough)
		case "total":
			return d.Int(&p.Total)
		}
		return false
	})
}

func record(d *jsonread.Reader, r *protocol.Record) bool {
	return d.Members(recordKeys, func(key []byte) bool {
		switch string(key) {
		case "id":
			return d.Str(&r.ID)
		case "collection":
			return d.Str(&r.Collection)
		case "matter_id":
			return d.Str(&r.MatterID)
		case "version":
			return d.Int(&r.Version)
		case "seq":
			return d.Int(&r.Seq)
		case "deleted":
			return d.Bool(&r.Deleted)
		case "fields":
			return jsonread.Map(d, &r.Fields)
		case "created_by":
			return d.Str(&r.CreatedBy)
		case "created_at":
			return d.Time(&r.CreatedAt)
		case "updated_by":
			return d.Str(&r.UpdatedBy)
		case "updated_at":
			return d.Time(&r.UpdatedAt)
		}
		return false
	})
}

// pushKeys and resultKeys are the keys of a push's answer and of one
// op's result.
var (
	pushKeys   = jsonread.KeysOf("results", "head", "cursor", "prior")
	resultKeys = jsonread.KeysOf("op_id", "result", "record", "fields_sent", "conflict_fields", "dropped",
		"code", "message", "changed_by", "changed_at", "problems")
)

// decodePush is decodePull for a push's answer, into a zero PushResponse:
// a batch's answer carries a record for each op. It declines an op's
// problems (a rejected op's, rare) and leaves them to encoding/json.
func decodePush(data []byte) (protocol.PushResponse, bool) {
	d := jsonread.NewReader(data)
	var p protocol.PushResponse
	ok := d.Members(pushKeys, func(key []byte) bool {
		switch string(key) {
		case "results":
			return jsonread.Elems(d, &p.Results, func(r *protocol.OpResult) bool { return result(d, r) })
		case "head":
			return d.Int(&p.Head)
		case "cursor":
			return d.Int(&p.Cursor)
		case "prior":
			p.Prior = new(int64)
			return d.Int(p.Prior)
		}
		return false
	})
	if !d.End(ok) {
		return protocol.PushResponse{}, false
	}
	return p, true
}

func result(d *jsonread.Reader, r *protocol.OpResult) bool {
	return d.Members(resultKeys, func(key []byte) bool {
		switch string(key) {
		case "op_id":
			return d.Str(&r.OpID)
		case "result":
			return jsonread.StrAs(d, &r.Result)
		case "record":
			r.Record = &protocol.Record{}
			return record(d, r.Record)
		case "fields_sent":
			return d.Bool(&r.FieldsSent)
		case "conflict_fields":
			return d.Strings(&r.ConflictFields)
		case "dropped":
			return d.Strings(&r.Dropped)
		case "code":
			return jsonread.StrAs(d, &r.Code)
		case "message":
			return d.Str(&r.Message)
		case "changed_by":
			return d.Str(&r.ChangedBy)
		case "changed_at":
			return d.Time(&r.ChangedAt)
		}
		return false // problems
	})
}

// fastInto is jsonread.Into, by the name strictUnmarshal calls it.
func fastInto[T any](out *T, data []byte, fast func([]byte) (T, bool)) bool {
	return jsonread.Into(out, data, fast)
}
