package test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pdp-sidecar/pdp/internal/engine"
	"github.com/pdp-sidecar/pdp/internal/policy"
)

// TestCompactChangesNoDecision decides the mix on a snapshot that serves
// from its data's AST (as the first build does until it settles), while
// another goroutine compacts it, and again once compacted, with both
// evaluators: every decision is the recorded one. Under -race it also
// checks that Compact is safe beside evaluations.
func TestCompactChangesNoDecision(t *testing.T) {
	want := readMix(t, mixFile)
	reqs := mixRequests()
	policyFiles, dataFiles, err := policy.Read(sourcesOn(t, mixData()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, ev := range []engine.Evaluator{engine.VM, engine.Topdown} {
		snap, err := policy.BuildFilesUncompacted(ctx, policyFiles, dataFiles)
		if err != nil {
			t.Fatal(err)
		}
		eng := engine.New(10*time.Second, 0, ev)
		eng.Swap(snap)
		decide := func(from, to int) {
			for i := from; i < to; i++ {
				d, _, err := eng.Evaluate(ctx, reqs[i])
				if err != nil || d.Err != nil {
					t.Errorf("%s: request %d: %v %v", ev, i, err, d.Err)
					return
				}
				if d.Allow != want[i].Allow || !slices.Equal(d.Reasons, want[i].Reasons) {
					t.Errorf("%s: request %d: %v %q, recorded %v %q", ev, i, d.Allow, d.Reasons, want[i].Allow, want[i].Reasons)
				}
			}
		}
		n := len(reqs)
		if ev == engine.Topdown {
			n = min(n, 1500) // OPA's evaluator is ten times slower
		}
		var wg sync.WaitGroup
		wg.Go(func() { decide(0, n/2) })
		wg.Go(func() {
			if err := snap.Compact(); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		decide(n/2, n)
	}
}
