// Package reload replaces the engine's snapshot when the policies or data
// change: it builds a complete new snapshot aside and swaps it in only when
// everything succeeded; otherwise the last good snapshot keeps serving and
// the failure is logged once, counted and shown in the status.
package reload

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/pdp-sidecar/pdp/internal/engine"
	"github.com/pdp-sidecar/pdp/internal/policy"
)

// Outcomes of one reload attempt, as passed to Deps.OnReload.
const (
	// OutcomeOK: a new snapshot was built and now serves.
	OutcomeOK = "ok"
	// OutcomeUnchanged: the files are byte-identical to the serving
	// snapshot (same revision), so nothing was swapped. Status counts it
	// as ok: the files on disk are what is served.
	OutcomeUnchanged = "unchanged"
	// OutcomeFailed: the new files were rejected; the previous snapshot
	// keeps serving.
	OutcomeFailed = "failed"
)

// DefaultTestTimeout bounds each Rego test run by the RequireTests gate.
const DefaultTestTimeout = 5 * time.Second

// Deps is what a Reloader needs.
type Deps struct {
	Sources policy.Sources
	Engine  *engine.Engine
	Log     *zap.Logger // named "reload" by New
	// RequireTests accepts a new snapshot only when the *_test.rego tests
	// beside the policies pass against it.
	RequireTests bool
	TestTimeout  time.Duration // per test; DefaultTestTimeout when zero
	// KeepAST builds snapshots whose role data is held as OPA's AST
	// rather than a compact store (see policy.Rebuild), for OPA's
	// evaluator deciding every request (--evaluator topdown).
	KeepAST bool
	// OnReload, when set, is called after every attempt with its outcome
	// and the snapshot serving afterwards (the new one on OutcomeOK, the
	// unchanged one otherwise), e.g. to feed metrics. It runs on the
	// reloading goroutine and must be quick.
	OnReload func(outcome string, snap *policy.Snapshot)
}

// Reloader rebuilds and swaps snapshots. Reloads are serialised: one build
// at a time. Trigger and Run coalesce requests, so changes that arrive
// during a build cause exactly one more build after it. All methods are safe
// for concurrent use.
type Reloader struct {
	d       Deps
	log     *zap.Logger
	mu      sync.Mutex // held for a whole reload
	status  statusBox
	trigger chan struct{} // Trigger's pending request (capacity 1)
}

// New returns a Reloader for d. It does not build anything until asked.
func New(d Deps) *Reloader {
	if d.TestTimeout <= 0 {
		d.TestTimeout = DefaultTestTimeout
	}
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	return &Reloader{d: d, log: d.Log.Named("reload"), trigger: make(chan struct{}, 1)}
}

// Status returns the reload counters and the last attempt's outcome.
func (r *Reloader) Status() Status { return r.status.get() }

// Trigger asks Run for a reload without waiting for it (SIGHUP). Requests
// made while one is pending are merged into it.
func (r *Reloader) Trigger() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Run reloads on each signal on changes (a watcher's) or Trigger call,
// until ctx is done. Signals pending on both when a build starts are taken
// together: the build reads the files after all of them. It returns nil.
func (r *Reloader) Run(ctx context.Context, changes <-chan struct{}) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changes:
		case <-r.trigger:
		}
		select {
		case <-changes:
		default:
		}
		select {
		case <-r.trigger:
		default:
		}
		_ = r.Reload(ctx) // the outcome is logged and recorded
	}
}

// Reload builds a snapshot from the sources now and swaps it in when it is
// complete and valid (and its tests pass, with RequireTests). It returns the
// reason a new snapshot was rejected, nil when it now serves or the files
// did not change. It waits for a reload already running.
func (r *Reloader) Reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	cur := r.d.Engine.Snapshot()
	serving := ""
	if cur != nil {
		serving = cur.Revision
	}
	snap, err := r.build(ctx, serving)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // shutting down: not a failed reload
		}
		// Log before recording: whoever sees the failure in /status finds
		// its line in the log too.
		fields := []zap.Field{zap.Error(err), zap.Duration("took", time.Since(start))}
		if cur != nil {
			fields = append(fields, zap.String("serving", cur.Revision))
		}
		r.log.Warn("reload failed; the last good snapshot keeps serving", fields...)
		r.status.record(Outcome{At: time.Now().UTC(), OK: false, Error: err.Error()})
		r.notify(OutcomeFailed, cur)
		return err
	}
	r.status.record(Outcome{At: time.Now().UTC(), OK: true})
	if snap == nil {
		r.log.Debug("reload: files unchanged", zap.String("revision", serving), zap.Duration("took", time.Since(start)))
		r.notify(OutcomeUnchanged, cur)
		return nil
	}
	r.d.Engine.Swap(snap)
	fields := []zap.Field{zap.String("revision", snap.Revision), zap.Duration("took", time.Since(start)),
		zap.Int("policies", len(snap.PolicyFiles)), zap.Int("data", len(snap.DataFiles))}
	if cur != nil {
		fields = append(fields, zap.String("previous", cur.Revision))
	}
	r.log.Info("reloaded", fields...)
	r.notify(OutcomeOK, snap)
	return nil
}

// build returns a complete new snapshot, or why there is none; nil and no
// error when the files are those of the revision serving.
func (r *Reloader) build(ctx context.Context, serving string) (*policy.Snapshot, error) {
	snap, err := policy.Rebuild(ctx, r.d.Sources, serving, r.d.KeepAST)
	if err != nil || snap == nil {
		return nil, err
	}
	if !r.d.RequireTests {
		return snap, nil
	}
	rep, err := snap.RunTests(ctx, r.d.TestTimeout)
	if err != nil {
		return nil, fmt.Errorf("run Rego tests: %w", err)
	}
	if err := rep.Err(); err != nil {
		return nil, fmt.Errorf("rejected by --reload-require-tests: %w", err)
	}
	if len(snap.TestFiles) == 0 {
		r.log.Warn("reload: --reload-require-tests is set but the policies have no *_test.rego tests")
	}
	return snap, nil
}

func (r *Reloader) notify(outcome string, snap *policy.Snapshot) {
	if r.d.OnReload != nil {
		r.d.OnReload(outcome, snap)
	}
}
