package reload

import (
	"sync"
	"time"
)

// Outcome of the last reload attempt.
type Outcome struct {
	At    time.Time `json:"at"`
	OK    bool      `json:"ok"`
	Error string    `json:"error,omitempty"`
}

// Status is what /v1/status shows of reloading.
type Status struct {
	LastReload    *Outcome `json:"last_reload"` // nil until the first reload after start-up
	ReloadsOK     uint64   `json:"reloads_ok"`
	ReloadsFailed uint64   `json:"reloads_failed"`
}

// statusBox guards Status; reads are rare (status requests), writes happen once per reload.
type statusBox struct {
	mu sync.Mutex
	s  Status
}

func (b *statusBox) record(o Outcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.s.LastReload = &o
	if o.OK {
		b.s.ReloadsOK++
	} else {
		b.s.ReloadsFailed++
	}
}

func (b *statusBox) get() Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.s
	if s.LastReload != nil {
		o := *s.LastReload
		s.LastReload = &o
	}
	return s
}
