package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
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
	cursor, err := queryInt(q, "cursor", 0)
	if err != nil || cursor < 0 {
		s.writeError(w, r, errBadRequest("The cursor must be a whole number, 0 or more."))
		return
	}
	limit, err := queryInt(q, "limit", protocol.DefaultPullPage)
	if err != nil || limit < 1 {
		s.writeError(w, r, errBadRequest("The limit must be a whole number from 1 to %d.", protocol.MaxPullPage))
		return
	}
	limit = min(limit, protocol.MaxPullPage)
	mark := int64(-1) // none: not a later page of a full pull
	if _, ok := q[protocol.PullMark]; ok {
		if mark, err = queryInt(q, protocol.PullMark, 0); err != nil || mark < 0 {
			s.writeError(w, r, errBadRequest("The mark must be a whole number, 0 or more."))
			return
		}
	}
	ctx := r.Context()
	var resp protocol.PullResponse
	var out []pulledRecord
	cut := false // the page stopped at its budget before its limit
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
		// The store reads up to the record that fills the budget, or one
		// past the limit: no page is ever held whole before it is cut.
		budget := s.opts.PullPageBytes
		cq := store.ChangeQuery{User: p.user, All: p.admin(), After: cursor, UpTo: head.Seq, Limit: int(limit) + 1,
			MaxBytes: budget, Text: true}
		recs, err := rd.Changes(ctx, cq)
		if err != nil {
			return err
		}
		if out, err = pulledRecords(recs); err != nil {
			return err
		}
		total, err := rd.CountChanges(ctx, cq)
		if err != nil {
			return err
		}
		resp = protocol.PullResponse{Cursor: head.Seq, Head: head.Seq, CompactedThrough: head.CompactedThrough, Total: total}
		kept := pageFits(out[:min(len(out), int(limit))], budget)
		// More remains when the page leaves out records the store read
		// (past its limit or its budget) or did not read (it stopped at
		// the budget). A page cut by its budget then reads as one cut by
		// its limit always has: clients ask again from its last record.
		if kept < len(out) || int64(kept) < total {
			if kept == 0 {
				return fmt.Errorf("%d changes remain and none was read", total)
			}
			out = out[:kept]
			resp.More = true
			resp.Cursor = out[kept-1].Seq
			cut = kept < int(limit)
		}
		cq.UpTo, cq.Limit, cq.MaxBytes, cq.Text = resp.Cursor, 0, 0, false
		if resp.Removed, err = removals(ctx, rd, cq); err != nil {
			return err
		}
		resp.DroppedMatters, err = rd.DroppedMatters(ctx, cq)
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
	if cut {
		s.metrics.pullCut.Inc()
	}
	w.Header().Set(protocol.HeaderSchema, s.schemaPrint)
	if resp.More {
		w.Header().Set(protocol.HeaderPullNext, strconv.FormatInt(resp.Cursor, 10)+" "+strconv.FormatInt(resp.CompactedThrough, 10))
	}
	w.Header().Add("Vary", "Accept")
	ans := answer(resp, out)
	if acceptsPacked(r) {
		// A page the packed form cannot hold (a negative version) goes as
		// JSON, which the client reads too.
		body, err := ans.appendPacked(nil)
		if err == nil {
			writeBody(w, http.StatusOK, protocol.ContentTypePullPacked, body)
			return
		}
		s.log.Debug("pull page sent as JSON", "err", err)
	}
	body, err := ans.appendJSON(make([]byte, 0, pageBytes(out)))
	if err != nil {
		s.writeError(w, r, errInternal(fmt.Errorf("pull: encode: %w", err)))
		return
	}
	writeJSONBody(w, http.StatusOK, body)
}

// acceptsPacked says whether a pull's Accept header prefers the packed
// form: it names it with a q above 0 and no lower than JSON's. JSON's q is
// that of the most specific range that covers it (application/json, then
// application/*, then */*), as HTTP reads Accept. A tie goes to the
// packed form.
func acceptsPacked(r *http.Request) bool {
	packed := 0.0
	plain := [len(jsonRanges)]float64{-1, -1, -1} // -1: not named
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			media, params, err := mime.ParseMediaType(part)
			if err != nil && media == "" {
				continue
			}
			if i := slices.Index(jsonRanges[:], media); i >= 0 {
				plain[i] = max(plain[i], quality(params))
			} else if media == protocol.ContentTypePullPacked {
				packed = max(packed, quality(params))
			}
		}
	}
	plainQ := 0.0
	if i := slices.IndexFunc(plain[:], func(q float64) bool { return q >= 0 }); i >= 0 {
		plainQ = plain[i]
	}
	return packed > 0 && packed >= plainQ
}

// jsonRanges are the media ranges that cover JSON, most specific first.
var jsonRanges = [...]string{"application/json", "application/*", "*/*"}

// quality is a media range's q: 1 when it has none, 0 when it cannot be
// read.
func quality(params map[string]string) float64 {
	v, ok := params["q"]
	if !ok {
		return 1
	}
	q, err := strconv.ParseFloat(v, 64)
	if err != nil || q < 0 || q > 1 {
		return 0
	}
	return q
}

// pullAnswer is a pull's answer as it goes on the wire: a
// protocol.PullResponse, key for key and in its order, whose records carry
// their fields as JSON text, the store's own when it could leave them as
// text (store.ChangeQuery.Text), so that a page is not decoded and encoded
// again on its way out.
type pullAnswer struct {
	Records          []pulledRecord     `json:"records"`
	Removed          []protocol.Removal `json:"removed,omitempty"`
	DroppedMatters   []string           `json:"dropped_matters,omitempty"`
	Cursor           int64              `json:"cursor"`
	More             bool               `json:"more"`
	Head             int64              `json:"head"`
	CompactedThrough int64              `json:"compacted_through"`
	Total            int64              `json:"total"`
}

// pulledRecord is a protocol.Record, key for key and in its order, with
// its fields as JSON text.
type pulledRecord struct {
	ID         string          `json:"id"`
	Collection string          `json:"collection"`
	MatterID   string          `json:"matter_id"`
	Version    int64           `json:"version"`
	Seq        int64           `json:"seq"`
	Deleted    bool            `json:"deleted,omitempty"`
	Fields     json.RawMessage `json:"fields"`
	CreatedBy  string          `json:"created_by"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedBy  string          `json:"updated_by"`
	UpdatedAt  time.Time       `json:"updated_at"`
}

// answer is resp on the wire with recs as its records.
func answer(resp protocol.PullResponse, recs []pulledRecord) pullAnswer {
	return pullAnswer{Records: recs, Removed: resp.Removed, DroppedMatters: resp.DroppedMatters, Cursor: resp.Cursor,
		More: resp.More, Head: resp.Head, CompactedThrough: resp.CompactedThrough, Total: resp.Total}
}

// pageBytes estimates the encoded size of a page of recs: its fields text
// and some 300 bytes of the rest a record.
func pageBytes(recs []pulledRecord) int {
	n := 256
	for i := range recs {
		n += len(recs[i].Fields) + 320
	}
	return n
}

// DefaultPullPageBytes is the most bytes of records a pull page carries
// by default. A page of 5,000 notes of ~865 bytes each (the largest page
// a client asks for, docs/benchmarks.md) takes 4.3 MB and stays whole;
// 5,000 notes of 100,000 characters took hundreds of megabytes (up to
// 3 GB of control characters, six bytes each in JSON), built whole in
// memory and copied again to compress it, and a few such pulls at once
// took the server to gigabytes. 8 MiB also stays within the answer
// buffers a client keeps (32 MiB).
const DefaultPullPageBytes = 8 << 20

// pageFits is how many of recs, from the first, one page carries within
// budget bytes of records' JSON: at least one, so that a record larger
// than the budget goes alone and a pull always moves on.
func pageFits(recs []pulledRecord, budget int) int {
	used := 0
	for i := range recs {
		used += recs[i].jsonBytes() + len(",")
		if used > budget && i > 0 {
			return i
		}
	}
	return len(recs)
}

// jsonBytes is no less than the length of r's JSON (appendJSON) when its
// strings need no escapes, as ids, collections and user names never do:
// its fields text, its strings, and recordFrame for the rest.
func (r *pulledRecord) jsonBytes() int {
	return recordFrame + len(r.Fields) + len(r.ID) + len(r.Collection) + len(r.MatterID) + len(r.CreatedBy) + len(r.UpdatedBy)
}

// recordFrame is the most a record's JSON takes besides its fields text
// and its strings' characters: keys, quotes and punctuation, two numbers
// of up to 20 characters and two quoted times of up to 37 (RFC 3339 with
// nanoseconds and an offset).
const recordFrame = len(`{"id":"","collection":"","matter_id":"","version":,"seq":,"deleted":true,"fields":,`+
	`"created_by":"","created_at":,"updated_by":"","updated_at":}`) + 2*len("-9223372036854775808") +
	2*len(`"9999-12-31T23:59:59.999999999+23:59"`)

// pulledRecords puts a page's records in their wire form.
func pulledRecords(recs []store.Record) ([]pulledRecord, error) {
	out := make([]pulledRecord, len(recs))
	for i, rec := range recs {
		p := toProtocol(rec)
		text := []byte(rec.FieldsText)
		if rec.FieldsText == "" {
			var err error
			if text, err = json.Marshal(p.Fields); err != nil {
				return nil, fmt.Errorf("record %s fields: %w", rec.ID, err)
			}
		}
		out[i] = pulledRecord{ID: p.ID, Collection: p.Collection, MatterID: p.MatterID, Version: p.Version, Seq: p.Seq,
			Deleted: p.Deleted, Fields: text, CreatedBy: p.CreatedBy, CreatedAt: p.CreatedAt, UpdatedBy: p.UpdatedBy,
			UpdatedAt: p.UpdatedAt}
	}
	return out, nil
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
// queryInt reads the whole number q holds for key, def when the key is
// absent; present but empty ("cursor=") is not a number.
func queryInt(q url.Values, key string, def int64) (int64, error) {
	if _, ok := q[key]; !ok {
		return def, nil
	}
	return strconv.ParseInt(q.Get(key), 10, 64)
}
