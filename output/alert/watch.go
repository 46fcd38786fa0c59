package alert

import (
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// debounce is how long the watcher waits after the last change before it
// reports: editors write a file in several steps (truncate, write, rename).
const debounce = 300 * time.Millisecond

// watcher reports changes of rule files (*.yaml, *.yml, and the !file
// lists beside them) in the rules folders on changed.
type watcher struct {
	w       *fsnotify.Watcher
	changed chan struct{}
	done    chan struct{}
	wg      sync.WaitGroup
}

func newWatcher(dirs []string, logger *slog.Logger) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		if err := fw.Add(d); err != nil {
			fw.Close()
			return nil, err
		}
	}
	w := &watcher{w: fw, changed: make(chan struct{}, 1), done: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.loop(logger)
	}()
	return w, nil
}

func (w *watcher) loop(logger *slog.Logger) {
	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-w.done:
			if timer != nil {
				timer.Stop()
			}
			return
		case ev, ok := <-w.w.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Chmod || hidden(ev.Name) {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(debounce)
			} else {
				timer.Reset(debounce)
			}
			fire = timer.C
		case err, ok := <-w.w.Errors:
			if !ok {
				return
			}
			logger.Warn("watching the rules folders", "err", err)
		case <-fire:
			fire = nil
			select {
			case w.changed <- struct{}{}:
			default:
			}
		}
	}
}

// hidden reports editor swap and backup files, which are not rules.
func hidden(path string) bool {
	b := filepath.Base(path)
	return strings.HasPrefix(b, ".") || strings.HasSuffix(b, "~") || strings.HasSuffix(b, ".swp")
}

func (w *watcher) close() {
	close(w.done)
	w.w.Close()
	w.wg.Wait()
}
