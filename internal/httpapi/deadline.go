package httpapi

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// deadlineContext is context.WithDeadline without its timer until somebody
// waits on Done. A single decision only asks Err and Deadline, so most
// requests never start a timer (one per request was 3% of pdp's CPU under
// load). Err answers as the timer context would: the parent's error, else
// DeadlineExceeded once the deadline has passed. Once Done is called, a
// real context.WithDeadline takes over and answers everything.
type deadlineContext struct {
	context.Context // the parent
	deadline        time.Time

	once     sync.Once
	timer    atomic.Pointer[context.Context] // set by the first Done
	cancel   context.CancelFunc
	released atomic.Bool // the request is over: cancelled from now on
}

func withDeadline(parent context.Context, d time.Time) *deadlineContext {
	if pd, ok := parent.Deadline(); ok && pd.Before(d) {
		d = pd
	}
	return &deadlineContext{Context: parent, deadline: d}
}

func (c *deadlineContext) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *deadlineContext) Done() <-chan struct{} {
	c.once.Do(func() {
		ctx, cancel := context.WithDeadline(c.Context, c.deadline)
		c.cancel = cancel
		c.timer.Store(&ctx)
	})
	if t := c.timer.Load(); t != nil {
		return (*t).Done()
	}
	return closed // released before anybody waited
}

var closed = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

func (c *deadlineContext) Err() error {
	if t := c.timer.Load(); t != nil {
		return (*t).Err()
	}
	if c.released.Load() {
		return context.Canceled
	}
	if err := c.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// release ends the context when its request ends, as the cancel function
// of context.WithDeadline does: it stops the timer if Done started one.
func (c *deadlineContext) release() {
	c.released.Store(true)
	c.once.Do(func() {}) // no timer from now on
	if c.cancel != nil {
		c.cancel()
	}
}
