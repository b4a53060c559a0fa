package hugepages

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// reservable is the most Advise may reserve, or why it must not.
func reservable() (int, error) {
	mode, err := os.ReadFile(thpModePath)
	if err != nil {
		return 0, fmt.Errorf("no transparent huge pages here: %w", err)
	}
	if !strings.Contains(string(mode), "[madvise]") {
		return 0, fmt.Errorf("transparent huge pages are %q for every program, not on request: nothing to advise", strings.TrimSpace(string(mode)))
	}
	if b, err := os.ReadFile(overcommitPath); err == nil && strings.TrimSpace(string(b)) == "2" {
		return 0, errors.New("strict overcommit (vm.overcommit_memory = 2): address space reserved for huge pages would be committed memory")
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &rl); err == nil && rl.Cur != ^uint64(0) {
		return 0, fmt.Errorf("an address space limit (ulimit -v, %d bytes): address space reserved for huge pages would count against it", rl.Cur)
	}
	total, err := memTotal()
	if err != nil {
		return 0, err
	}
	return int(min(total/4, uint64(maxAdvice))), nil
}

// memTotal is the machine's memory, from /proc/meminfo.
func memTotal() (uint64, error) {
	b, err := os.ReadFile(meminfoPath)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: MemTotal: %w", meminfoPath, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("%s: no MemTotal", meminfoPath)
}

func advise(b []byte) (Advice, error) {
	if err := syscall.Madvise(b, syscall.MADV_HUGEPAGE); err != nil {
		return Advice{}, err
	}
	return Advice{base: uintptr(unsafe.Pointer(unsafe.SliceData(b))), size: uintptr(len(b))}, nil
}

// Withdraw takes the advice back from the range (MADV_NOHUGEPAGE: in
// "madvise" mode, the same as never having advised it, but for the huge
// pages already in place). The range stays the heap's, mapped: only its
// address is used, no Go pointer into it is made.
func (a Advice) Withdraw() error {
	if a.size == 0 {
		return nil
	}
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, a.base, a.size, syscall.MADV_NOHUGEPAGE); errno != 0 {
		return errno
	}
	return nil
}
