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
// now required on the server, fields the server no longer has — instead of
// a validation message the client would meet again on every edit.
func explainDrift(res *protocol.OpResult) {
	if res.Result != model.ResultRejected || res.Code != protocol.CodeValidation || len(res.Problems) == 0 {
		return
	}
	parts := make([]string, len(res.Problems))
	for i, p := range res.Problems {
		name := p.Collection + "." + p.Field
		switch p.Kind {
		case model.ProblemRequired:
			parts[i] = name + " is required on the server"
		case model.ProblemUnknownField:
			parts[i] = name + " is not a field on the server"
		default:
			parts[i] = name + " " + p.Message
		}
	}
	res.Code = protocol.CodeSchemaMismatch
	res.Message = fmt.Sprintf("The server's schema differs from this device's: %s. Update Casefile on this device, then retry or discard the change.",
		strings.Join(parts, "; "))
}
