package ui

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// FileWatch reports changes of one file on C. It watches the file's
// directory, because editors save by writing a new file and renaming it
// over the old one, which a watch on the file itself would miss.
type FileWatch struct {
	// C receives a value after the file changes (changes coalesce) and is
	// closed when the watch ends.
	C <-chan struct{}

	w  *fsnotify.Watcher
	wg sync.WaitGroup
}

// WatchFile starts watching the file at path; its directory must exist.
func WatchFile(path string, log *slog.Logger) (*FileWatch, error) {
	path = filepath.Clean(path)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", path, err)
	}
	if err := w.Add(filepath.Dir(path)); err != nil {
		w.Close()
		return nil, fmt.Errorf("watch %s: %w", path, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ch := make(chan struct{}, 1)
	fw := &FileWatch{C: ch, w: w}
	fw.wg.Add(1)
	go func() {
		defer fw.wg.Done()
		defer close(ch)
		for {
			// Both channels close when the watcher closes: the loop ends
			// then instead of spinning on a closed channel.
			select {
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) != path || !ev.Has(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) {
					continue
				}
				select {
				case ch <- struct{}{}:
				default: // a change is already waiting to be read
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				log.Warn("watching the config file", "path", path, "err", err)
			}
		}
	}()
	return fw, nil
}

// Close stops the watch, waits for its goroutine and closes C.
func (fw *FileWatch) Close() error {
	err := fw.w.Close()
	fw.wg.Wait()
	return err
}
