package hugepages_test

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/pdp-sidecar/pdp/internal/hugepages"
)

// TestAdviseMarksHeapPages advises 64 MiB and reads /proc/self/smaps: a
// mapping of at least that size must carry the huge page advice (VmFlags
// "hg"), and memory allocated afterwards must land in advised mappings.
func TestAdviseMarksHeapPages(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("transparent huge pages are Linux's")
	}
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil {
		t.Skipf("this kernel has no transparent huge pages: %v", err)
	}
	before := advisedBytes(t)
	const size = 64 << 20
	n, err := hugepages.Advise(size)
	if err != nil || n != size {
		t.Fatalf("Advise(%d) = %d, %v; want %d, nil", size, n, err, size)
	}
	// The kernel rounds nothing here: the object is page aligned, and its
	// whole range gets the flag (huge pages then fill its 2 MiB-aligned part).
	if got := advisedBytes(t) - before; got < size {
		t.Errorf("mappings with the huge page advice grew by %d bytes, want at least %d", got, size)
	}
	// What the heap allocates next reuses the advised pages.
	b := make([]byte, 16<<20)
	if !inAdvised(t, &b[0]) || !inAdvised(t, &b[len(b)-1]) {
		t.Error("a 16 MiB object allocated after Advise is not in an advised mapping")
	}
	runtime.KeepAlive(b)
}

func TestAdviseNothing(t *testing.T) {
	if n, err := hugepages.Advise(0); n != 0 || err != nil {
		t.Errorf("Advise(0) = %d, %v; want 0, nil", n, err)
	}
}

// mapping is one entry of /proc/self/smaps.
type mapping struct {
	start, end uintptr
	advised    bool // VmFlags has "hg" (MADV_HUGEPAGE)
}

func mappings(t *testing.T) []mapping {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("cannot read /proc/self/smaps: %v", err)
	}
	defer f.Close()
	var out []mapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if flags, ok := strings.CutPrefix(line, "VmFlags:"); ok && len(out) > 0 {
			out[len(out)-1].advised = strings.Contains(" "+flags+" ", " hg ")
			continue
		}
		rng, _, _ := strings.Cut(line, " ")
		lo, hi, ok := strings.Cut(rng, "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, mapping{start: uintptr(start), end: uintptr(end)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func advisedBytes(t *testing.T) int {
	n := 0
	for _, m := range mappings(t) {
		if m.advised {
			n += int(m.end - m.start)
		}
	}
	return n
}

func inAdvised(t *testing.T, p *byte) bool {
	a := uintptr(unsafe.Pointer(p))
	for _, m := range mappings(t) {
		if m.start <= a && a < m.end {
			return m.advised
		}
	}
	return false
}

// TestAdviseRefusesStrictOvercommit: with vm.overcommit_memory 2 the
// address space Advise would reserve is committed memory, so it does
// nothing and says why.
func TestAdviseRefusesStrictOvercommit(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the overcommit policy is Linux's")
	}
	policy := filepath.Join(t.TempDir(), "overcommit_memory")
	if err := os.WriteFile(policy, []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer hugepages.SetOvercommitPath(policy)()
	before := advisedBytes(t)
	n, err := hugepages.Advise(64 << 20)
	if n != 0 || err == nil || !strings.Contains(err.Error(), "overcommit") {
		t.Errorf("Advise under strict overcommit = %d, %v; want 0 and an error naming the overcommit policy", n, err)
	}
	if got := advisedBytes(t) - before; got > 0 {
		t.Errorf("advised mappings grew by %d bytes under strict overcommit", got)
	}
	// The heuristic policy (0) lets it advise.
	if err := os.WriteFile(policy, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil {
		return
	}
	if n, err := hugepages.Advise(8 << 20); n != 8<<20 || err != nil {
		t.Errorf("Advise under overcommit policy 0 = %d, %v; want %d, nil", n, err, 8<<20)
	}
}
