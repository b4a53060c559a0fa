package hugepages_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/pdp-sidecar/pdp/internal/hugepages"
	"github.com/pdp-sidecar/pdp/internal/pdptest"
)

// host writes the host settings Advise reads to files of the test's and
// points Advise at them: any Linux kernel built with transparent huge
// pages takes the advice, whatever the mode the machine runs in.
func host(t *testing.T, overcommit, mode, meminfo string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("transparent huge pages are Linux's")
	}
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage"); err != nil {
		t.Skipf("this kernel has no transparent huge pages: %v", err)
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &rl); err == nil && rl.Cur != ^uint64(0) {
		t.Skipf("this test process has an address space limit (%d bytes)", rl.Cur)
	}
	dir := t.TempDir()
	var paths [3]string
	for i, body := range []string{overcommit, mode, meminfo} {
		paths[i] = filepath.Join(dir, strconv.Itoa(i))
		if err := os.WriteFile(paths[i], []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(hugepages.SetHostFiles(paths[0], paths[1], paths[2]))
}

const (
	madviseMode = "always [madvise] never\n"
	bigMachine  = "MemTotal:       24683576 kB\nMemFree:        19000000 kB\n"
)

// TestAdviseThenWithdraw advises 64 MiB and reads /proc/self/smaps: a
// mapping of at least that size must carry the huge page advice (VmFlags
// "hg"), memory allocated afterwards must land in it, and after Withdraw the
// range must carry "nh" (no huge pages) and no longer "hg". The object
// allocated afterwards may start a little before the advised range: free
// pages that adjoined the range from below are one free run with it, and
// the allocator takes the lowest fit (seen in 1 run of 12: 128 KiB before
// it), so its middle and its end are what must be advised.
func TestAdviseThenWithdraw(t *testing.T) {
	host(t, "0\n", madviseMode, bigMachine)
	before := flagged(t, "hg")
	const size = 64 << 20
	a, err := hugepages.Advise(size)
	if err != nil || a.Size() != size {
		t.Fatalf("Advise(%d) = %d bytes, %v; want %d, nil", size, a.Size(), err, size)
	}
	if got := flagged(t, "hg") - before; got < size {
		t.Errorf("mappings with the huge page advice grew by %d bytes, want at least %d", got, size)
	}
	b := make([]byte, 16<<20) // reuses the advised pages
	mid, last := addr(&b[len(b)/2]), addr(&b[len(b)-1])
	if !has(t, mid, "hg") || !has(t, last, "hg") {
		t.Error("a 16 MiB object allocated after Advise is not in an advised mapping")
	}
	if err := a.Withdraw(); err != nil {
		t.Fatalf("Withdraw: %v", err)
	}
	if has(t, mid, "hg") || has(t, last, "hg") || !has(t, mid, "nh") || !has(t, last, "nh") {
		t.Error("after Withdraw the object's mapping still has the advice, or lacks nh")
	}
	runtime.KeepAlive(b)
}

// TestAdviseRefuses: no advice where it would not help or not be safe,
// with the reason.
func TestAdviseRefuses(t *testing.T) {
	for _, c := range []struct {
		name, overcommit, mode, want string
	}{
		{"strict overcommit", "2\n", madviseMode, "overcommit"},
		{"huge pages for every program", "0\n", "[always] madvise never\n", "always"},
		{"no huge pages", "0\n", "always madvise [never]\n", "never"},
	} {
		t.Run(c.name, func(t *testing.T) {
			host(t, c.overcommit, c.mode, bigMachine)
			before := flagged(t, "hg")
			a, err := hugepages.Advise(32 << 20)
			if a.Size() != 0 || err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Advise = %d bytes, %v; want 0 and an error naming %q", a.Size(), err, c.want)
			}
			if got := flagged(t, "hg") - before; got > 0 {
				t.Errorf("advised mappings grew by %d bytes", got)
			}
			if err := a.Withdraw(); err != nil {
				t.Errorf("Withdraw of no advice: %v", err)
			}
		})
	}
}

// TestAdviseCapsAtAQuarterOfMemory: on a 64 MiB machine at most 16 MiB.
func TestAdviseCapsAtAQuarterOfMemory(t *testing.T) {
	host(t, "0\n", madviseMode, "MemTotal:          65536 kB\n")
	a, err := hugepages.Advise(64 << 20)
	if err != nil || a.Size() != 16<<20 {
		t.Errorf("Advise(64 MiB) on a 64 MiB machine = %d bytes, %v; want 16 MiB", a.Size(), err)
	}
	if err := a.Withdraw(); err != nil {
		t.Error(err)
	}
}

func TestAdviseNothing(t *testing.T) {
	if a, err := hugepages.Advise(0); a.Size() != 0 || err != nil {
		t.Errorf("Advise(0) = %d, %v; want 0, nil", a.Size(), err)
	}
}

// flagged is the bytes of the mappings whose VmFlags hold flag.
func flagged(t *testing.T, flag string) int {
	n := 0
	for _, m := range pdptest.Mappings(t) {
		if m.Has(flag) {
			n += int(m.End - m.Start)
		}
	}
	return n
}

// has says whether the mapping holding a has flag.
func has(t *testing.T, a uintptr, flag string) bool {
	for _, m := range pdptest.Mappings(t) {
		if m.Start <= a && a < m.End {
			return m.Has(flag)
		}
	}
	return false
}

func addr(p *byte) uintptr { return uintptr(unsafe.Pointer(p)) }
