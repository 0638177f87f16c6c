// Package transfer moves attached files' bytes between a device and the
// server: the uploads and downloads queued in localdb, chunk by chunk,
// resuming from what the other side holds after a cut, a kill or a reboot,
// every chunk and every whole file checked against its SHA-256. It runs
// apart from the record sync (syncer), so a large file never holds back
// records and records never wait for bytes.
package transfer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"casefile/apiclient"
	"casefile/localdb"
	"casefile/localfiles"
	"casefile/model"
	"casefile/protocol"
)

// DefaultKeepSmall is the size up to which a matter's files are downloaded
// eagerly unless the matter says otherwise: 10 MB holds scanned letters,
// filings and phone photos — what a person expects to open in a courtroom
// without a network — while videos and large bundles, which would fill a
// laptop with a busy practice's history, wait until someone opens them.
const DefaultKeepSmall = 10 << 20

// Retry timings of a transfer that could not finish.
const (
	retryFirst = 2 * time.Second // after the first failure
	retryMax   = 5 * time.Minute // the backoff's ceiling
	// chunkTries is how often one chunk is tried within a pass before the
	// transfer waits for the next: a refused (damaged) chunk is sent again.
	chunkTries = 3
)

// Progress reports a transfer moving.
type Progress struct {
	AttachmentID string
	Name         string
	Direction    localdb.Direction
	Done, Total  int64
	Rate         float64       // bytes per second in this pass
	ETA          time.Duration // at that rate; 0 when unknown
}

// Summary counts what one pass did.
type Summary struct {
	Uploaded, Downloaded int
	Waiting              int // transfers left queued (offline, bytes not on the server yet)
	Failed               int // transfers that failed for good this pass
	Bytes                int64
	Collected            int // local files removed as unused
}

// Options configure an Engine.
type Options struct {
	// KeepSmall: files up to this size are kept offline in matters without
	// a choice of their own (DefaultKeepSmall when 0; negative: none).
	KeepSmall int64
	Progress  func(Progress) // may be nil
	Logger    *slog.Logger
	Now       func() time.Time
}

// Engine runs the transfer queue of one device.
type Engine struct {
	db    *localdb.DB
	files localfiles.Store
	api   *apiclient.Client
	opts  Options
	log   *slog.Logger
}

// New returns an engine over a device's database and file store, talking
// to the server through api.
func New(db *localdb.DB, files localfiles.Store, api *apiclient.Client, opts Options) *Engine {
	if opts.KeepSmall == 0 {
		opts.KeepSmall = DefaultKeepSmall
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Engine{db: db, files: files, api: api, opts: opts, log: opts.Logger.With("component", "transfer")}
}

// RunOnce queues the files to keep offline, runs every due transfer and
// removes local files nothing needs. It stops early, keeping the queue, when
// the server cannot be reached or refuses the token, and returns that error.
func (e *Engine) RunOnce(ctx context.Context) (Summary, error) {
	var sum Summary
	if _, err := e.db.QueueOffline(ctx, e.opts.KeepSmall); err != nil {
		return sum, err
	}
	due, err := e.db.DueTransfers(ctx, e.opts.Now())
	if err != nil {
		return sum, err
	}
	for _, t := range due {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		err := e.run(ctx, t, &sum)
		if err == nil {
			continue
		}
		if stop := e.settle(ctx, t, err, &sum); stop != nil {
			return sum, stop
		}
	}
	n, err := e.Collect(ctx)
	sum.Collected = n
	return sum, err
}

// Collect removes local files nothing needs any more and partial
// downloads no transfer continues.
func (e *Engine) Collect(ctx context.Context) (int, error) {
	n, err := e.db.CollectFiles(ctx, e.files.Remove)
	if err != nil {
		return n, err
	}
	parts, err := e.files.Partials()
	if err != nil {
		return n, err
	}
	if len(parts) == 0 {
		return n, nil
	}
	ts, err := e.db.Transfers(ctx)
	if err != nil {
		return n, err
	}
	moving := map[string]bool{}
	for _, t := range ts {
		moving[t.Hash] = true
	}
	for _, h := range parts {
		if !moving[h] {
			if ok, _ := e.files.Has(h); !ok {
				if err := e.files.Remove(h); err != nil {
					return n, err
				}
			}
		}
	}
	return n, nil
}

// errWait means the transfer cannot go on yet for a reason that is not a
// failure (its record has not reached the server, or its bytes have not).
type errWait struct{ reason string }

func (e errWait) Error() string { return e.reason }

// errFail is a transfer's end for good, with the sentence a person reads.
type errFail struct{ reason string }

func (e errFail) Error() string { return e.reason }

// settle records what a failed run means and returns an error when the
// whole pass must stop (offline, logged out, cancelled).
func (e *Engine) settle(ctx context.Context, t localdb.Transfer, err error, sum *Summary) error {
	var fail errFail
	var wait errWait
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &fail):
		sum.Failed++
		return e.db.TransferFailed(ctx, t.AttachmentID, t.Direction, fail.reason)
	case errors.As(err, &wait):
		sum.Waiting++
		return e.db.TransferRetry(ctx, t.AttachmentID, t.Direction, wait.reason, e.next(t))
	}
	var ae *apiclient.Error
	if errors.As(err, &ae) {
		switch {
		case ae.Class == apiclient.ClassUnauthorized:
			sum.Waiting++
			return errors.Join(e.db.TransferRetry(ctx, t.AttachmentID, t.Direction, ae.Message, e.opts.Now()), err)
		case ae.Code == protocol.CodeQuotaExceeded || ae.Code == protocol.CodeFileTooLarge || ae.Code == protocol.CodeForbidden:
			sum.Failed++
			return e.db.TransferFailed(ctx, t.AttachmentID, t.Direction, ae.Message)
		case ae.Class == apiclient.ClassPermanent:
			sum.Failed++
			return e.db.TransferFailed(ctx, t.AttachmentID, t.Direction, ae.Message)
		}
	}
	// Offline or a failing server: the queue stays, the pass ends.
	sum.Waiting++
	reason := err.Error()
	if ae != nil {
		reason = ae.Message
	}
	return errors.Join(e.db.TransferRetry(ctx, t.AttachmentID, t.Direction, reason, e.next(t)), err)
}

func (e *Engine) next(t localdb.Transfer) time.Time {
	d := retryFirst
	for i := 0; i < t.Attempts && d < retryMax; i++ {
		d *= 2
	}
	return e.opts.Now().Add(min(d, retryMax))
}

// uploadWaitsForDelete is the reason an upload of an attachment deleted
// here waits.
const uploadWaitsForDelete = "the attachment is deleted on this device; its file goes if the delete is refused or taken back"

func (e *Engine) run(ctx context.Context, t localdb.Transfer, sum *Summary) error {
	f, err := e.db.File(ctx, t.AttachmentID)
	if errors.Is(err, localdb.ErrNotAttachment) {
		// Detached (or gone with its matter) before it moved: nothing to
		// move any more; the bytes go when nothing else needs them. The
		// upload of an attachment deleted here, its delete not synced
		// yet, stays (DropTransfer) and is looked at again later.
		dropped, err := e.db.DropTransfer(ctx, t.AttachmentID, t.Direction)
		if err != nil || dropped {
			return err
		}
		return e.db.TransferRetry(ctx, t.AttachmentID, t.Direction, uploadWaitsForDelete, e.next(t))
	}
	if err != nil {
		return err
	}
	if t.Direction == localdb.Upload {
		if err := e.upload(ctx, t, f, sum); err != nil {
			return err
		}
		sum.Uploaded++
	} else {
		if err := e.download(ctx, t, f, sum); err != nil {
			return err
		}
		sum.Downloaded++
	}
	return e.db.TransferDone(ctx, t)
}

// meter measures a pass's rate for progress reports.
type meter struct {
	e     *Engine
	t     localdb.Transfer
	name  string
	start time.Time
	base  int64 // bytes done before this pass
}

func (m *meter) report(done int64) {
	if m.e.opts.Progress == nil {
		return
	}
	p := Progress{AttachmentID: m.t.AttachmentID, Name: m.name, Direction: m.t.Direction, Done: done, Total: m.t.Size}
	if el := m.e.opts.Now().Sub(m.start).Seconds(); el > 0 && done > m.base {
		p.Rate = float64(done-m.base) / el
		p.ETA = time.Duration(float64(m.t.Size-done) / p.Rate * float64(time.Second))
	}
	m.e.opts.Progress(p)
}

func (e *Engine) upload(ctx context.Context, t localdb.Transfer, f localdb.FileInfo, sum *Summary) error {
	st, err := e.api.UploadStatus(ctx, t.AttachmentID)
	if err != nil {
		var ae *apiclient.Error
		if errors.As(err, &ae) && ae.Code == protocol.CodeNotFound {
			if f.Record != model.StateSynced {
				// The server learns of the attachment with its record;
				// until then there is nothing to upload to.
				return errWait{"waiting for the attachment's record to reach the server"}
			}
			return errFail{"the server has no such file: it was removed there, or its matter is no longer shared with you"}
		}
		return err
	}
	have := map[int]bool{}
	for _, n := range st.Have {
		have[n] = true
	}
	m := &meter{e: e, t: t, name: f.Name, start: e.opts.Now()}
	done := int64(0)
	for n := range model.ChunkCount(t.Size) {
		if have[n] {
			done += int64(model.ChunkLen(t.Size, n))
		}
	}
	m.base = done
	m.report(done)
	for n := range model.ChunkCount(t.Size) {
		if st.Complete {
			break
		}
		if have[n] {
			continue
		}
		b, err := e.files.ReadChunk(t.Hash, t.Size, n)
		if err != nil {
			return errFail{fmt.Sprintf("the file's bytes on this device cannot be read: %v", err)}
		}
		for try := 1; ; try++ {
			st, err = e.api.PutChunk(ctx, t.AttachmentID, n, b)
			var ae *apiclient.Error
			if err != nil && errors.As(err, &ae) && ae.Code == protocol.CodeChunkMismatch && try < chunkTries {
				continue // damaged on the way: send it again
			}
			if err != nil && errors.As(err, &ae) && ae.Code == protocol.CodeHashMismatch {
				return errFail{"the file on this device no longer matches its sha256; attach it again"}
			}
			break
		}
		if err != nil {
			return err
		}
		done += int64(len(b))
		sum.Bytes += int64(len(b))
		if err := e.db.TransferProgress(ctx, t.AttachmentID, t.Direction, done); err != nil {
			return err
		}
		m.report(done)
	}
	if !st.Complete {
		// A chunk the server found missing at the end: the next pass
		// asks again and sends it.
		return errWait{"the server is missing chunks; they will be sent again"}
	}
	m.report(t.Size)
	return nil
}

func (e *Engine) download(ctx context.Context, t localdb.Transfer, f localdb.FileInfo, sum *Summary) error {
	man, err := e.api.FileManifest(ctx, t.AttachmentID)
	if err != nil {
		var ae *apiclient.Error
		switch {
		case errors.As(err, &ae) && ae.Code == protocol.CodeNotUploaded:
			return errWait{"the file has not reached the server yet"}
		case errors.As(err, &ae) && ae.Code == protocol.CodeNotFound:
			return errFail{"the server has no such file: it was removed there, or its matter is no longer shared with you"}
		}
		return err
	}
	if man.SHA256 != t.Hash || man.Size != t.Size || len(man.Chunks) != model.ChunkCount(t.Size) {
		return errFail{"the server describes another file than the attachment names"}
	}
	held, err := e.db.ChunksHeld(ctx, t.AttachmentID)
	if err != nil {
		return err
	}
	done := int64(0)
	for n := range held {
		done += int64(model.ChunkLen(t.Size, n))
	}
	m := &meter{e: e, t: t, name: f.Name, start: e.opts.Now(), base: done}
	m.report(done)
	for n := range man.Chunks {
		if held[n] {
			continue
		}
		var b []byte
		for try := 1; ; try++ {
			var sent string
			b, sent, err = e.api.GetChunk(ctx, t.AttachmentID, n)
			if err != nil {
				return err
			}
			if len(b) == model.ChunkLen(t.Size, n) && sent == man.Chunks[n] && sha256Hex(b) == sent {
				break
			}
			// Damaged or cut short on the way: refused, fetched again.
			if try >= chunkTries {
				return errWait{fmt.Sprintf("chunk %d kept arriving damaged", n)}
			}
		}
		if err := e.files.WriteChunk(t.Hash, n, b); err != nil {
			return errFail{fmt.Sprintf("the file cannot be written on this device: %v", err)}
		}
		done += int64(len(b))
		sum.Bytes += int64(len(b))
		if err := e.db.ChunkWritten(ctx, t.AttachmentID, n, done); err != nil {
			return err
		}
		m.report(done)
	}
	if err := e.files.Seal(t.Hash, t.Size); err != nil {
		if errors.Is(err, localfiles.ErrHashMismatch) {
			// A chunk rotted on this disk after it was written: start over.
			return errors.Join(errWait{"the downloaded file did not match its sha256; downloading it again"}, e.db.ForgetChunks(ctx, t.AttachmentID))
		}
		return errFail{fmt.Sprintf("the file cannot be written on this device: %v", err)}
	}
	m.report(t.Size)
	return nil
}
