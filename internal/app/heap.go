package app

import (
	"math"
	"os"

	"go.uber.org/zap"

	"github.com/pdp-sidecar/pdp/internal/config"
	"github.com/pdp-sidecar/pdp/internal/gctune"
	"github.com/pdp-sidecar/pdp/internal/hugepages"
)

// Building a snapshot allocates about seven times its role data's size on
// disk (125 MiB for the 18 MiB of 100k users), and keeps most of it.
const (
	// buildFactor × the data's bytes bounds the heap a first build fills,
	// with room to spare: the huge page advice covers that much address
	// space (untouched, it costs nothing) ...
	buildFactor = 16
	// ... and the collector, held off during the build, runs near
	// buildSlack plus that much.
	buildSlack = 64 << 20
	// largeData is the least data worth either (4 MiB: a heap of about
	// 30 MiB). A smaller snapshot builds in milliseconds, and holding the
	// collector off only left its garbage in the idle RSS (+3 MiB with the
	// shipped data).
	largeData = 4 << 20
)

// prepareHeap readies the heap for the first build of a snapshot of data
// bytes of role data, when that is largeData or more: huge pages for what
// it fills (--huge-pages) and the collector held off until the returned
// done is called (see gctune.Defer; not with --gc-headroom 0 or
// GOGC set, which leave the collector alone), which also withdraws the
// advice.
func prepareHeap(cfg config.Config, data, containerLimit uint64, log *zap.Logger) (done func()) {
	if data < largeData {
		return func() {}
	}
	estimate := buildFactor * data
	var advice hugepages.Advice
	if cfg.HugePages {
		var err error
		// min against MaxInt32 first: an int may be 32 bits.
		if advice, err = hugepages.Advise(int(min(estimate, math.MaxInt32))); err != nil {
			log.Info("no huge pages for the heap", zap.Error(err))
		} else if advice.Size() > 0 {
			log.Debug("huge pages advised for the heap", zap.Int("bytes", advice.Size()))
		}
	}
	cycles := gctune.Cycles()
	resume := func() {}
	if cfg.GCHeadroomMiB > 0 {
		budget := buildSlack + estimate
		if containerLimit > 0 {
			budget = min(budget, containerLimit/10*9)
		}
		resume = gctune.Defer(budget, os.Getenv)
	}
	return func() {
		resume()
		log.Debug("first build done", zap.Uint64("collections", gctune.Cycles()-cycles))
		// Left in place, the advice lets the kernel refill whole huge pages
		// over memory the runtime has returned (see internal/hugepages).
		if err := advice.Withdraw(); err != nil {
			log.Warn("the huge page advice could not be withdrawn", zap.Error(err))
		} else if advice.Size() > 0 {
			log.Debug("huge page advice withdrawn", zap.Int("bytes", advice.Size()))
		}
	}
}
