package hugepages

import (
	"errors"
	"os"
	"strings"
	"syscall"
)

// canReserve refuses under strict overcommit; an unreadable policy counts
// as the default (heuristic) one.
func canReserve() error {
	b, err := os.ReadFile(overcommitPath)
	if err == nil && strings.TrimSpace(string(b)) == "2" {
		return errors.New("strict overcommit (vm.overcommit_memory = 2): address space reserved for huge pages would be committed memory")
	}
	return nil
}

func advise(b []byte) (int, error) {
	if err := syscall.Madvise(b, syscall.MADV_HUGEPAGE); err != nil {
		return 0, err
	}
	return len(b), nil
}
