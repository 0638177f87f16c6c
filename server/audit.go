package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"casefile/internal/fieldtext"
	"casefile/server/store"
)

// operator is the audit actor of admin operations (the admin CLI or an
// embedding program), which act on the store directly.
const operator = "operator"

// audit appends a row to the hash-chained audit log in the same
// transaction as the change it records.
func (s *Server) audit(ctx context.Context, tx store.Tx, e *store.AuditEntry) error {
	if e.Seq == 0 {
		h, err := tx.Head(ctx)
		if err != nil {
			return err
		}
		e.Seq = h.Seq
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	return tx.AppendAudit(ctx, e)
}

// digest is the hex SHA-256 of v's JSON.
func digest(v any) string {
	b, err := fieldtext.AppendJSON(nil, v)
	if err != nil {
		return ""
	}
	return hexSum(b)
}

// RecordDigest fingerprints a record's state for the audit log, without
// putting its content there: the SHA-256 of the JSON json.Marshal wrote
// for
//
//	struct {
//		Collection string         `json:"collection"`
//		Matter     string         `json:"matter"`
//		Version    int64          `json:"version"`
//		Deleted    bool           `json:"deleted"`
//		Fields     map[string]any `json:"fields"`
//	}
//
// byte for byte, so that the digests of chains written by json.Marshal
// still verify.
func RecordDigest(r store.Record) string {
	var buf [digestBuf]byte
	b := fieldtext.AppendString(append(buf[:0], `{"collection":`...), r.Collection)
	b = fieldtext.AppendString(append(b, `,"matter":`...), r.MatterID)
	b = strconv.AppendInt(append(b, `,"version":`...), r.Version, 10)
	b = strconv.AppendBool(append(b, `,"deleted":`...), r.Deleted)
	b, err := fieldtext.AppendObject(append(b, `,"fields":`...), r.Fields)
	if err != nil {
		return ""
	}
	return hexSum(append(b, '}'))
}

// digestBuf is room on the stack for most records' digested JSON.
const digestBuf = 512

func hexSum(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// AuditReport is the outcome of VerifyAudit.
type AuditReport struct {
	Rows     int64 // rows checked
	BrokenAt int64 // id of the first row that breaks the chain; 0 when intact
	Problem  string
}

// OK reports whether the whole chain is intact.
func (r AuditReport) OK() bool { return r.BrokenAt == 0 }

// VerifyAudit re-computes the audit chain and reports the first row whose
// hash or link does not match.
func (s *Server) VerifyAudit(ctx context.Context) (AuditReport, error) {
	return VerifyAudit(ctx, s.st)
}

// VerifyAudit checks the audit chain of a store, up to the tail recorded
// in the head row when it starts (so rows deleted from the end show too).
func VerifyAudit(ctx context.Context, st store.Store) (AuditReport, error) {
	var rep AuditReport
	var h store.Head
	if err := st.Read(ctx, func(r store.Reader) (err error) { h, err = r.Head(ctx); return err }); err != nil {
		return rep, fmt.Errorf("read audit tail: %w", err)
	}
	prev, after := "", int64(0)
	for after < h.AuditRows {
		var rows []store.AuditEntry
		err := st.Read(ctx, func(r store.Reader) (err error) {
			rows, err = r.Audit(ctx, after, int(min(1000, h.AuditRows-after)))
			return err
		})
		if err != nil {
			return rep, fmt.Errorf("read audit: %w", err)
		}
		if len(rows) == 0 {
			rep.BrokenAt, rep.Problem = after+1, fmt.Sprintf("rows %d to %d are missing", after+1, h.AuditRows)
			return rep, nil
		}
		for _, e := range rows {
			rep.Rows++
			switch {
			case e.ID != after+1:
				rep.BrokenAt, rep.Problem = e.ID, fmt.Sprintf("row %d before it is missing", after+1)
			case e.PrevHash != prev:
				rep.BrokenAt, rep.Problem = e.ID, "its link to the previous row does not match"
			case e.ComputeHash() != e.Hash:
				rep.BrokenAt, rep.Problem = e.ID, "its content does not match its hash"
			case e.ID == h.AuditRows && e.Hash != h.AuditHash:
				rep.BrokenAt, rep.Problem = e.ID, "it is not the tail the log recorded"
			}
			if rep.BrokenAt != 0 {
				return rep, nil
			}
			prev, after = e.Hash, e.ID
		}
	}
	return rep, nil
}

// Compact deletes tombstones, moves, access events and ledger entries older
// than the retention before now; a pull from a cursor older than what is
// left answers cursor_too_old. It deletes the tokens that have expired
// too, and the devices left with none that were not seen for the
// retention before now and were never revoked.
func (s *Server) Compact(ctx context.Context, now time.Time) (store.CompactStats, error) {
	var st store.CompactStats
	err := s.st.Write(ctx, func(tx store.Tx) (err error) {
		if st, err = tx.Compact(ctx, now.Add(-s.opts.Retention)); err != nil {
			return err
		}
		// Tokens go by the clock that checks them (s.now, not the cut's
		// now, which a caller may set ahead to age history): a token is
		// deleted only once every request with it is refused anyway. A
		// device is forgotten after the retention the records' history
		// keeps; its logins stay in the audit log.
		if st.Tokens, st.Devices, err = tx.PruneLogins(ctx, s.now(), now.Add(-s.opts.Retention)); err != nil {
			return err
		}
		// An answer stored at the head may have gone, so the ledger mark
		// can pass it. Take a sequence then: a device told the head from
		// now on holds one at the mark, and an op it sends, answered at
		// or above it, is never refused as outcome_unknown for a lost
		// request (see Replays in docs/protocol.md).
		h, err := tx.Head(ctx)
		if err != nil || h.Seq >= st.LedgerThrough {
			return err
		}
		_, err = tx.NextSeq(ctx)
		return err
	})
	if err != nil {
		return st, fmt.Errorf("compact: %w", err)
	}
	if st.Tombstones+st.Moves+st.AccessEvents+st.LedgerEntries+st.Tokens+st.Devices > 0 {
		s.log.Info("compacted", "tombstones", st.Tombstones, "moves", st.Moves, "access_events", st.AccessEvents,
			"ledger", st.LedgerEntries, "compacted_through", st.CompactedThrough, "tokens", st.Tokens, "devices", st.Devices)
	}
	fs, err := s.sweepFiles(ctx, now)
	if err != nil {
		return st, fmt.Errorf("compact files: %w", err)
	}
	if fs.Files+fs.Uploads > 0 {
		s.log.Info("swept files", "files", fs.Files, "bytes", fs.Bytes, "uploads", fs.Uploads)
	}
	return st, nil
}
