package gctune_test

import (
	"errors"
	"io/fs"
	"math"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/pdp-sidecar/pdp/internal/gctune"
)

const mib = 1 << 20

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live, scan, headroom uint64
		want                 int
	}{
		{live: 16 * mib, scan: 8 * mib, headroom: 64 * mib, want: 400},
		{live: 20 * mib, scan: 8 * mib, headroom: 64 * mib, want: 320},
		{live: 21 * mib, scan: 8 * mib, headroom: 64 * mib, want: 305}, // rounded up: at least the headroom
		{live: 64 * mib, scan: 64 * mib, headroom: 64 * mib, want: 100},
		// A heap of pointers grows by what a collection scans: Go's default.
		{live: 200 * mib, scan: 200 * mib, headroom: 64 * mib, want: 100},
		{live: 200 * mib, scan: 150 * mib, headroom: 64 * mib, want: 75},
		// Pointer-free bulk (the compact role data) is not scanned: the
		// heap grows by the headroom, not by as much again.
		{live: 28 * mib, scan: 9 * mib, headroom: 16 * mib, want: 58},
		{live: 28 * mib, scan: 20 * mib, headroom: 16 * mib, want: 72}, // by the scan, above the headroom
		{live: 1 << 40, scan: 1 * mib, headroom: 16 * mib, want: gctune.MinPercent},
		{live: 1, scan: 0, headroom: 64 * mib, want: 1600}, // counted as 4 MiB: the runtime's minimum goal
		{live: 0, scan: 0, headroom: 64 * mib, want: 1600},
		{live: 4 * mib, scan: 1 * mib, headroom: 1 << 40, want: gctune.MaxPercent},
		{live: 16 * mib, scan: 16 * mib, headroom: 0, want: 100},
	} {
		if got := gctune.Percent(c.live, c.scan, c.headroom); got != c.want {
			t.Errorf("Percent(%d, %d, %d) = %d, want %d", c.live, c.scan, c.headroom, got, c.want)
		}
	}
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// setGC sets the collector's percentage and, unless limit is -1, its soft
// memory limit, and restores both when the test ends.
func setGC(t *testing.T, percent int, limit int64) {
	t.Helper()
	old := debug.SetGCPercent(percent)
	oldLimit := debug.SetMemoryLimit(limit) // -1 only reads it
	t.Cleanup(func() {
		debug.SetGCPercent(old)
		debug.SetMemoryLimit(oldLimit)
	})
}

// gcPercent reads the runtime's percentage (SetGCPercent returns it).
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// collectTuned collects until the tuner has adjusted after a collection
// and returns its state. The finalizer runs after a collection, on its own
// goroutine: bounded, with no timing assertion.
func collectTuned(t *testing.T, tu *gctune.Tuner) gctune.State {
	t.Helper()
	before := tu.State().Collections
	for i := 0; i < 100 && tu.State().Collections == before; i++ {
		runtime.GC()
		runtime.Gosched()
	}
	st := tu.State()
	if st.Collections == before {
		t.Fatal("the tuner saw no collection")
	}
	return st
}

// TestTunerFollowsTheLiveHeap grows the live heap and checks that the
// percentage follows it collection by collection, then that Stop restores
// the percentage it found.
func TestTunerFollowsTheLiveHeap(t *testing.T) {
	setGC(t, 123, -1)
	tu := gctune.Start(256*mib, env(nil), 0)
	t.Cleanup(tu.Stop)
	var keep [][]byte
	var seen []int
	for step := range 4 {
		keep = append(keep, make([]byte, 16*mib)) // the live heap grows by 16 MiB a step
		st := collectTuned(t, tu)
		if st.LiveHeapBytes < uint64(len(keep))*16*mib {
			t.Fatalf("step %d: live heap %d bytes, want at least the %d MiB this test holds", step, st.LiveHeapBytes, len(keep)*16)
		}
		if want := gctune.Percent(st.LiveHeapBytes, st.ScanBytes, 256*mib); st.Percent != want {
			t.Fatalf("step %d: percent %d, want %d for a live heap of %d bytes", step, st.Percent, want, st.LiveHeapBytes)
		}
		if got := gcPercent(); got != st.Percent {
			t.Fatalf("step %d: the runtime's GC percent is %d, the tuner says %d", step, got, st.Percent)
		}
		seen = append(seen, st.Percent)
	}
	if seen[len(seen)-1] >= seen[0] {
		t.Errorf("percentages %v: want them to fall as the live heap grows", seen)
	}
	tu.Stop()
	if got := gcPercent(); got != 123 {
		t.Errorf("after Stop the GC percent is %d, want the 123 Start found", got)
	}
	runtime.KeepAlive(keep)
}

// TestTunerFloorIsTheScan holds a heap of pointer-free bytes and a smaller
// one of pointers, with a headroom below both: the percentage lets the heap
// grow by what a collection scans (the pointers), not by the whole live
// heap as Go's default would, nor by the small headroom alone.
func TestTunerFloorIsTheScan(t *testing.T) {
	setGC(t, 123, -1)
	tu := gctune.Start(1*mib, env(nil), 0)
	t.Cleanup(tu.Stop)
	bulk := make([]byte, 64*mib)     // pointer-free: marked, never read
	pointers := make([]*byte, 4*mib) // 32 MiB a collection reads
	st := collectTuned(t, tu)
	if st.ScanBytes < 32*mib || st.ScanBytes > st.LiveHeapBytes/2 {
		t.Fatalf("scan %d bytes of a live heap of %d: want the 32 MiB of pointers and not the 64 MiB of bytes", st.ScanBytes, st.LiveHeapBytes)
	}
	if want := gctune.Percent(st.LiveHeapBytes, st.ScanBytes, 1*mib); st.Percent != want {
		t.Fatalf("percent %d, want %d", st.Percent, want)
	}
	// About 100 × 32/96: above what the 1 MiB headroom needs, below
	// Go's default.
	if st.Percent < 25 || st.Percent >= 100 {
		t.Errorf("percent %d for a live heap of %d bytes, %d of them scanned: want the heap to grow by the scan", st.Percent, st.LiveHeapBytes, st.ScanBytes)
	}
	runtime.KeepAlive(bulk)
	runtime.KeepAlive(pointers)
}

func TestTunerLeavesExplicitSettingsAlone(t *testing.T) {
	setGC(t, 123, -1)
	for _, c := range []struct {
		name     string
		headroom uint64
		env      map[string]string
	}{
		{"GOGC set", 256 * mib, map[string]string{"GOGC": "50"}},
		{"headroom 0", 0, nil},
	} {
		tu := gctune.Start(c.headroom, env(c.env), 1<<30)
		runtime.GC()
		if st := tu.State(); st.Percent != 0 || st.Skipped == "" {
			t.Errorf("%s: state %+v, want it skipped", c.name, st)
		}
		if got := gcPercent(); got != 123 {
			t.Errorf("%s: GC percent changed to %d", c.name, got)
		}
		tu.Stop()
	}
}

func TestContainerMemoryLimit(t *testing.T) {
	const v2, v1 = "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"
	for _, c := range []struct {
		name  string
		files map[string]string
		want  uint64
	}{
		{"v2 limit", map[string]string{v2: "268435456\n", v1: "1"}, 256 * mib},
		{"v2 max", map[string]string{v2: "max\n"}, 0},
		{"v1 limit", map[string]string{v1: "536870912\n"}, 512 * mib},
		{"v1 unlimited", map[string]string{v1: "9223372036854771712\n"}, 0},
		{"none", nil, 0},
		{"garbage", map[string]string{v2: "lots"}, 0},
	} {
		read := func(path string) ([]byte, error) {
			if v, ok := c.files[path]; ok {
				return []byte(v), nil
			}
			return nil, fs.ErrNotExist
		}
		if got := gctune.ContainerMemoryLimit(read); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	failing := func(string) ([]byte, error) { return nil, errors.New("permission denied") }
	if got := gctune.ContainerMemoryLimit(failing); got != 0 {
		t.Errorf("unreadable: %d, want 0", got)
	}
}

// TestTunerSetsTheContainersMemoryLimit: 90% of the container's limit as
// Go's soft limit, unless GOMEMLIMIT is set; Stop restores the old one.
func TestTunerSetsTheContainersMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	tu := gctune.Start(64*mib, env(nil), 1000*mib)
	if got := debug.SetMemoryLimit(-1); got != 900*mib || tu.State().MemoryLimit != 900*mib {
		t.Errorf("memory limit %d (state %d), want 90%% of 1000 MiB", got, tu.State().MemoryLimit)
	}
	tu.Stop()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("after Stop the memory limit is %d, want %d", got, before)
	}
	tu = gctune.Start(64*mib, env(map[string]string{"GOMEMLIMIT": "2GiB"}), 1000*mib)
	if got := debug.SetMemoryLimit(-1); got != before || tu.State().MemoryLimit != 0 {
		t.Errorf("GOMEMLIMIT set: memory limit changed to %d", got)
	}
	tu.Stop()
	if before != math.MaxInt64 {
		t.Logf("the process started with a memory limit of %d", before)
	}
}

// TestDeferHoldsTheCollectorOff checks that Defer turns the collector off
// under its budget, and that resume restores the limit and tunes the
// percentage from the live heap a collection measured since.
func TestDeferHoldsTheCollectorOff(t *testing.T) {
	setGC(t, 123, 1<<40)
	tu := gctune.New(64*mib, env(nil), 0)
	t.Cleanup(tu.Stop)

	resume := tu.Defer(512 * mib)
	if p := gcPercent(); p != -1 {
		t.Errorf("percentage while deferred = %d, want -1 (off)", p)
	}
	if l := debug.SetMemoryLimit(-1); l != 512*mib {
		t.Errorf("memory limit while deferred = %d, want the budget %d", l, 512*mib)
	}
	if !tu.State().HeldOff {
		t.Error("State().HeldOff = false while deferred")
	}
	cycles := numGC()
	var garbage []byte
	for range 8 { // 64 MiB of garbage, far under the budget
		garbage = make([]byte, 8*mib)
	}
	_ = garbage
	if n := numGC() - cycles; n != 0 {
		t.Errorf("%d collections ran under the budget while deferred, want none", n)
	}
	keep := make([]byte, 96*mib) // live, pointer-free: the percentage for it is about 64
	runtime.GC()                 // as the sidecar collects before resume
	resume()
	runtime.KeepAlive(keep)
	if p, want := gcPercent(), gctune.Percent(gctune.LiveHeap(), gctune.Scannable(), 64*mib); p != want || p > 70 {
		t.Errorf("percentage after resume = %d, want %d: tuned from the live heap of about 100 MiB", p, want)
	}
	if l := debug.SetMemoryLimit(-1); l != 1<<40 {
		t.Errorf("memory limit after resume = %d, want %d", l, int64(1<<40))
	}
	if tu.State().HeldOff {
		t.Error("State().HeldOff = true after resume")
	}
	tu.Stop()
	if p := gcPercent(); p != 123 {
		t.Errorf("percentage after Stop = %d, want 123, the one before Defer", p)
	}
}

// TestDeferCollectsNearTheBudget checks that the collector still runs past
// the budget, and stays off.
func TestDeferCollectsNearTheBudget(t *testing.T) {
	setGC(t, 100, -1)
	tu := gctune.New(64*mib, env(nil), 0)
	t.Cleanup(tu.Stop)
	resume := tu.Defer(64 * mib)
	defer resume()
	cycles := numGC()
	var garbage []byte
	for range 32 { // 256 MiB of garbage against a 64 MiB budget
		garbage = make([]byte, 8*mib)
	}
	_ = garbage
	if numGC() == cycles {
		t.Error("no collection ran past the budget while deferred")
	}
	if p := gcPercent(); p != -1 {
		t.Errorf("percentage after collections near the budget = %d, want -1 until resume", p)
	}
}

// TestStopWhileDeferred checks that Stop restores what Defer found, and
// that neither a resume nor a Defer after it changes anything.
func TestStopWhileDeferred(t *testing.T) {
	setGC(t, 123, 1<<40)
	tu := gctune.New(64*mib, env(nil), 0)
	resume := tu.Defer(512 * mib)
	tu.Stop()
	if p, l := gcPercent(), debug.SetMemoryLimit(-1); p != 123 || l != 1<<40 {
		t.Errorf("after Stop while deferred: percentage %d, limit %d; want 123 and %d", p, l, int64(1<<40))
	}
	resume()
	if p, l := gcPercent(), debug.SetMemoryLimit(-1); p != 123 || l != 1<<40 {
		t.Errorf("resume after Stop: percentage %d, limit %d; want 123 and %d untouched", p, l, int64(1<<40))
	}
	tu.Defer(512 * mib)()
	if p := gcPercent(); p != 123 {
		t.Errorf("Defer after Stop: percentage %d, want 123 untouched", p)
	}
}

// TestDeferLeavesAnOperatorsGOGC checks that GOGC set or a headroom of 0
// leave the collector as it is, and that a zero budget only tunes.
func TestDeferLeavesAnOperatorsGOGC(t *testing.T) {
	setGC(t, 150, -1)
	for _, c := range []struct {
		headroom, budget uint64
		vars             map[string]string
		tuned            bool
	}{
		{headroom: 64 * mib, budget: 512 * mib, vars: map[string]string{"GOGC": "200"}},
		{headroom: 0, budget: 512 * mib},
		{headroom: 64 * mib, budget: 0, tuned: true},
	} {
		tu := gctune.New(c.headroom, env(c.vars), 0)
		resume := tu.Defer(c.budget)
		if p := gcPercent(); p != 150 || tu.State().HeldOff {
			t.Errorf("Defer(%d) with headroom %d, %v: percentage = %d, want 150 untouched", c.budget, c.headroom, c.vars, p)
		}
		resume()
		if tuned := tu.State().Percent != 0; tuned != c.tuned {
			t.Errorf("Defer(%d) with headroom %d, %v, then resume: tuned %v, want %v", c.budget, c.headroom, c.vars, tuned, c.tuned)
		} else if p := gcPercent(); !c.tuned && p != 150 {
			t.Errorf("Defer(%d) with headroom %d, %v, then resume: percentage = %d, want 150", c.budget, c.headroom, c.vars, p)
		}
		tu.Stop()
		if p := gcPercent(); p != 150 {
			t.Errorf("after Stop: percentage %d, want 150", p)
		}
	}
}

func numGC() uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.NumGC
}

// TestTuneWhileDeferred checks that Tune ends a hold as its resume would,
// that a second Defer while one holds changes nothing, and that Stop then
// restores what was there before either.
func TestTuneWhileDeferred(t *testing.T) {
	setGC(t, 123, 1<<40)
	tu := gctune.New(64*mib, env(nil), 0)
	resume := tu.Defer(512 * mib)
	again := tu.Defer(256 * mib)
	if l := debug.SetMemoryLimit(-1); l != 512*mib {
		t.Errorf("a second Defer while held moved the limit to %d, want %d", l, 512*mib)
	}
	again()
	if p := gcPercent(); p != -1 {
		t.Errorf("the second Defer's resume ended the hold: percentage %d", p)
	}
	tu.Tune()
	if p := gcPercent(); p == -1 || tu.State().HeldOff {
		t.Errorf("Tune while held: percentage %d, held off %v; want tuning", p, tu.State().HeldOff)
	}
	if l := debug.SetMemoryLimit(-1); l != 1<<40 {
		t.Errorf("Tune while held: limit %d, want %d restored", l, int64(1<<40))
	}
	resume() // late: changes nothing
	tu.Stop()
	if p, l := gcPercent(), debug.SetMemoryLimit(-1); p != 123 || l != 1<<40 {
		t.Errorf("after Stop: percentage %d, limit %d; want 123 and %d", p, l, int64(1<<40))
	}
}
