package app

import (
	"math"
	"runtime/debug"

	"go.uber.org/zap"

	"github.com/pdp-sidecar/pdp/internal/config"
	"github.com/pdp-sidecar/pdp/internal/gctune"
	"github.com/pdp-sidecar/pdp/internal/hugepages"
)

// Building a snapshot allocates about five times its role data's size on
// disk (88 MiB for the 18 MiB of 100k users, the files' bytes included),
// and keeps about as much as the data's size (its compact store); with
// --evaluator topdown, the data's AST besides, about nine times.
const (
	// buildFactor × the data's bytes bounds the heap a first build fills
	// (a compact one), with a little room to spare: the huge page advice
	// covers that much address space (untouched, it costs nothing) ...
	buildFactor = 6
	// ... and the collector, held off during the build, runs near
	// buildSlack plus that much (so a topdown build, which builds the AST
	// besides, is collected as it goes: its peak at 100k users was 213 MiB
	// with 16 × the data, 180 with 6).
	buildSlack = 64 << 20
	// largeData is the least data worth either (4 MiB: a heap of about
	// 30 MiB). A smaller snapshot builds in milliseconds, and holding the
	// collector off only left its garbage in the idle RSS (+3 MiB with the
	// shipped data).
	largeData = 4 << 20
)

// firstBuild is the heap readied for the first build (prepareHeap).
type firstBuild struct {
	log     *zap.Logger
	advice  hugepages.Advice
	resume  func() // gc.Defer's, or gc.Tune when not held off
	heldOff bool
	cycles  uint64 // collections before the build
}

// prepareHeap readies the heap for the first build of a snapshot of data
// bytes of role data, when that is largeData or more, before the files are
// read: huge pages for what reading and building fill (--huge-pages), until
// built is called, and the collector held off (gc.Defer; not with
// --gc-headroom 0 or GOGC set, which leave the collector alone) until
// settle. gc is not tuning yet: settle starts it.
func prepareHeap(cfg config.Config, data, containerLimit uint64, gc *gctune.Tuner, log *zap.Logger) *firstBuild {
	b := &firstBuild{log: log, resume: gc.Tune}
	if data < largeData {
		b.cycles = gctune.Cycles()
		return b
	}
	estimate := buildFactor * data
	if cfg.HugePages {
		var err error
		// min against MaxInt32 first: an int may be 32 bits.
		if b.advice, err = hugepages.Advise(int(min(estimate, math.MaxInt32))); err != nil {
			log.Info("no huge pages for the heap", zap.Error(err))
		} else if b.advice.Size() > 0 {
			log.Debug("huge pages advised for the heap", zap.Int("bytes", b.advice.Size()))
		}
	}
	budget := buildSlack + estimate
	if containerLimit > 0 {
		budget = min(budget, containerLimit/10*9)
	}
	b.resume, b.heldOff = gc.Defer(budget), gc.State().HeldOff
	b.cycles = gctune.Cycles() // after the advice, whose collections do not count
	return b
}

// built ends the huge page advice (whether the build succeeded or not):
// left in place, it lets the kernel refill whole huge pages over memory the
// runtime has returned (see internal/hugepages).
func (b *firstBuild) built() {
	b.log.Debug("first build done", zap.Uint64("collections", gctune.Cycles()-b.cycles))
	if err := b.advice.Withdraw(); err != nil {
		b.log.Warn("the huge page advice could not be withdrawn", zap.Error(err))
	} else if b.advice.Size() > 0 {
		b.log.Debug("huge page advice withdrawn", zap.Int("bytes", b.advice.Size()))
	}
}

// settle collects what the first build left (the files' bytes, each
// file's own store, the policies' parse) and returns the memory to the OS,
// so that a sidecar's RSS is what it holds, then starts the tuner. Run
// calls it once serving.
//
// With the collector held off, that collection marks the whole snapshot,
// and the collector is given back to the tuner only after it, tuned from
// the live heap it found. Given back before, the collector, tuned from a
// live heap measured before the build, would start at once and have every
// allocation assist it in marking the snapshot (at 100k users, tens of
// milliseconds more to be ready), and the forced collection would then
// mark it all again.
func (b *firstBuild) settle() {
	debug.FreeOSMemory()
	b.resume()
	if b.heldOff {
		b.log.Debug("first build settled", zap.Uint64("live_heap_bytes", gctune.LiveHeap()))
	}
}
