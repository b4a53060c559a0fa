package app

import (
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
	// hugePagesMax bounds the address space advised.
	hugePagesMax = 4 << 30
)

// prepareHeap readies the heap for the first build of a snapshot of data
// bytes of role data, when that is largeData or more: huge pages for what
// it fills (--huge-pages) and the collector held off until the returned
// resume is called (see gctune.Defer; not with --gc-headroom 0 or GOGC
// set, which leave the collector alone).
func prepareHeap(cfg config.Config, data, containerLimit uint64, log *zap.Logger) (resume func()) {
	if data < largeData {
		return func() {}
	}
	estimate := buildFactor * data
	if cfg.HugePages {
		n, err := hugepages.Advise(int(min(estimate, hugePagesMax)))
		if err != nil {
			log.Warn("no huge pages for the heap", zap.Error(err))
		} else if n > 0 {
			log.Debug("huge pages advised for the heap", zap.Int("bytes", n))
		}
	}
	if cfg.GCHeadroomMiB == 0 {
		return func() {}
	}
	budget := buildSlack + estimate
	if containerLimit > 0 {
		budget = min(budget, containerLimit/10*9)
	}
	return gctune.Defer(budget, os.Getenv)
}
