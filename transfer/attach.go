package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"syscall"

	"casefile/localdb"
	"casefile/localfiles"
	"casefile/model"
)

// AttachPath copies the file at path into the device's store and attaches
// it to a record; its upload is queued. The name kept is the file's base
// name, the media type guessed from its extension or its first bytes.
func AttachPath(ctx context.Context, db *localdb.DB, files localfiles.Store, recordID, path string) (model.Record, error) {
	// Opened without waiting: a named pipe's open blocks until a writer
	// comes, before any check could refuse it (a regular file reads the
	// same either way).
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0) // #nosec G304 -- a path the person named
	if err != nil {
		return model.Record{}, fmt.Errorf("open %s: %w", path, errors.Unwrap(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return model.Record{}, fmt.Errorf("read %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return model.Record{}, fmt.Errorf("%s is not a regular file", path)
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return model.Record{}, fmt.Errorf("read %s: %w", path, err)
	}
	hash, size, err := files.Import(f)
	if err != nil {
		return model.Record{}, fmt.Errorf("copy %s: %w", path, err)
	}
	name := filepath.Base(path)
	return db.Attach(ctx, recordID, model.Attachment{Name: name, Size: size, SHA256: hash, MediaType: MediaType(name, head[:n])})
}

// MediaType guesses a file's media type from its name, else its first bytes.
func MediaType(name string, head []byte) string {
	if t := mime.TypeByExtension(filepath.Ext(name)); t != "" {
		return t
	}
	return http.DetectContentType(head)
}

// Fetch downloads one file now, queuing it if needed; a file already on
// the device is left as it is.
func (e *Engine) Fetch(ctx context.Context, id string) error {
	if _, err := e.db.QueueDownload(ctx, id); err != nil {
		return err
	}
	f, err := e.db.File(ctx, id)
	if err != nil || f.Local {
		return err
	}
	t, err := e.db.TransferOf(ctx, id, localdb.Download)
	if err != nil {
		return err
	}
	var sum Summary
	if err := e.run(ctx, t, &sum); err != nil {
		if stop := e.settle(ctx, t, err, &sum); stop != nil {
			return stop
		}
		f, _ = e.db.File(ctx, id)
		if f.Error != "" {
			return errors.New(f.Error)
		}
		return err
	}
	return nil
}
