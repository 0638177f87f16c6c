package dropfolder

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Start watches the drop folder in the background until ctx ends or
// Close: file events mark the folder changed and a pass runs once
// things have been quiet, so a burst of hundreds of files is one pass.
func (w *Watcher) Start(ctx context.Context) error {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	if _, err := w.Folders(ctx); err != nil {
		fsw.Close()
		return err
	}
	if err := w.watchFolders(fsw); err != nil {
		fsw.Close()
		return err
	}
	ctx, w.cancel = context.WithCancel(ctx)
	w.fsw = fsw
	w.wg.Add(1)
	go w.loop(ctx, fsw)
	return nil
}

// watchFolders adds the root and every matter folder to fsw.
func (w *Watcher) watchFolders(fsw *fsnotify.Watcher) error {
	w.mu.Lock()
	dirs := []string{w.opts.Root}
	for d := range w.folders {
		dirs = append(dirs, d)
	}
	w.mu.Unlock()
	for _, d := range dirs {
		if err := fsw.Add(d); err != nil {
			return err
		}
	}
	return nil
}

// loop runs passes: one at start (files dropped while not running), then
// after events, re-armed while files are still settling. It returns when
// ctx ends or fsnotify closes its channels.
func (w *Watcher) loop(ctx context.Context, fsw *fsnotify.Watcher) {
	defer w.wg.Done()
	tick := time.NewTimer(0)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-fsw.Events:
			if !ok {
				return
			}
			if ev.Has(fsnotify.Create) {
				// A new matter folder (or a renamed one) is watched too.
				_ = fsw.Add(ev.Name)
			}
			if filepath.Base(ev.Name) != ImportedDir {
				tick.Reset(w.opts.Quiet / 4)
			}
		case err, ok := <-fsw.Errors:
			if !ok {
				return
			}
			w.log.Warn("drop folder watch", "err", err)
		case <-tick.C:
			n, err := w.Scan(ctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				w.log.Error("drop folder import failed", "err", err)
			}
			if n > 0 {
				w.log.Info("imported dropped files", "files", n)
				if w.opts.Imported != nil {
					w.opts.Imported()
				}
			}
			_ = w.watchFolders(fsw)
			w.mu.Lock()
			settling := len(w.pending) > 0
			w.mu.Unlock()
			if settling {
				tick.Reset(w.opts.Quiet / 4)
			}
		}
	}
}

// Close stops the watcher and waits for its pass in flight.
func (w *Watcher) Close() error {
	if w.cancel == nil {
		return nil
	}
	w.cancel()
	err := w.fsw.Close()
	w.wg.Wait()
	return err
}
