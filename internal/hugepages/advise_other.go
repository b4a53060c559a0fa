//go:build !linux

package hugepages

import (
	"errors"
	"runtime"
)

func reservable() (int, error) {
	return 0, errors.New("transparent huge pages are Linux's, not " + runtime.GOOS + "'s")
}

func advise([]byte) (Advice, error) { return Advice{}, nil }

// Withdraw does nothing: nothing was advised.
func (a Advice) Withdraw() error { return nil }
