package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"casefile/protocol"
	"casefile/server/store"
)

// pullParams are the query parameters a pull takes; anything else is 400.
var pullParams = []string{"cursor", "limit", protocol.PullMark}

var errCursorGone = &apiError{status: http.StatusGone, code: protocol.CodeCursorTooOld,
	msg: "The server no longer has the changes after this cursor; sync again from cursor 0."}

func (s *Server) handlePull(w http.ResponseWriter, r *http.Request, p *principal) {
	start := time.Now()
	// A query the parser cannot read (e.g. "cursor=1;DROP TABLE x") is
	// refused, not read as no parameters, which would restart from cursor 0.
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		s.writeError(w, r, errBadRequest("The query string is malformed."))
		return
	}
	for k, v := range q {
		switch {
		case !slices.Contains(pullParams, k):
			s.writeError(w, r, errBadRequest("Unknown pull parameter %q; a pull takes cursor, limit and mark.", truncate(k, 32)))
			return
		case len(v) > 1:
			s.writeError(w, r, errBadRequest("The pull parameter %q is given more than once.", k))
			return
		}
	}
	cursor, err := queryInt(q.Get("cursor"), 0)
	if err != nil || cursor < 0 {
		s.writeError(w, r, errBadRequest("The cursor must be a whole number, 0 or more."))
		return
	}
	limit, err := queryInt(q.Get("limit"), protocol.DefaultPullPage)
	if err != nil || limit < 1 {
		s.writeError(w, r, errBadRequest("The limit must be a whole number from 1 to %d.", protocol.MaxPullPage))
		return
	}
	limit = min(limit, protocol.MaxPullPage)
	mark := int64(-1) // none: not a later page of a full pull
	if v := q.Get(protocol.PullMark); v != "" {
		if mark, err = queryInt(v, 0); err != nil || mark < 0 {
			s.writeError(w, r, errBadRequest("The mark must be a whole number, 0 or more."))
			return
		}
	}
	ctx := r.Context()
	var resp protocol.PullResponse
	err = s.st.Read(ctx, func(rd store.Reader) error {
		head, err := rd.Head(ctx)
		if err != nil {
			return err
		}
		// A cursor past the head was never given out by this server. One
		// below the compaction mark missed deletions and moves that are
		// gone — unless it is a later page of a full pull that began under
		// this same mark: everything changed since it began is newer than
		// the mark, so none of it was compacted.
		if (cursor > 0 && cursor < head.CompactedThrough && mark != head.CompactedThrough) || cursor > head.Seq {
			return errCursorGone
		}
		cq := store.ChangeQuery{User: p.user, All: p.admin(), After: cursor, UpTo: head.Seq, Limit: int(limit) + 1}
		recs, err := rd.Changes(ctx, cq)
		if err != nil {
			return err
		}
		resp = protocol.PullResponse{Records: make([]protocol.Record, 0, len(recs)), Cursor: head.Seq, Head: head.Seq,
			CompactedThrough: head.CompactedThrough}
		if len(recs) > int(limit) {
			recs = recs[:limit]
			resp.More = true
			resp.Cursor = recs[len(recs)-1].Seq
		}
		for _, rec := range recs {
			resp.Records = append(resp.Records, *toProtocol(rec))
		}
		cq.UpTo, cq.Limit = resp.Cursor, 0
		if resp.Removed, err = removals(ctx, rd, cq); err != nil {
			return err
		}
		if resp.DroppedMatters, err = rd.DroppedMatters(ctx, cq); err != nil {
			return err
		}
		cq.UpTo = head.Seq
		resp.Total, err = rd.CountChanges(ctx, cq)
		return err
	})
	var ae *apiError
	if errors.As(err, &ae) {
		s.writeError(w, r, ae)
		return
	}
	if err != nil {
		s.writeError(w, r, errInternal(fmt.Errorf("pull: %w", err)))
		return
	}
	s.metrics.pulled(p, resp.Cursor, time.Since(start))
	w.Header().Set(protocol.HeaderSchema, s.schemaPrint)
	writeJSON(w, http.StatusOK, resp)
}

func removals(ctx context.Context, rd store.Reader, q store.ChangeQuery) ([]protocol.Removal, error) {
	rs, err := rd.Removals(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]protocol.Removal, len(rs))
	for i, r := range rs {
		out[i] = protocol.Removal{ID: r.ID, MatterID: r.MatterID}
	}
	return out, nil
}

// queryInt reads an integer query parameter; "" is def.
func queryInt(s string, def int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	return strconv.ParseInt(s, 10, 64)
}
