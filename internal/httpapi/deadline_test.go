package httpapi

import (
	"context"
	"errors"
	"testing"
	"time"
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
