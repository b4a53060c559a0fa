// Package gctune keeps the garbage collector's heap goal at the live heap
// plus a fixed headroom.
//
// Go's default (GOGC=100) lets the heap grow by as much as is live before
// the next collection. A sidecar holding a small snapshot (a few MiB of
// role data) therefore collects every few hundred decisions (each
// allocates tens of KiB inside OPA), and at full load spends a large share
// of its CPU collecting. A Tuner instead guarantees a fixed number of
// bytes of growth: after every collection it sets the percentage from the
// live heap that collection found, so that live × percent/100 ≥ headroom.
// (The same idea as Uber's GOGC tuner.)
//
// Nor does it let the heap grow by less than the collector has to scan
// (the heap's objects that hold pointers, the stacks and the globals):
// what a collection costs is that scan, so growing by at least as much
// keeps the collector's work per allocated byte within what Go's default
// allows a heap made of pointers. Unlike Go's default, that floor does not
// count what holds no pointers: the compact role data (internal/docstore,
// 18 MiB at 100k users) is a few pointer-free slices that a collection
// marks without reading, and doubling the heap for it would only hold
// memory.
package gctune

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

const (
	// MinPercent is the least percentage set, whatever the heap.
	MinPercent = 10
	// MaxPercent bounds the percentage whatever the headroom.
	MaxPercent = 10000
	// minHeap is the runtime's minimum heap goal at GOGC=100.
	minHeap = 4 << 20
)

// Percent is the GOGC percentage that lets a heap of live bytes, scan of
// them scannable (see Scannable), grow by at least headroom bytes and at
// least scan bytes before the next collection, within [MinPercent,
// MaxPercent].
//
// A live heap under 4 MiB counts as 4 MiB: the runtime never lets the heap
// goal fall below 4 MiB × percent/100, so a larger percentage for a
// smaller heap would raise the goal past live + headroom.
func Percent(live, scan, headroom uint64) int {
	live = max(live, minHeap)
	grow := max(headroom, scan)
	p := (grow*100 + live - 1) / live // ceil(grow*100/live)
	switch {
	case p < MinPercent:
		return MinPercent
	case p > MaxPercent:
		return MaxPercent
	}
	return int(p)
}

// LiveHeap is the heap the last collection found reachable, in bytes.
func LiveHeap() uint64 { return runtimeMetric("/gc/heap/live:bytes") }

// Scannable is what a collection reads, in bytes: the heap's objects that
// may hold pointers, the stacks and the globals.
func Scannable() uint64 { return runtimeMetric("/gc/scan/total:bytes") }

// Cycles is the number of collections so far.
func Cycles() uint64 { return runtimeMetric("/gc/cycles/total:gc-cycles") }

// runtimeMetric reads one of the runtime's counters (0 if it has none).
func runtimeMetric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// Tuner sets the GOGC percentage after every collection. Create it with
// New or Start; the zero value is not usable.
type Tuner struct {
	headroom uint64
	skipped  string
	memLimit int64 // the soft memory limit Tune sets (0: none)
	percent  atomic.Int64
	live     atomic.Uint64
	scan     atomic.Uint64
	cycles   atomic.Uint64

	mu             sync.Mutex // guards what follows
	stopped        bool       // by Stop
	tuning         bool       // since Tune
	previous       int        // the percentage before Tune, restored by Stop
	previousLimit  int64      // the limit before Tune, restored by Stop
	heldOff        bool       // by Defer, until its resume
	limitHeldOff   int64      // the limit before Defer, restored by its resume or Stop
	percentHeldOff int        // the percentage before Defer, likewise
}

// Start tunes the collector from now on: New, then Tune.
func Start(headroom uint64, getenv func(string) string, containerLimit uint64) *Tuner {
	t := New(headroom, getenv, containerLimit)
	t.Tune()
	return t
}

// New returns a tuner that does nothing until Tune (or Defer's resume). It
// leaves the collector alone (and says why in State) when headroom is 0 or
// the GOGC environment variable is set (getenv looks it up): an operator's
// setting wins.
//
// containerLimit is the memory limit of the container (ContainerMemoryLimit;
// 0: none). When there is one and GOMEMLIMIT is not set, Tune also sets
// Go's soft memory limit to 90% of it, so that the headroom never carries
// the heap into the container's limit: near it, the collector runs as
// often as it must.
func New(headroom uint64, getenv func(string) string, containerLimit uint64) *Tuner {
	t := &Tuner{headroom: headroom}
	switch {
	case headroom == 0:
		t.skipped = "headroom 0"
	case getenv("GOGC") != "":
		t.skipped = "GOGC is set"
	}
	if t.skipped == "" && containerLimit > 0 && getenv("GOMEMLIMIT") == "" {
		t.memLimit = int64(min(containerLimit/10*9, math.MaxInt64))
	}
	return t
}

// Tune starts tuning (once; not after Stop). It ends Defer's hold, if one
// is on, as its resume would.
func (t *Tuner) Tune() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.release()
	t.tune()
}

func (t *Tuner) tune() {
	if t.skipped != "" || t.stopped || t.tuning {
		return
	}
	t.tuning = true
	t.previous = debug.SetGCPercent(MinPercent)
	debug.SetGCPercent(t.previous)
	if t.memLimit > 0 {
		t.previousLimit = debug.SetMemoryLimit(t.memLimit)
	}
	if LiveHeap() == 0 {
		runtime.GC() // nothing measured yet
	}
	t.adjust()
	t.arm()
}

// sentinel is garbage the moment it is made; its finalizer runs after the
// collection that found it unreachable, so once per collection.
type sentinel struct{ t *Tuner }

func (t *Tuner) arm() {
	runtime.SetFinalizer(&sentinel{t: t}, func(s *sentinel) {
		s.t.mu.Lock() // so that no adjustment follows Stop's restore
		defer s.t.mu.Unlock()
		if s.t.stopped {
			return
		}
		s.t.adjust()
		s.t.cycles.Add(1) // after adjust: a reader who saw the count sees its result
		s.t.arm()
	})
}

func (t *Tuner) adjust() {
	live, scan := LiveHeap(), Scannable()
	t.live.Store(live)
	t.scan.Store(scan)
	p := Percent(live, scan, t.headroom)
	if int64(p) != t.percent.Load() {
		t.percent.Store(int64(p))
		debug.SetGCPercent(p)
	}
}

// Stop ends the tuning, or Defer's hold, and restores the percentage and
// the limit they found.
func (t *Tuner) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.stopped = true
	t.release()
	if !t.tuning {
		return
	}
	debug.SetGCPercent(t.previous)
	if t.memLimit > 0 {
		debug.SetMemoryLimit(t.previousLimit)
	}
}

// ContainerMemoryLimit is the memory limit of the cgroup this process runs
// in, in bytes, read with read (os.ReadFile): cgroup v2's memory.max, else
// cgroup v1's memory.limit_in_bytes; 0 when there is none ("max", or v1's
// near-2^63 "unlimited") or it cannot be read.
func ContainerMemoryLimit(read func(string) ([]byte, error)) uint64 {
	for _, path := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := read(path)
		if err != nil {
			continue
		}
		v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || v >= 1<<62 {
			return 0 // "max", unlimited or unreadable
		}
		return v
	}
	return 0
}

// State is what the tuner did, for /v1/status.
type State struct {
	HeadroomBytes uint64 `json:"headroom_bytes"`
	Percent       int    `json:"percent,omitempty"`            // the GOGC percentage set last
	LiveHeapBytes uint64 `json:"live_heap_bytes,omitempty"`    // found by the last collection
	ScanBytes     uint64 `json:"scan_bytes,omitempty"`         // what a collection reads (Scannable), then
	Collections   uint64 `json:"collections_tuned"`            // collections since Tune
	MemoryLimit   int64  `json:"memory_limit_bytes,omitempty"` // the soft limit set from the container's (once tuning)
	Skipped       string `json:"skipped,omitempty"`            // why it leaves the collector alone
	HeldOff       bool   `json:"held_off,omitempty"`           // by Defer: the first build is on
}

// State reports the tuner's last adjustment.
func (t *Tuner) State() State {
	t.mu.Lock()
	heldOff, limit := t.heldOff, t.memLimit
	if !t.tuning || t.stopped {
		limit = 0
	}
	t.mu.Unlock()
	return State{
		HeadroomBytes: t.headroom,
		Percent:       int(t.percent.Load()),
		LiveHeapBytes: t.live.Load(),
		ScanBytes:     t.scan.Load(),
		Collections:   t.cycles.Load(),
		MemoryLimit:   limit,
		Skipped:       t.skipped,
		HeldOff:       heldOff,
	}
}

// Defer holds the collector off until resume is called, except near a soft
// memory limit of budget bytes (or the limit already set, if lower), where
// it runs as often as it must. It is for building the first snapshot:
// a build keeps most of what it allocates, so collections during it only
// mark the growing snapshot again and again (at 100k users that was half
// of the build's time, on two cores) and reclaim little.
//
// Call it before Tune. resume restores the percentage and the limit Defer
// found, then tunes (Tune) from the live heap the last collection found:
// so call it after a collection that ran since the build (runtime.GC,
// debug.FreeOSMemory). Tuned from the live heap measured before the build,
// the collector would start at once, with the mutator assisting it, to
// mark the whole new snapshot. Defer holds nothing, and resume only tunes,
// when budget is 0, the tuner leaves the collector alone (headroom 0, GOGC
// set) or it already tunes; resume does nothing when a hold is already on
// (the first Defer's resume ends it).
func (t *Tuner) Defer(budget uint64) (resume func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.heldOff {
		return func() {}
	}
	if budget == 0 || t.skipped != "" || t.stopped || t.tuning {
		return t.Tune
	}
	t.heldOff = true
	t.limitHeldOff = debug.SetMemoryLimit(-1) // -1 reads it
	debug.SetMemoryLimit(min(t.limitHeldOff, int64(min(budget, math.MaxInt64))))
	t.percentHeldOff = debug.SetGCPercent(-1)
	return t.Tune // which ends the hold
}

// release ends Defer's hold (if it holds).
func (t *Tuner) release() {
	if t.heldOff {
		t.heldOff = false
		debug.SetMemoryLimit(t.limitHeldOff)
		debug.SetGCPercent(t.percentHeldOff)
	}
}
