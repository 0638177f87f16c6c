package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"casefile/apiclient"
	"casefile/localdb"
	"casefile/localfiles"
	"casefile/model"
	"casefile/server/store"
	"casefile/transfer"
)

// Attached files in the scenarios: now and then a client attaches a small
// file to a record it holds, and every sync cycle moves file bytes after
// the records, through the same faulty link. Attachment records converge
// like any record; at the end every client downloads every file it can
// see and each copy must hash to its record's sha256.

// attachOdds is the chance that a sync cycle first attaches a file.
const attachOdds = 0.08

// maxSimFile keeps the files small: the point is the protocol, not bytes.
const maxSimFile = 3000

func (c *client) files() *localfiles.Dir {
	var opts []localfiles.Option
	if c.keys != nil {
		opts = append(opts, localfiles.WithSealer(c.keys)) // sealed beside the encrypted database
	}
	d, err := localfiles.OpenDir(c.path+".files", opts...)
	if err != nil {
		panic(err)
	}
	return d
}

// attachDraw draws from the attachments' own stream, so attaching does not
// shift the record steps' draws, and the file requests' faults (whose
// number follows real retry timers) do not shift the attachments.
func (w *world) attachDraw() float64 {
	w.rmu.Lock()
	defer w.rmu.Unlock()
	return w.arnd.Float64()
}

func (w *world) attachIntn(n int) int {
	w.rmu.Lock()
	defer w.rmu.Unlock()
	return w.arnd.IntN(n)
}

// maybeAttach attaches a small file to a record c holds, now and then.
func (w *world) maybeAttach(c *client) {
	if len(w.ids) == 0 || w.attachDraw() >= attachOdds {
		return
	}
	id := w.ids[w.attachIntn(len(w.ids))]
	rec, err := c.db.Get(w.ctx, id)
	if err != nil || rec.Deleted {
		return // not on this device, or gone: nothing to attach to
	}
	data := make([]byte, 1+w.attachIntn(maxSimFile))
	w.rmu.Lock()
	for i := range data {
		data[i] = byte(w.arnd.UintN(256))
	}
	w.rmu.Unlock()
	files := c.files()
	hash, size, err := files.Import(bytes.NewReader(data))
	w.must(c.name+": import a file", err)
	att, err := c.db.Attach(w.ctx, id, model.Attachment{Name: "file.bin", Size: size, SHA256: hash})
	if errors.Is(err, localdb.ErrInConflict) {
		return
	}
	w.must(c.name+": attach", err)
	w.stats.inc("files attached", 1)
	// The attachment's id is new at random on every run: the fingerprint
	// names the file by its place and its bytes, the report by its id too.
	w.tracef("%s attach %d bytes (sha256 %.12s) to #%d", c.name, size, hash, w.index[id])
	w.rmu.Lock()
	w.tailLocked("  attachment id " + att.ID)
	w.rmu.Unlock()
}

// fileEditOdds is the chance, in thousandths, that a sync cycle first
// edits one of the client's attachments.
const fileEditOdds = 60

// newFileEditRand is the stream of attachments' edits: its own, so that
// no other draw moves.
func newFileEditRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed^0x6564697473, seed)) }

func (w *world) editIntn(n int) int {
	w.rmu.Lock()
	defer w.rmu.Unlock()
	return w.ernd.IntN(n)
}

// maybeEditFile, now and then, renames an attachment c holds, or tries to
// change its size or sha256, which its bytes decide, by an edit or by an
// import of the record with other values over it, as a backup edited by
// hand would: refused, naming the field, with nothing queued. A change
// that got through would reach the server, where the bytes uploaded no
// longer fit the record, and no device could download the file
// (checkFiles).
func (w *world) maybeEditFile(c *client) {
	if w.editIntn(1000) >= fileEditOdds || c.restoring {
		// A rename of a file the backup restored, before the check that
		// the backup changed nothing on the server, would be taken for
		// the backup's change.
		return
	}
	files, err := c.db.Files(w.ctx, "")
	w.must(c.name+": list files", err)
	if len(files) == 0 {
		return
	}
	f := files[w.editIntn(len(files))]
	how, other := w.editIntn(3), w.editIntn(1000)
	if how == 0 {
		_, err := c.db.Update(w.ctx, f.ID, model.Fields{model.AttachNameField: fmt.Sprintf("file-%d.bin", other)})
		if errors.Is(err, localdb.ErrInConflict) {
			return
		}
		w.must(c.name+": rename a file", err)
		w.stats.inc("files renamed", 1)
		return
	}
	field, changes := model.AttachSizeField, f.Attachment.Fields()
	if other%2 == 0 {
		changes[field] = float64(f.Size + 1 + int64(other))
	} else {
		sum := sha256.Sum256([]byte(f.SHA256))
		field = model.AttachHashField
		changes[field] = hex.EncodeToString(sum[:])
	}
	before, err := c.db.Outbox(w.ctx)
	w.must(c.name+": read the outbox", err)
	way := "an edit"
	if how == 1 {
		_, err = c.db.Update(w.ctx, f.ID, model.Fields{field: changes[field]})
	} else {
		way = "an import over the record"
		_, err = c.db.ImportWith(w.ctx, model.AttachmentCollection, []localdb.ImportItem{{ID: f.ID, Fields: changes}}, localdb.ExistingUpdate)
	}
	if errors.Is(err, localdb.ErrInConflict) {
		return
	}
	// The refusal names the field, unless the line was refused before
	// it for a matter not on the device (its access lost).
	var probs model.Problems
	refused := errors.As(err, &probs)
	switch {
	case refused && slices.ContainsFunc(probs, func(p model.Problem) bool { return p.Kind == model.ProblemFixed && p.Field == field }):
		w.stats.inc("contract: changes of a file's size or sha256 refused", 1)
	case refused && how == 2 && len(probs) == 1 && probs[0].Field == model.MatterField:
		w.stats.inc("files' imports refused for a matter not on the device", 1)
	default:
		w.violate("%s: %s changing the %s of file %s: %v; want it refused as fixed", c.name, way, field, f.ID, err)
	}
	after, err := c.db.Outbox(w.ctx)
	w.must(c.name+": read the outbox", err)
	if len(after) != len(before) {
		w.violate("%s: %s changing the %s of file %s, refused, queued %d op(s)", c.name, way, field, f.ID, len(after)-len(before))
	}
}

// moveFiles runs one pass of c's transfers; only network trouble may
// stop it.
func (w *world) moveFiles(c *client, now func() time.Time) transfer.Summary {
	if c.workOffline || !w.hasFiles(c) {
		return transfer.Summary{}
	}
	api, err := apiclient.NewClient(c.link.URL, c.token, c.link.client, apiclient.WithRequestTimeout(requestTimeout))
	w.must("file client", err)
	sum, err := transfer.New(c.db, c.files(), api, transfer.Options{Now: now}).RunOnce(w.ctx)
	w.stats.inc("files uploaded", sum.Uploaded)
	w.stats.inc("files downloaded", sum.Downloaded)
	if err != nil && !apiclient.IsTransient(err) && apiclient.ClassOf(err) != apiclient.ClassPermanent {
		w.violate("%s: moving files failed with a non-network error: %v", c.name, err)
	}
	return sum
}

// hasFiles reports whether c holds any attachment or transfer: a device
// without files has no file pass to run.
func (w *world) hasFiles(c *client) bool {
	n, err := c.db.Count(w.ctx, localdb.ListQuery{Collection: model.AttachmentCollection})
	if err == nil && n > 0 {
		return true
	}
	ts, err := c.db.Transfers(w.ctx)
	return err != nil || len(ts) > 0
}

// checkFiles ends a scenario: with the link healed, every client moves
// its files until nothing is due, then asks for every file it can see.
// Each local copy must hash to its record's sha256, and a file missing on
// a device must be one whose bytes never reached the server: no device
// holds it as uploaded.
func (w *world) checkFiles() {
	// Each pass a day after the last: every retry the one before left is
	// due, however often it failed.
	pass := 0
	later := func() func() time.Time {
		pass++
		at := time.Duration(pass) * 24 * time.Hour
		return func() time.Time { return time.Now().Add(at) }
	}
	for range 3 {
		now := later()
		for _, c := range w.clients {
			w.moveFiles(c, now)
		}
	}
	uploaded := map[string]string{} // by attachment id: a device that uploaded it
	for _, c := range w.clients {
		list, err := c.db.Files(w.ctx, "")
		w.must(c.name+": list files", err)
		for _, f := range list {
			if f.State == localdb.FileUploaded {
				uploaded[f.ID] = c.name
			}
		}
	}
	for _, c := range w.clients {
		list, err := c.db.Files(w.ctx, "")
		w.must(c.name+": list files", err)
		for _, f := range list {
			if !f.Local {
				_, err := c.db.QueueDownload(w.ctx, f.ID)
				w.must(c.name+": queue a download", err)
			}
		}
		// A pass stops at the first request the link fails (a busy
		// machine's timeout); the next goes on, until one leaves nothing
		// waiting.
		for range 10 {
			if w.moveFiles(c, later()).Waiting == 0 {
				break
			}
		}
		list, err = c.db.Files(w.ctx, "")
		w.must(c.name+": list files", err)
		for _, f := range list {
			if !f.Local {
				if f.State != localdb.FileQueued && f.State != localdb.FileRetrying && f.State != localdb.FileFailed {
					w.violate("%s: file %s is %q at the end", c.name, f.ID, f.StateText())
				}
				if by := uploaded[f.ID]; by != "" {
					w.violate("%s: file %s is %q at the end, though %s uploaded it", c.name, f.ID, f.StateText(), by)
				}
				w.stats.inc("files never uploaded", 1)
				continue
			}
			r, err := c.files().Open(f.SHA256)
			if err != nil {
				w.violate("%s: file %s is local but cannot be read: %v", c.name, f.ID, err)
				continue
			}
			h := sha256.New()
			_, err = io.Copy(h, r)
			r.Close()
			if err != nil || hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
				w.violate("%s: the bytes of file %s do not match its sha256", c.name, f.ID)
			}
			w.stats.inc("files verified on a device", 1)
		}
	}
	w.checkArrivalsAudited()
}

// checkArrivalsAudited checks that every file a device was told the
// server holds (uploaded) has its arrival in the audit log, once
// compaction has audited those whose row failed after their commit.
func (w *world) checkArrivalsAudited() {
	// Until no note of an arrival is left (each is kept once at most).
	for w.auditArrivals(time.Now().Add(time.Hour)) {
	}
	audited := map[string]int{}
	err := w.reader.Read(w.ctx, func(r store.Reader) error {
		for after := int64(0); ; {
			rows, err := r.Audit(w.ctx, after, 1000)
			if err != nil || len(rows) == 0 {
				return err
			}
			for _, e := range rows {
				if e.Action == "file_uploaded" {
					audited[strings.TrimPrefix(e.Target, model.AttachmentCollection+"/")]++
				}
				after = e.ID
			}
		}
	})
	w.must("read the audit log", err)
	for _, c := range w.clients {
		list, err := c.db.Files(w.ctx, "")
		w.must(c.name+": list files", err)
		for _, f := range list {
			if f.State == localdb.FileUploaded && audited[f.ID] == 0 {
				w.violate("%s: file %s was uploaded, and its arrival is not in the audit log", c.name, f.ID)
			}
		}
	}
	for id, k := range audited {
		if k > 1 {
			w.violate("file %s: its arrival is in the audit log %d times", id, k)
		}
	}
}

// auditArrivals audits the arrivals left to audit at now, as the
// server's compaction loop does, and says whether a note of one could
// not be cleared (noteFaults): the loop logs that and tries again at the
// next compaction.
func (w *world) auditArrivals(now time.Time) (kept bool) {
	n, err := w.srv.AuditArrivals(w.ctx, now)
	w.stats.inc(statArrivalsAuditedLate, n)
	if errors.Is(err, errNoteFault) {
		return true
	}
	w.must("audit arrivals", err)
	return false
}

func newFileRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed^0x66696c6573, seed)) }

func newAttachRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed^0x617474616368, seed)) }
