package pdptest

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Mapping is one of this process's memory mappings, from /proc/self/smaps.
type Mapping struct {
	Start, End uintptr
	flags      string // VmFlags, with a space at each end
}

// Has says whether the mapping's VmFlags hold flag (e.g. "hg": huge pages
// advised; "nh": huge pages refused).
func (m Mapping) Has(flag string) bool { return strings.Contains(m.flags, " "+flag+" ") }

// Mappings lists this process's mappings; the test is skipped where
// /proc/self/smaps cannot be read.
func Mappings(t testing.TB) []Mapping {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("cannot read /proc/self/smaps: %v", err)
	}
	defer f.Close()
	var out []Mapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if flags, ok := strings.CutPrefix(line, "VmFlags:"); ok && len(out) > 0 {
			out[len(out)-1].flags = " " + strings.TrimSpace(flags) + " "
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
		out = append(out, Mapping{Start: uintptr(start), End: uintptr(end)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
