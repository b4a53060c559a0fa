// Package hugepages asks Linux to back the Go heap with transparent huge
// pages, where the host leaves that to each program (transparent_hugepage
// "madvise", the usual default).
//
// Building a large snapshot fills hundreds of MiB of fresh heap, and with
// 4 KiB pages each of them is a page fault on first touch; in a virtual
// machine a fault costs microseconds. At 100k users the faults were a third
// of the time to ready; one 2 MiB page replaces 512 of them. Decisions gain
// too: the role data spans fewer pages, so walking it misses the TLB less.
//
// Go's runtime advises only its own metadata, and it maps the heap piece by
// piece as the heap grows: advice given to the heap's mapping of the moment
// would not cover what is mapped later. Advise therefore grows the mapping
// first, with one large object (fresh address space, which the runtime does
// not touch), advises that object's pages and lets it go. The heap keeps
// the pages mapped, with the advice, and hands them out again; until
// something is stored in them they take no memory.
package hugepages

import "runtime/debug"

// overcommitPath is Linux's overcommit policy (a variable for tests).
var overcommitPath = "/proc/sys/vm/overcommit_memory"

// Advise grows the heap's mapping by size bytes and asks for huge pages on
// them. It returns the bytes advised: 0 on other systems or when the
// kernel refuses (err says why; a kernel without transparent huge pages
// does). It collects garbage once, to let the object go, and returns its
// pages to the OS: untouched, they held no memory, and so they count
// against no memory limit either (Go counts free pages it has not
// returned); the mapping, and the advice, stay.
//
// Under strict overcommit (Linux's vm.overcommit_memory 2) it does nothing:
// there the large object's address space would be committed memory, and
// a process that fits without the advice might not fit with it.
func Advise(size int) (int, error) {
	if size <= 0 {
		return 0, nil
	}
	if err := canReserve(); err != nil {
		return 0, err
	}
	b := make([]byte, size)
	n, err := advise(b)
	b = nil
	debug.FreeOSMemory() // b's pages go back to the heap, mapped and advised
	return n, err
}
