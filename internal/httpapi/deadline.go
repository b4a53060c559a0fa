package httpapi

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// deadlineContext is context.WithDeadline without its timer until somebody
// waits on it. A single decision only asks Err and Deadline, so most
// requests never start a timer (one per request was 3% of pdp's CPU under
// load). Err answers as the timer context would: the parent's error, else
// DeadlineExceeded once the deadline has passed, and the first error it
// gives it gives from then on. Once Done or AfterFunc is called, a real
// context.WithDeadline is made and answers them.
type deadlineContext struct {
	context.Context // the parent
	deadline        time.Time

	once     sync.Once
	timer    atomic.Pointer[context.Context] // made by the first Done or AfterFunc
	cancel   context.CancelFunc
	released atomic.Bool           // the request is over: cancelled from now on
	err      atomic.Pointer[error] // the first non-nil Err, kept
}

func withDeadline(parent context.Context, d time.Time) *deadlineContext {
	if pd, ok := parent.Deadline(); ok && pd.Before(d) {
		d = pd
	}
	return &deadlineContext{Context: parent, deadline: d}
}

func (c *deadlineContext) Deadline() (time.Time, bool) { return c.deadline, true }

// waited returns the timer context, making it on first use; after release
// without one, an ended context.
func (c *deadlineContext) waited() context.Context {
	c.once.Do(func() {
		ctx, cancel := context.WithDeadline(c.Context, c.deadline)
		c.cancel = cancel
		c.timer.Store(&ctx)
	})
	if t := c.timer.Load(); t != nil {
		return *t
	}
	return released
}

var released = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

func (c *deadlineContext) Done() <-chan struct{} { return c.waited().Done() }

// AfterFunc is what package context calls, when it finds it, instead of
// starting a goroutine to watch Done: a context made from this one (the
// engine's, errgroup's) registers with the timer context.
func (c *deadlineContext) AfterFunc(f func()) (stop func() bool) {
	return context.AfterFunc(c.waited(), f)
}

func (c *deadlineContext) Err() error {
	if e := c.err.Load(); e != nil {
		return *e
	}
	var err error
	switch t := c.timer.Load(); {
	case t != nil:
		err = (*t).Err()
	case c.released.Load():
		err = context.Canceled
	default:
		if err = c.Context.Err(); err == nil && !time.Now().Before(c.deadline) {
			err = context.DeadlineExceeded
		}
	}
	if err == nil {
		return nil
	}
	c.err.CompareAndSwap(nil, &err)
	return *c.err.Load()
}

// release ends the context when its request ends, as the cancel function
// of context.WithDeadline does: it stops the timer if one was made.
func (c *deadlineContext) release() {
	c.released.Store(true)
	c.once.Do(func() {}) // no timer from now on
	if c.cancel != nil {
		c.cancel()
	}
}
