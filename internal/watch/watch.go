// Package watch tells when anything below a set of directories changed. It
// watches directories (never single files) recursively with fsnotify, follows
// folders created, removed, renamed or replaced later (the roots included),
// reacts to every kind of event, and debounces them into one signal. It knows
// nothing of what the files mean.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// Watcher turns file system events below its roots into "something changed"
// signals on Changes. A burst of events gives one signal: it is sent once no
// event has arrived for the debounce period, or at the latest maxWait after
// the first event of the burst, so a stream of writes cannot postpone it for
// ever. Signals are coalesced: Changes has room for one, and a signal sent
// while one is still unread is dropped (the reader will look at the files
// after the later change anyway).
//
// Watches are placed on every directory below the roots, dot-folders
// included (a Kubernetes ConfigMap keeps its files in "..2026_…" folders and
// swaps them by re-pointing the "..data" symlink, which may be reported as
// Create, Rename, Remove, Write or Chmod). Each root's parent is watched too,
// without recursion, so that a root which is removed and recreated, or
// replaced by a rename, is watched again. A symlink to a directory outside
// the roots is followed, as the loader follows it.
//
// All state is owned by the goroutine running Run; Changes may be read from
// any goroutine.
type Watcher struct {
	roots    []string // cleaned absolute paths
	debounce time.Duration
	maxWait  time.Duration
	log      *zap.Logger

	fsw     *fsnotify.Watcher
	changes chan struct{}

	tree    map[string]bool // directories watched recursively (below a root, or followed links)
	parents map[string]bool // roots' parents, watched only to see a root come and go
	// pollInterval is how often a missing root is looked for, in case its
	// parent cannot tell us it is back.
	pollInterval time.Duration

	closeOnce sync.Once
	closeErr  error
}

// New watches dirs (each must exist and be a directory). debounce is the
// quiet period after the last event before Changes fires; maxWait bounds how
// long a stream of events may postpone it. Run must be called to deliver
// signals; Close (or the end of Run) releases the watches.
func New(dirs []string, debounce, maxWait time.Duration, log *zap.Logger) (*Watcher, error) {
	if debounce <= 0 {
		return nil, fmt.Errorf("watch: debounce %s must be positive", debounce)
	}
	if maxWait < debounce {
		maxWait = debounce
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	w := &Watcher{
		debounce: debounce,
		maxWait:  maxWait,
		log:      log,
		fsw:      fsw,
		changes:  make(chan struct{}, 1),
		tree:     map[string]bool{},
		parents:  map[string]bool{},

		pollInterval: time.Second,
	}
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("watch %s: %w", d, err)
		}
		if st, err := os.Stat(abs); err != nil {
			w.Close()
			return nil, fmt.Errorf("watch %s: %w", d, err)
		} else if !st.IsDir() {
			w.Close()
			return nil, fmt.Errorf("watch %s: not a directory", d)
		}
		w.roots = append(w.roots, abs)
	}
	for _, r := range w.roots {
		if err := w.addTree(r); err != nil {
			w.Close()
			return nil, fmt.Errorf("watch %s: %w", r, err)
		}
		parent := filepath.Dir(r)
		if parent == r || w.parents[parent] {
			continue
		}
		// Without the parent a replaced root goes unnoticed: say so, but
		// watching the root itself still works.
		if err := w.fsw.Add(parent); err != nil {
			log.Warn("cannot watch the parent folder: a replaced root folder will not be noticed",
				zap.String("dir", parent), zap.Error(err))
			continue
		}
		w.parents[parent] = true
	}
	return w, nil
}

// Changes delivers one value per debounced burst of changes.
func (w *Watcher) Changes() <-chan struct{} { return w.changes }

// Close releases the watches. It is safe to call more than once, and Run
// calls it on return.
func (w *Watcher) Close() error {
	w.closeOnce.Do(func() { w.closeErr = w.fsw.Close() })
	return w.closeErr
}

// Run delivers signals until ctx is done (then it returns nil) or fsnotify
// stops unexpectedly (an error).
func (w *Watcher) Run(ctx context.Context) error {
	defer w.Close()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var first, last time.Time // of the pending burst; zero when none
	changed := func() {
		last = time.Now()
		if first.IsZero() {
			first = last
		}
		deadline := last.Add(w.debounce)
		if limit := first.Add(w.maxWait); limit.Before(deadline) {
			deadline = limit
		}
		timer.Reset(time.Until(deadline))
	}
	// poll ticks only while a root is missing and its parent could not
	// tell us when it comes back.
	var poll *time.Ticker
	var pollC <-chan time.Time
	defer func() {
		if poll != nil {
			poll.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return errors.New("watch: fsnotify stopped delivering events")
			}
			if w.handle(ev) {
				changed()
			}
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return errors.New("watch: fsnotify stopped delivering errors")
			}
			// An overflow means events were lost: treat it as a change.
			w.log.Warn("file watch error; reloading to be safe", zap.Error(err))
			changed()
		case <-pollC:
			if !w.rootMissing() {
				poll.Stop()
				poll, pollC = nil, nil
				changed()
			}
		case <-timer.C:
			first, last = time.Time{}, time.Time{}
			w.resync()
			if poll == nil && w.rootMissing() {
				poll = time.NewTicker(w.pollInterval)
				pollC = poll.C
			}
			select {
			case w.changes <- struct{}{}:
			default: // a signal is already waiting
			}
		}
	}
}

func (w *Watcher) rootMissing() bool {
	for _, r := range w.roots {
		if st, err := os.Stat(r); err != nil || !st.IsDir() {
			return true
		}
	}
	return false
}

// handle updates the watches for ev and reports whether ev concerns the
// watched trees.
func (w *Watcher) handle(ev fsnotify.Event) bool {
	name := filepath.Clean(ev.Name)
	dir := filepath.Dir(name)
	if !w.tree[dir] && !w.tree[name] && !w.isRoot(name) {
		return false // something else happened beside a root, in its parent
	}
	w.log.Debug("file event", zap.String("path", name), zap.String("op", ev.Op.String()))
	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		// A folder gone (or moved away): drop its watches. If something is
		// put back under the same name, a Create follows.
		w.dropTree(name)
	}
	if ev.Has(fsnotify.Create) || ev.Has(fsnotify.Chmod) || ev.Has(fsnotify.Write) {
		// A new folder, a folder moved in, or a link re-pointed: watch it.
		// The folder may already hold files and folders made before the
		// watch was in place; the signal sent after this event covers them.
		if err := w.addPath(name); err != nil {
			w.log.Warn("cannot watch a new folder", zap.String("dir", name), zap.Error(err))
		}
	}
	return true
}

func (w *Watcher) isRoot(p string) bool {
	for _, r := range w.roots {
		if p == r {
			return true
		}
	}
	return false
}

func (w *Watcher) inRoots(p string) bool {
	for _, r := range w.roots {
		if p == r || strings.HasPrefix(p, r+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// addPath watches p when it is a directory, or a symlink to a directory
// outside the roots; anything else (a file, a vanished path) is ignored.
func (w *Watcher) addPath(p string) error {
	st, err := os.Lstat(p)
	if err != nil {
		return nil // gone again already
	}
	switch {
	case st.IsDir():
		return w.addTree(p)
	case st.Mode()&fs.ModeSymlink != 0:
		return w.addLink(p)
	}
	return nil
}

// addLink follows a symlink to a directory outside the roots (one inside
// is watched already under its real name, e.g. a ConfigMap's "..data").
func (w *Watcher) addLink(p string) error {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return nil // dangling, e.g. mid-swap: the swap's own events follow
	}
	st, err := os.Stat(real)
	if err != nil || !st.IsDir() || w.inRoots(real) || w.tree[real] {
		return nil
	}
	return w.addTree(real)
}

// addTree watches root and every directory below it.
func (w *Watcher) addTree(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != root && errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walk: its Remove event follows
			}
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return w.addLink(p)
		}
		if !d.IsDir() || w.tree[p] {
			return nil
		}
		if err := w.fsw.Add(p); err != nil {
			if p != root && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipDir
			}
			return err
		}
		w.tree[p] = true
		return nil
	})
}

// dropTree forgets the watches on p and below. The kernel has usually
// dropped them already (the folder was deleted); a folder moved elsewhere
// would otherwise still report under its old name.
func (w *Watcher) dropTree(p string) {
	prefix := p + string(filepath.Separator)
	for d := range w.tree {
		if d == p || strings.HasPrefix(d, prefix) {
			_ = w.fsw.Remove(d) // already gone is fine
			delete(w.tree, d)
		}
	}
}

// resync runs before each signal and repairs what events could not: it
// watches any folder under a root that is not watched yet (a root that came
// back while its parent could not be watched, a folder created in the
// instant before its parent's watch existed) and forgets folders that are gone.
func (w *Watcher) resync() {
	for d := range w.tree {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			_ = w.fsw.Remove(d)
			delete(w.tree, d)
		}
	}
	for _, r := range w.roots {
		if _, err := os.Stat(r); err != nil {
			w.log.Warn("watched folder is missing; it is watched again once it is back", zap.String("dir", r))
			continue
		}
		if err := w.addTree(r); err != nil {
			w.log.Warn("cannot watch folder", zap.String("dir", r), zap.Error(err))
		}
	}
}
