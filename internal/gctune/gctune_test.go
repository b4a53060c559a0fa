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
		live, headroom uint64
		want           int
	}{
		{live: 16 * mib, headroom: 64 * mib, want: 400},
		{live: 20 * mib, headroom: 64 * mib, want: 320},
		{live: 21 * mib, headroom: 64 * mib, want: 305}, // rounded up: at least the headroom
		{live: 64 * mib, headroom: 64 * mib, want: 100},
		{live: 200 * mib, headroom: 64 * mib, want: gctune.MinPercent}, // never below Go's default
		{live: 1, headroom: 64 * mib, want: 1600},                      // counted as 4 MiB: the runtime's minimum goal
		{live: 0, headroom: 64 * mib, want: 1600},
		{live: 4 * mib, headroom: 1 << 40, want: gctune.MaxPercent},
		{live: 16 * mib, headroom: 0, want: gctune.MinPercent},
	} {
		if got := gctune.Percent(c.live, c.headroom); got != c.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", c.live, c.headroom, got, c.want)
		}
	}
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// gcPercent reads the runtime's percentage (SetGCPercent returns it).
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestTunerFollowsTheLiveHeap grows the live heap and checks that the
// percentage follows it collection by collection, then that Stop restores
// the percentage it found.
func TestTunerFollowsTheLiveHeap(t *testing.T) {
	old := debug.SetGCPercent(123)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	tu := gctune.Start(256*mib, env(nil), 0)
	t.Cleanup(tu.Stop)
	var keep [][]byte
	var seen []int
	for step := range 4 {
		keep = append(keep, make([]byte, 16*mib)) // the live heap grows by 16 MiB a step
		before := tu.State().Collections
		// The finalizer runs after a collection, on its own goroutine:
		// collect until it has run (bounded; no timing assertion).
		for i := 0; i < 100 && tu.State().Collections == before; i++ {
			runtime.GC()
			runtime.Gosched()
		}
		st := tu.State()
		if st.Collections == before {
			t.Fatalf("step %d: the tuner saw no collection", step)
		}
		if st.LiveHeapBytes < uint64(len(keep))*16*mib {
			t.Fatalf("step %d: live heap %d bytes, want at least the %d MiB this test holds", step, st.LiveHeapBytes, len(keep)*16)
		}
		if want := gctune.Percent(st.LiveHeapBytes, 256*mib); st.Percent != want {
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

func TestTunerLeavesExplicitSettingsAlone(t *testing.T) {
	old := debug.SetGCPercent(123)
	t.Cleanup(func() { debug.SetGCPercent(old) })
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

// TestDeferHoldsTheCollectorOff checks that no collection runs while a
// deferral lasts and the heap stays under its budget, that one runs near
// the budget, and that resume restores the percentage and the limit.
func TestDeferHoldsTheCollectorOff(t *testing.T) {
	old := debug.SetGCPercent(123)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	oldLimit := debug.SetMemoryLimit(1 << 40)
	t.Cleanup(func() { debug.SetMemoryLimit(oldLimit) })
	runtime.GC()

	resume := gctune.Defer(512*mib, env(nil))
	if p := gcPercent(); p != -1 {
		t.Errorf("percentage while deferred = %d, want -1 (off)", p)
	}
	if l := debug.SetMemoryLimit(-1); l != 512*mib {
		t.Errorf("memory limit while deferred = %d, want the budget %d", l, 512*mib)
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
	resume()
	if p := gcPercent(); p != 123 {
		t.Errorf("percentage after resume = %d, want 123 (the one Defer found)", p)
	}
	if l := debug.SetMemoryLimit(-1); l != 1<<40 {
		t.Errorf("memory limit after resume = %d, want %d", l, int64(1<<40))
	}
}

// TestDeferCollectsNearTheBudget allocates past a small budget while the
// collector is deferred: the soft limit makes it run.
func TestDeferCollectsNearTheBudget(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	runtime.GC()
	resume := gctune.Defer(64*mib, env(nil))
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
}

// TestDeferLeavesAnOperatorsGOGC checks that GOGC set, or a zero budget,
// leaves the collector as it is.
func TestDeferLeavesAnOperatorsGOGC(t *testing.T) {
	old := debug.SetGCPercent(150)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	for _, c := range []struct {
		budget uint64
		vars   map[string]string
	}{{budget: 512 * mib, vars: map[string]string{"GOGC": "200"}}, {budget: 0}} {
		resume := gctune.Defer(c.budget, env(c.vars))
		if p := gcPercent(); p != 150 {
			t.Errorf("Defer(%d, %v): percentage = %d, want 150 untouched", c.budget, c.vars, p)
		}
		resume()
		if p := gcPercent(); p != 150 {
			t.Errorf("Defer(%d, %v) then resume: percentage = %d, want 150", c.budget, c.vars, p)
		}
	}
}

func numGC() uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.NumGC
}
