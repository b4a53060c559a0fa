package decisionlog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

const (
	defaultMaxPending = 4 << 20 // bytes of entries waiting for the destination before new ones are dropped
	keepBuffer        = 1 << 20 // a buffer grown larger during a burst is dropped rather than kept
	flushTimeout      = 5 * time.Second
	warnEvery         = time.Minute
	fileMode          = 0o600 // decision logs hold who did what: readable by the sidecar's user only
)

var (
	errBacklog      = errors.New("the destination is not keeping up: entry dropped")
	errClosed       = errors.New("decision log closed: entry dropped")
	errFlushTimeout = errors.New("decision log flush timed out: the destination is not taking writes")
)

// writer is the zapcore.WriteSyncer under the decision logger. It exists so
// that the destination can never delay or fail a decision: Write only
// appends the encoded entry to a memory buffer (no I/O, no allocation once
// the buffer has grown) and one goroutine writes the buffer out, batching
// whatever piled up meanwhile. A destination that fails or blocks costs
// entries, never requests: when more than maxPending bytes wait, new
// entries are dropped. Every lost entry is counted and reported to onError.
//
// Write may be called by any number of goroutines; Sync, Reopen and Close
// too, at any time.
type writer struct {
	path    string // the file, when the destination is one (Reopen opens it again)
	onError func(lost int)
	log     *zap.Logger

	mu      sync.Mutex
	buf     []byte // entries waiting for the goroutine
	entries int    // how many entries buf holds
	spare   []byte // the other buffer, reused
	closed  bool
	max     int
	timeout time.Duration // how long Sync and Close wait for the destination

	kick  chan struct{} // cap 1: "buf has something"
	flush chan chan error
	stop  chan struct{}
	done  chan struct{}

	wmu       sync.Mutex // held while writing to out and while swapping it
	out       io.Writer
	outClosed bool

	written  atomic.Uint64
	lost     atomic.Uint64
	lastErr  atomic.Pointer[failure]
	lastWarn atomic.Int64 // unix nanoseconds
}

type failure struct {
	msg string
	at  time.Time
}

// openFile opens path for appending, creating it if needed.
func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("decision log: %w", err)
	}
	return f, nil
}

func newWriter(out io.Writer, path string, maxPending int, onError func(int), log *zap.Logger) *writer {
	w := &writer{
		path: path, onError: onError, log: log, max: maxPending, timeout: flushTimeout, out: out,
		kick: make(chan struct{}, 1), flush: make(chan chan error), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go w.run()
	return w
}

// Write queues one encoded entry (zap writes each entry in one call). It
// never blocks on the destination and never returns an error: a lost entry
// is counted instead, so zap has nothing to report.
func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed || len(w.buf)+len(p) > w.max {
		closed := w.closed
		w.mu.Unlock()
		if closed {
			w.fail(1, errClosed)
		} else {
			w.fail(1, errBacklog)
		}
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	w.entries++
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
	return len(p), nil
}

// Sync writes out every entry queued before the call and flushes a file to
// disk. It waits at most w.timeout, and reports entries lost since the
// previous Sync.
func (w *writer) Sync() error {
	reply := make(chan error, 1)
	t := time.NewTimer(w.timeout)
	defer t.Stop()
	select {
	case w.flush <- reply:
	case <-w.done:
		return nil
	case <-t.C:
		return errFlushTimeout
	}
	select {
	case err := <-reply:
		return err
	case <-t.C:
		return errFlushTimeout
	}
}

// Reopen opens the file again by its name, so that after logrotate renamed
// it, entries go to a new file. On failure the old file stays in use.
func (w *writer) Reopen() error {
	if w.path == "" {
		return nil
	}
	f, err := openFile(w.path)
	if err != nil {
		return err
	}
	w.wmu.Lock()
	if w.outClosed {
		w.wmu.Unlock()
		f.Close()
		return errors.New("decision log: reopen after close")
	}
	old := w.out
	w.out = f
	w.wmu.Unlock()
	if c, ok := old.(io.Closer); ok {
		_ = c.Close()
	}
	return nil
}

// Close writes out what is queued, then closes a file. Entries logged
// afterwards are dropped (and counted).
func (w *writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	select {
	case <-w.done:
	case <-time.After(w.timeout):
		// The goroutine is stuck in a write, holding wmu: leave the file
		// to the process's exit rather than hang the shutdown.
		return errFlushTimeout
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.outClosed = true
	if c, ok := w.out.(io.Closer); ok && w.path != "" {
		return c.Close()
	}
	return nil
}

func (w *writer) run() {
	defer close(w.done)
	var lostAtSync uint64
	for {
		select {
		case <-w.kick:
			w.drain()
		case reply := <-w.flush:
			w.drain()
			err := w.syncOut()
			if lost := w.lost.Load(); lost > lostAtSync {
				msg := "?"
				if f := w.lastErr.Load(); f != nil {
					msg = f.msg
				}
				err = errors.Join(fmt.Errorf("%d decision log entries lost since the last sync, the last: %s", lost-lostAtSync, msg), err)
				lostAtSync = lost
			}
			reply <- err
		case <-w.stop:
			w.drain()
			_ = w.syncOut()
			return
		}
	}
}

// drain writes out the buffer until it is empty.
func (w *writer) drain() {
	for {
		w.mu.Lock()
		batch, n := w.buf, w.entries
		if n == 0 {
			w.mu.Unlock()
			return
		}
		w.buf, w.entries = w.spare[:0], 0
		w.spare = nil
		w.mu.Unlock()

		err := w.writeOut(batch)

		if cap(batch) <= keepBuffer {
			w.mu.Lock()
			w.spare = batch[:0]
			w.mu.Unlock()
		}
		if err != nil {
			w.fail(n, err)
		} else {
			w.written.Add(uint64(n))
		}
	}
}

func (w *writer) writeOut(p []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.outClosed {
		return errClosed
	}
	n, err := w.out.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil && n > 0 && p[n-1] != '\n' {
		_, _ = w.out.Write([]byte{'\n'}) // end the torn line so the next entry starts on its own
	}
	return err
}

func (w *writer) syncOut() error {
	if w.path == "" {
		return nil // stdout and stderr are pipes or terminals: nothing to fsync
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if f, ok := w.out.(*os.File); ok && !w.outClosed {
		return f.Sync()
	}
	return nil
}

// fail counts lost entries, reports them, and warns on the process log at
// most once per warnEvery.
func (w *writer) fail(n int, err error) {
	total := w.lost.Add(uint64(n))
	now := time.Now()
	w.lastErr.Store(&failure{msg: err.Error(), at: now})
	if w.onError != nil {
		w.onError(n)
	}
	if w.log == nil {
		return
	}
	last := w.lastWarn.Load()
	if last != 0 && now.UnixNano()-last < int64(warnEvery) {
		return
	}
	if w.lastWarn.CompareAndSwap(last, now.UnixNano()) {
		w.log.Warn("decision log entries lost", zap.Error(err), zap.Uint64("lost_total", total))
	}
}
