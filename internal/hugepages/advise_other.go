//go:build !linux

package hugepages

func canReserve() error { return nil }

func advise([]byte) (int, error) { return 0, nil }
