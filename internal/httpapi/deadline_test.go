package httpapi

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

func TestDeadlineContextErrWithoutTimer(t *testing.T) {
	ctx := withDeadline(context.Background(), time.Now().Add(30*time.Millisecond))
	defer ctx.release()
	if err := ctx.Err(); err != nil {
		t.Fatalf("Err before the deadline = %v, want nil", err)
	}
	time.Sleep(40 * time.Millisecond)
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err after the deadline = %v, want DeadlineExceeded", err)
	}
	select {
	case <-ctx.Done(): // a late Done is closed at once, and Err agrees
	case <-time.After(time.Second):
		t.Fatal("Done after the deadline is not closed")
	}
	if ctx.timer.Load() == nil {
		t.Fatal("Done did not start the timer context")
	}
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err = %v, want DeadlineExceeded", err)
	}
}

func TestDeadlineContextDoneCloses(t *testing.T) {
	ctx := withDeadline(context.Background(), time.Now().Add(20*time.Millisecond))
	defer ctx.release()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after the deadline")
	}
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err = %v, want DeadlineExceeded", err)
	}
}

func TestDeadlineContextParent(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	ctx := withDeadline(parent, time.Now().Add(time.Hour))
	defer ctx.release()
	cancel()
	if err := ctx.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err after the parent's cancel = %v, want Canceled", err)
	}

	// An earlier deadline of the parent is the context's.
	early := time.Now().Add(time.Minute)
	p2, cancel2 := context.WithDeadline(context.Background(), early)
	defer cancel2()
	if d, ok := withDeadline(p2, time.Now().Add(time.Hour)).Deadline(); !ok || !d.Equal(early) {
		t.Fatalf("Deadline = %v, %v; want the parent's %v", d, ok, early)
	}

	// A waiter sees the parent's cancel.
	p3, cancel3 := context.WithCancel(context.Background())
	ctx3 := withDeadline(p3, time.Now().Add(time.Hour))
	defer ctx3.release()
	done := ctx3.Done()
	cancel3()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed by the parent's cancel")
	}
}

func TestDeadlineContextRelease(t *testing.T) {
	for _, waited := range []bool{false, true} {
		ctx := withDeadline(context.Background(), time.Now().Add(time.Hour))
		if waited {
			ctx.Done()
		}
		ctx.release()
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("waited=%v: Done not closed after release", waited)
		}
		if err := ctx.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("waited=%v: Err after release = %v, want Canceled", waited, err)
		}
	}
}

// context.Context: "After Err returns a non-nil error, successive calls to
// Err return the same error", whatever ends the context afterwards.
func TestDeadlineContextErrIsSticky(t *testing.T) {
	for _, end := range []string{"parent cancel", "release", "Done after parent cancel"} {
		parent, cancel := context.WithCancel(context.Background())
		ctx := withDeadline(parent, time.Now().Add(5*time.Millisecond))
		time.Sleep(10 * time.Millisecond)
		if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: Err after the deadline = %v, want DeadlineExceeded", end, err)
		}
		switch end {
		case "parent cancel":
			cancel()
		case "release":
			ctx.release()
		case "Done after parent cancel":
			cancel()
			<-ctx.Done()
		}
		if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: Err = %v after it said DeadlineExceeded", end, err)
		}
		cancel()
		ctx.release()
	}
}

// Done, Err, release and derived contexts from several goroutines (-race).
func TestDeadlineContextConcurrent(t *testing.T) {
	for i := range 200 {
		ctx := withDeadline(context.Background(), time.Now().Add(time.Duration(i%3)*time.Millisecond))
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() { _ = ctx.Err(); <-ctx.Done(); _ = ctx.Err(); _ = context.Cause(ctx) })
		}
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { <-gctx.Done(); return nil })
		stop := context.AfterFunc(ctx, func() {})
		wg.Go(func() { time.Sleep(time.Millisecond); ctx.release() })
		wg.Wait()
		_ = g.Wait()
		stop()
		if ctx.Err() == nil {
			t.Fatal("Err nil after Done closed")
		}
	}
}

// A context made from the deadline context ends with it, through its
// AfterFunc (no goroutine watching Done), and context.AfterFunc runs.
func TestDeadlineContextChildren(t *testing.T) {
	ctx := withDeadline(context.Background(), time.Now().Add(20*time.Millisecond))
	defer ctx.release()
	child, cancel := context.WithCancel(ctx)
	defer cancel()
	ran := make(chan struct{})
	context.AfterFunc(ctx, func() { close(ran) })
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a child context did not end at the deadline")
	}
	if !errors.Is(child.Err(), context.DeadlineExceeded) {
		t.Fatalf("child Err = %v, want DeadlineExceeded", child.Err())
	}
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("context.AfterFunc did not run at the deadline")
	}
}
