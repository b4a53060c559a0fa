// Package hugepages asks Linux to back the heap that a large snapshot build
// fills with transparent huge pages, for the length of that build, where
// the host leaves huge pages to each program (transparent_hugepage
// "madvise", the usual default).
//
// Building a large snapshot fills hundreds of MiB of fresh heap, and with
// 4 KiB pages each of them is a page fault on first touch; in a virtual
// machine a fault costs microseconds. At 100k users the faults were a third
// of the time to ready; one 2 MiB page replaces 512 of them. The snapshot
// then also spans fewer pages, so decisions miss the TLB less.
//
// Go's runtime advises only its own metadata, and it maps the heap piece by
// piece as the heap grows: advice given to the heap's mapping of the moment
// would not cover what is mapped later. Advise therefore grows the mapping
// first, with one large object (fresh address space, which the runtime does
// not touch), advises that object's pages and lets it go. The heap keeps
// the pages mapped, with the advice, and hands them out again; until
// something is stored in them they take no memory.
//
// The advice is withdrawn once the build is done (Advice.Withdraw): left in
// place, the kernel's khugepaged keeps refilling whole 2 MiB pages over
// memory the Go runtime has returned, memory Go does not see (an idle
// sidecar at 100k users grew from 118 to 134 MiB in four minutes, and by
// 40% over a few reloads). The huge pages the build filled stay until the
// runtime returns parts of them.
package hugepages

import (
	"runtime/debug"
)

// Host settings, variables for tests.
var (
	overcommitPath = "/proc/sys/vm/overcommit_memory"
	thpModePath    = "/sys/kernel/mm/transparent_hugepage/enabled"
	meminfoPath    = "/proc/meminfo"
)

// Advice is an advised range of the heap's address space.
type Advice struct {
	base, size uintptr
}

// Size is the bytes advised (0: none).
func (a Advice) Size() int { return int(a.size) }

// Advise grows the heap's mapping by up to size bytes and asks for huge
// pages on them, for what is allocated next; call Withdraw when that is
// done. It advises nothing, and says why in err, where that would not help
// or would not be safe:
//   - on other systems, or where the host's mode is not "madvise" ("always"
//     gives huge pages anyway, "never" none);
//   - under strict overcommit (vm.overcommit_memory 2) or an address space
//     limit (ulimit -v), where the reserved address space counts, and a
//     process that fits without the advice might not fit with it.
//
// The size is capped at a quarter of the machine's memory (a single
// reservation larger than memory is refused even by the default
// overcommit heuristics) and at 1 GiB. Advise collects garbage once, to
// let the object go, and returns its pages to the OS: untouched, they held
// no memory, and so they count against no memory limit either.
func Advise(size int) (Advice, error) {
	if size <= 0 {
		return Advice{}, nil
	}
	limit, err := reservable()
	if err != nil {
		return Advice{}, err
	}
	size = min(size, limit) // reservable caps it at maxAdvice
	b := make([]byte, size)
	a, err := advise(b)
	b = nil
	debug.FreeOSMemory() // b's pages go back to the heap, mapped and advised
	return a, err
}

// maxAdvice bounds one reservation.
const maxAdvice = 1 << 30
