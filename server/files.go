package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"casefile/model"
	"casefile/protocol"
	"casefile/server/blobstore"
	"casefile/server/store"
)

// Defaults of the file limits in Options.
const (
	// DefaultMaxFileBytes: 4 GiB holds a long scanned bundle or a video
	// of a site visit; anything larger belongs in a document system.
	DefaultMaxFileBytes = 4 << 30
	// DefaultUserQuotaBytes: 50 GiB per user, a few years of a busy
	// practitioner's filings and photos.
	DefaultUserQuotaBytes = 50 << 30
	// staleUploadAge: chunks of an upload nobody touched for this long
	// are dropped by compaction (a device gone for good).
	staleUploadAge = 7 * 24 * time.Hour
)

// errNoFile is the one answer for a file that does not exist and for one
// the user may not see: the two must be indistinguishable.
var errNoFile = &apiError{status: http.StatusNotFound, code: protocol.CodeNotFound, msg: "No such file."}

// OpenBlobs opens the file store a server of opts keeps its files in:
// opts.Blobs when set, else PostgreSQL at opts.DatabaseURL, else a
// directory under opts.DataDir. The server opens its own through it; a
// harness that wraps the store opens it the same way.
func OpenBlobs(ctx context.Context, opts Options) (blobstore.Store, error) {
	switch {
	case opts.Blobs != nil:
		return opts.Blobs, nil
	case opts.DatabaseURL != "":
		return blobstore.OpenPostgres(ctx, opts.DatabaseURL)
	case opts.DataDir != "":
		return blobstore.OpenDir(ctx, opts.DataDir+"/"+blobstore.DirName)
	}
	return nil, errors.New("open file store: name a data directory or a database URL, or pass Blobs")
}

// fileTarget is an attachment a request may act on.
type fileTarget struct {
	att model.Attachment
}

// attachment resolves ?id= to an attachment the user sees, answering
// errNoFile for anything else — unknown, deleted, another collection or
// another matter look the same.
func (s *Server) attachment(r *http.Request, p *principal) (fileTarget, *apiError) {
	id := r.URL.Query().Get("id")
	if !model.ValidID(id) {
		return fileTarget{}, errBadRequest("The id must be an attachment id (a UUID).")
	}
	var t fileTarget
	err := s.st.Read(r.Context(), func(rd store.Reader) error {
		rec, err := rd.Record(r.Context(), id)
		if err != nil {
			return err
		}
		if rec.Collection != model.AttachmentCollection || rec.Deleted {
			return store.ErrNotFound
		}
		ok, err := s.visible(r.Context(), rd, p, rec.MatterID)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		t.att, err = model.AttachmentOf(rec.ID, rec.Fields)
		if err != nil {
			// A record the schema let through but that names no file
			// (a hand-made op): there are no bytes to move.
			return store.ErrNotFound
		}
		t.att.MatterID = rec.MatterID
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return t, errNoFile
	}
	if err != nil {
		return t, errInternal(err)
	}
	return t, nil
}

// chunkOf resolves a request for one chunk: the attachment, as find
// (attachment or uploadTarget) checks it, and the chunk number ?n=.
func chunkOf(r *http.Request, p *principal, find func(*http.Request, *principal) (fileTarget, *apiError)) (fileTarget, int, *apiError) {
	t, ae := find(r, p)
	if ae != nil {
		return t, 0, ae
	}
	n, ae := chunkNumber(r, t.att.Size)
	return t, n, ae
}

func chunkNumber(r *http.Request, size int64) (int, *apiError) {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || model.ChunkLen(size, n) < 0 {
		return 0, errBadRequest("The chunk number n must be a whole number from 0 to %d.", model.ChunkCount(size)-1)
	}
	return n, nil
}

// proven reports whether the attachment's bytes are held for it: its own
// upload finished, or another attachment that now lives in the same
// matter, names the same bytes and has them (its user sees that one
// anyway, so nothing leaks), which then counts for this record too. The
// other record is read as it is now: a proof remembers the matter its
// record had when it was made, and a record moved or deleted since
// proves nothing about that matter. The new proof is charged to whoever
// the other one is charged to: the person who sent the bytes, whose
// usage counts each file once (blobstore Usage), so neither a reader nor
// whoever made or edited the attachment pays for bytes already held.
func (s *Server) proven(ctx context.Context, t fileTarget) (bool, error) {
	pr, err := s.blobs.Proof(ctx, t.att.ID)
	if err == nil && pr.Hash == t.att.SHA256 && pr.Size == t.att.Size {
		return true, nil
	}
	if err != nil && !errors.Is(err, blobstore.ErrNotFound) {
		return false, err
	}
	provers, err := s.blobs.Provers(ctx, t.att.SHA256, maxProvers)
	if err != nil {
		return false, err
	}
	var found bool
	var payer string
	err = s.st.Read(ctx, func(rd store.Reader) error {
		for _, pr := range provers {
			if pr.RecordID == t.att.ID || pr.Size != t.att.Size {
				continue
			}
			rec, err := rd.Record(ctx, pr.RecordID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if rec.Collection != model.AttachmentCollection || rec.Deleted || rec.MatterID != t.att.MatterID {
				continue
			}
			if a, err := model.AttachmentOf(rec.ID, rec.Fields); err == nil && a.SHA256 == t.att.SHA256 && a.Size == t.att.Size {
				found, payer = true, pr.User
				return nil
			}
		}
		return nil
	})
	if err != nil || !found {
		return false, err
	}
	err = s.blobs.AddProof(ctx, blobstore.Proof{RecordID: t.att.ID, MatterID: t.att.MatterID, Hash: t.att.SHA256, Size: t.att.Size, User: payer})
	if errors.Is(err, blobstore.ErrNotFound) {
		return false, nil // swept meanwhile: upload it again
	}
	return err == nil, err
}

// maxProvers bounds the records proven asks about one file: past it, a
// file attached that many times over has its bytes sent again rather
// than the server reading every record that names it.
const maxProvers = 64

func (s *Server) handleFile(w http.ResponseWriter, r *http.Request, p *principal) {
	t, ae := s.attachment(r, p)
	if ae != nil {
		s.writeError(w, r, ae)
		return
	}
	ok, err := s.proven(r.Context(), t)
	if err != nil || !ok {
		s.writeError(w, r, notUploadedOr(err))
		return
	}
	sums, err := s.blobs.Sums(r.Context(), t.att.SHA256)
	if err != nil {
		s.writeError(w, r, errInternal(err))
		return
	}
	writeJSON(w, http.StatusOK, protocol.FileManifest{ID: t.att.ID, SHA256: t.att.SHA256, Size: t.att.Size,
		ChunkSize: model.ChunkSize, Chunks: sums})
}

func (s *Server) handleGetChunk(w http.ResponseWriter, r *http.Request, p *principal) {
	t, n, ae := chunkOf(r, p, s.attachment)
	if ae != nil {
		s.writeError(w, r, ae)
		return
	}
	ok, err := s.proven(r.Context(), t)
	if err != nil || !ok {
		s.writeError(w, r, notUploadedOr(err))
		return
	}
	b, sum, err := s.blobs.Chunk(r.Context(), t.att.SHA256, n)
	if err != nil {
		s.writeError(w, r, errInternal(fmt.Errorf("read chunk %d of %s: %w", n, t.att.SHA256, err)))
		return
	}
	s.metrics.fileBytes("down", len(b))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set(protocol.HeaderChunkSHA256, sum)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func notUploadedOr(err error) *apiError {
	if err != nil {
		return errInternal(err)
	}
	return &apiError{status: http.StatusConflict, code: protocol.CodeNotUploaded, msg: "The file has not been uploaded yet; try again later."}
}

// uploadTarget is attachment plus the checks every upload request makes:
// the user may write, and the file fits the limits.
func (s *Server) uploadTarget(r *http.Request, p *principal) (fileTarget, *apiError) {
	t, ae := s.attachment(r, p)
	if ae != nil {
		return t, ae
	}
	if p.role == RoleViewer {
		return t, &apiError{status: http.StatusForbidden, code: protocol.CodeForbidden, msg: "A viewer cannot upload files."}
	}
	if s.opts.MaxFileBytes > 0 && t.att.Size > s.opts.MaxFileBytes {
		return t, &apiError{status: http.StatusRequestEntityTooLarge, code: protocol.CodeFileTooLarge,
			msg: fmt.Sprintf("The file is %s; this server takes files of at most %s.", byteSize(t.att.Size), byteSize(s.opts.MaxFileBytes))}
	}
	return t, nil
}

// checkQuota refuses an upload that would take the user past their
// quota; the upload's own staged chunks are already counted in usage.
func (s *Server) checkQuota(ctx context.Context, t fileTarget, user string, staged int64) *apiError {
	if s.opts.UserQuotaBytes <= 0 {
		return nil
	}
	used, err := s.blobs.Usage(ctx, user)
	if err != nil {
		return errInternal(err)
	}
	if used-staged+t.att.Size > s.opts.UserQuotaBytes {
		return errQuota(t, used, s.opts.UserQuotaBytes)
	}
	return nil
}

// errQuota is the answer to an upload that would take its user, who
// holds used bytes, past quota.
func errQuota(t fileTarget, used, quota int64) *apiError {
	return &apiError{status: http.StatusInsufficientStorage, code: protocol.CodeQuotaExceeded,
		msg: fmt.Sprintf("This file (%s) would take you past your storage quota of %s (%s used); remove files or ask an administrator.",
			byteSize(t.att.Size), byteSize(quota), byteSize(used))}
}

// uploadStatus answers what the server holds of the attachment's upload.
func (s *Server) uploadStatus(ctx context.Context, t fileTarget, p *principal) (protocol.UploadStatus, *apiError) {
	st := protocol.UploadStatus{ID: t.att.ID, Size: t.att.Size, ChunkSize: model.ChunkSize, Have: []int{}}
	ok, err := s.proven(ctx, t)
	if err != nil {
		return st, errInternal(err)
	}
	if ok {
		st.Complete = true
		return st, nil
	}
	have, err := s.blobs.Staged(ctx, t.att.ID, t.att.Size)
	if err != nil {
		return st, errInternal(err)
	}
	st.Have = append(st.Have, have...)
	if len(have) == model.ChunkCount(t.att.Size) {
		// Every chunk is here (the answer to the last one was lost, or
		// a chunk was dropped as missing): finish now.
		return s.commitUpload(ctx, t, p, st)
	}
	return st, nil
}

func (s *Server) commitUpload(ctx context.Context, t fileTarget, p *principal, st protocol.UploadStatus) (protocol.UploadStatus, *apiError) {
	user := p.user
	proof := blobstore.Proof{RecordID: t.att.ID, MatterID: t.att.MatterID, Hash: t.att.SHA256, Size: t.att.Size, User: user,
		At: s.now(), Device: p.device}
	err := s.blobs.Commit(ctx, t.att.ID, proof)
	switch {
	case err == nil:
		s.log.Info("file received", "attachment", t.att.ID, "user", user, "bytes", t.att.Size)
		if _, err := s.auditArrival(ctx, proof); err != nil {
			// The arrival stays to be audited (AuditArrivals).
			return st, errInternal(err)
		}
		if err := s.blobs.Arrived(ctx, proof.RecordID); err != nil {
			// AuditArrivals finds its row and clears the note then.
			s.log.Warn("note a file's arrival audited", "attachment", proof.RecordID, "err", err)
		}
		st.Complete, st.Have = true, []int{}
		return st, nil
	case errors.Is(err, blobstore.ErrHashMismatch):
		return st, &apiError{status: http.StatusUnprocessableEntity, code: protocol.CodeHashMismatch,
			msg: "The uploaded chunks are not the file the attachment names (its sha256 differs); the upload starts over.", cause: err}
	case errors.Is(err, blobstore.ErrIncomplete):
		have, err := s.blobs.Staged(ctx, t.att.ID, t.att.Size)
		if err != nil {
			return st, errInternal(err)
		}
		st.Have = append([]int{}, have...)
		return st, nil
	}
	return st, errInternal(err)
}

// auditArrival writes a file's arrival to the audit chain beside the
// attachment's create and delete (record changes): who sent which file
// (its hash and size) from which device for which attachment, and when.
// The file store's note of it to be audited goes after (Arrived). It
// reports whether it wrote the row: an arrival the log holds already
// (its note outlived its row, or another replica's compaction audited it
// first) is not audited again. Writes take turns, so of two at once the
// second finds the first's row.
func (s *Server) auditArrival(ctx context.Context, p blobstore.Proof) (wrote bool, err error) {
	err = s.st.Write(ctx, func(tx store.Tx) error {
		wrote = false
		e := store.AuditEntry{At: p.At, Actor: p.User, Device: p.Device, Action: "file_uploaded",
			Target: model.AttachmentCollection + "/" + p.RecordID, After: fmt.Sprintf("sha256:%s size:%d", p.Hash, p.Size)}
		had, err := tx.HasAudit(ctx, e)
		if err != nil || had {
			return err
		}
		wrote = true
		return s.audit(ctx, tx, &e)
	})
	return wrote && err == nil, err
}

// arrivalGrace is how old an arrival not yet audited must be before
// auditArrivals takes it: a younger one's commit may be writing its audit
// row now.
const arrivalGrace = time.Minute

// AuditArrivals audits the arrivals of files whose server died, or whose
// database failed, between the commit of their bytes and their audit row,
// at their commit's time; compaction calls it. An arrival whose row is
// in the log already is not audited again. It returns how many rows it
// wrote.
func (s *Server) AuditArrivals(ctx context.Context, now time.Time) (int, error) {
	n := 0
	for {
		ps, err := s.blobs.Arrivals(ctx, now.Add(-arrivalGrace), 100)
		if err != nil || len(ps) == 0 {
			return n, err
		}
		for _, p := range ps {
			wrote, err := s.auditArrival(ctx, p)
			if err != nil {
				return n, err
			}
			if wrote {
				n++
			}
			if err := s.blobs.Arrived(ctx, p.RecordID); err != nil {
				return n, err
			}
		}
	}
}

func (s *Server) handleUploadStatus(w http.ResponseWriter, r *http.Request, p *principal) {
	t, ae := s.uploadTarget(r, p)
	if ae != nil {
		s.writeError(w, r, ae)
		return
	}
	st, ae := s.uploadStatusInQuota(r.Context(), t, p)
	if ae != nil {
		s.writeError(w, r, ae)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// uploadStatusInQuota is uploadStatus, refused when an upload still to
// be finished would take the user past their quota.
func (s *Server) uploadStatusInQuota(ctx context.Context, t fileTarget, p *principal) (protocol.UploadStatus, *apiError) {
	st, ae := s.uploadStatus(ctx, t, p)
	if ae == nil && !st.Complete {
		ae = s.checkQuota(ctx, t, p.user, s.stagedBytes(st))
	}
	return st, ae
}

func (s *Server) stagedBytes(st protocol.UploadStatus) int64 {
	var n int64
	for _, c := range st.Have {
		n += int64(model.ChunkLen(st.Size, c))
	}
	return n
}

func (s *Server) handlePutChunk(w http.ResponseWriter, r *http.Request, p *principal) {
	t, n, ae := chunkOf(r, p, s.uploadTarget)
	if ae != nil {
		s.writeError(w, r, ae)
		return
	}
	want := model.ChunkLen(t.att.Size, n)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(want)+1))
	if err != nil && !isMaxBytes(err) {
		s.writeError(w, r, &apiError{status: http.StatusBadRequest, code: protocol.CodeBadRequest, msg: "The chunk could not be read.", cause: err})
		return
	}
	sum := sha256.Sum256(body)
	if err != nil || len(body) != want || hex.EncodeToString(sum[:]) != r.Header.Get(protocol.HeaderChunkSHA256) {
		s.writeError(w, r, &apiError{status: http.StatusUnprocessableEntity, code: protocol.CodeChunkMismatch,
			msg: fmt.Sprintf("Chunk %d does not match its SHA-256 or is not %d bytes long; send it again.", n, want)})
		return
	}
	st, ae := s.uploadStatus(r.Context(), t, p)
	if ae != nil {
		s.writeError(w, r, ae)
		return
	}
	if !st.Complete {
		// The quota is checked as the chunk is staged, one of the user's
		// uploads at a time: uploads sent at once cannot pass it together.
		u := blobstore.Upload{ID: t.att.ID, User: p.user, Size: t.att.Size, Quota: max(s.opts.UserQuotaBytes, 0)}
		if err := s.blobs.PutChunk(r.Context(), u, n, hex.EncodeToString(sum[:]), body); err != nil {
			var qe *blobstore.QuotaError
			if errors.As(err, &qe) {
				s.writeError(w, r, errQuota(t, qe.Used, qe.Quota))
				return
			}
			s.writeError(w, r, errInternal(err))
			return
		}
		s.metrics.fileBytes("up", len(body))
		if st, ae = s.uploadStatus(r.Context(), t, p); ae != nil {
			s.writeError(w, r, ae)
			return
		}
	}
	writeJSON(w, http.StatusOK, st)
}

func isMaxBytes(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// byteSize writes a size for people: 1.5 MB, 4.0 GB.
func byteSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// sweepFiles drops files no record names any more: a proof goes with its
// record (the tombstone's compaction), so a deleted record's file stays
// until then; an upload untouched for staleUploadAge goes too.
func (s *Server) sweepFiles(ctx context.Context, now time.Time) (blobstore.SweepStats, error) {
	keep := func(ctx context.Context, id string) (bool, error) {
		err := s.st.Read(ctx, func(rd store.Reader) error {
			_, err := rd.Record(ctx, id)
			return err
		})
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	return s.blobs.Sweep(ctx, keep, now.Add(-staleUploadAge))
}
