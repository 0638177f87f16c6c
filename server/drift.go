package server

import (
	"fmt"
	"strings"

	"casefile/model"
	"casefile/protocol"
)

// explainDrift rewrites a validation rejection sent by a client whose
// schema differs from the server's: the client cannot fix what its own
// schema does not know, so the answer says what differs — fields new or
// now required on the server, fields or a collection (collection, the
// op's) the server does not have — instead of a validation message the
// client would meet again on every edit.
//
// The fingerprints say that the two schemas differ, not which is newer: a
// field the server lacks may be one the device's newer Casefile added or
// one the server's newer Casefile removed. So the answer asks for the
// older side to be updated, whichever it is, instead of blaming the device.
func explainDrift(res *protocol.OpResult, collection string, schema *model.Schema) {
	if res.Result != model.ResultRejected || res.Code != protocol.CodeValidation {
		return
	}
	var parts []string
	if _, ok := schema.Collection(collection); !ok && len(res.Problems) == 0 {
		parts = append(parts, fmt.Sprintf("the server has no collection %q", truncate(collection, 64)))
	}
	for _, p := range res.Problems {
		name := p.Collection + "." + p.Field
		switch {
		case p.Field == "": // "and N more problem(s)"
			parts = append(parts, p.Message)
		case p.Kind == model.ProblemRequired:
			parts = append(parts, name+" is required on the server")
		case p.Kind == model.ProblemUnknownField:
			parts = append(parts, name+" is not a field on the server")
		default:
			parts = append(parts, name+" "+p.Message)
		}
	}
	if len(parts) == 0 {
		return
	}
	res.Code = protocol.CodeSchemaMismatch
	res.Message = fmt.Sprintf("This device and the server have different versions of the collections: %s. "+
		"Update Casefile on whichever is older, this device or the server, then retry or discard the change.",
		strings.Join(parts, "; "))
}
