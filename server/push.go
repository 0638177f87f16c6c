package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"casefile/model"
	"casefile/protocol"
)

func (s *Server) handlePush(w http.ResponseWriter, r *http.Request, p *principal) {
	start := time.Now()
	var req protocol.PushRequest
	if ae := decodeBody(w, r, &req); ae != nil {
		s.writeError(w, r, ae)
		return
	}
	if len(req.Ops) > protocol.MaxOpsPerPush {
		s.writeError(w, r, &apiError{status: http.StatusBadRequest, code: protocol.CodeTooManyOps,
			msg: fmt.Sprintf("A push holds at most %d ops; this one has %d.", protocol.MaxOpsPerPush, len(req.Ops))})
		return
	}
	for i, op := range req.Ops {
		if msg := checkOp(op); msg != "" {
			s.writeError(w, r, errBadRequest("Op %d: %s", i+1, msg))
			return
		}
	}
	// A batch that started finishes even if the client goes away or the
	// server shuts down: each op is its own transaction and a replay
	// returns its result, so finishing is always safe.
	ctx := context.WithoutCancel(r.Context())
	resp := protocol.PushResponse{Results: make([]protocol.OpResult, 0, len(req.Ops))}
	for _, op := range req.Ops {
		res, err := s.applyOp(ctx, p, op)
		if err != nil {
			s.writeError(w, r, errInternal(err))
			return
		}
		s.metrics.opResult(res.Result)
		resp.Results = append(resp.Results, res)
	}
	head, err := s.Head(ctx)
	if err != nil {
		s.writeError(w, r, errInternal(err))
		return
	}
	resp.Head = head
	s.metrics.pushed(time.Since(start))
	s.log.Debug("push", append(logAttrs(p), "ops", len(req.Ops), "head", head)...)
	writeJSON(w, http.StatusOK, resp)
}

// checkOp returns what is malformed in an op, or "". These are faults of
// the sending program, not of the user's data, so they refuse the batch;
// problems with the data are per-op rejections.
func checkOp(op model.Op) string {
	switch {
	case !model.ValidID(op.OpID):
		return "op_id must be a UUID in lower-case canonical form."
	case !model.ValidID(op.RecordID):
		return "record_id must be a UUID in lower-case canonical form."
	case op.Kind != model.OpCreate && op.Kind != model.OpUpdate && op.Kind != model.OpDelete:
		return "kind must be create, update or delete."
	case op.Collection == "":
		return "collection is required."
	case op.BaseVersion < 0:
		return "base_version cannot be negative."
	case op.Kind == model.OpDelete && len(op.Fields) > 0:
		return "a delete carries no fields."
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func joinNames(names []string) string { return strings.Join(names, ", ") }
