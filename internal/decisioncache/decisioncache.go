// Package decisioncache is a bounded, concurrent map from a request's
// canonical key to its verdict. It knows nothing of policies or HTTP: the
// engine builds the key (revision is implied, since a cache lives and dies
// with one snapshot) and decides what may be stored.
//
// Keys are compared in full (they are Go map keys), so two different
// requests never share an entry. Eviction is CLOCK (second chance) per
// shard, and admission is TinyLFU: a full shard takes a new entry only when
// it was asked for more often lately than the entry CLOCK would evict
// (counted in a small count-min sketch), so a stream of one-off requests
// cannot flush the popular ones. The cache never holds more than its
// capacity.
package decisioncache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

const shardCount = 16

// Cache maps keys to values of type V. A nil *Cache is a valid, disabled
// cache: Get misses and Put does nothing.
type Cache[V any] struct {
	seed    maphash.Seed
	shards  [shardCount]shard[V]
	hits    atomic.Uint64
	misses  atomic.Uint64
	evicts  atomic.Uint64
	rejects atomic.Uint64
}

// hashOf is a stored key's hash, as shard returns it.
func (c *Cache[V]) hashOf(key string) uint64 {
	return maphash.String(c.seed, key) / shardCount
}

type shard[V any] struct {
	mu    sync.Mutex
	index map[string]int // key -> slot
	slots []slot[V]      // grows to cap, then reused
	cap   int
	hand  int // CLOCK hand: the next slot to consider for eviction
	freq  sketch
}

type slot[V any] struct {
	key    string
	val    V
	recent bool // read since the hand last passed
}

// New returns a cache holding at most capacity entries, or nil (disabled)
// when capacity <= 0.
func New[V any](capacity int) *Cache[V] {
	if capacity <= 0 {
		return nil
	}
	c := &Cache[V]{seed: maphash.MakeSeed()}
	for i := range c.shards {
		per := capacity / shardCount
		if i < capacity%shardCount {
			per++
		}
		c.shards[i] = shard[V]{index: make(map[string]int, per), cap: per, freq: newSketch(per)}
	}
	return c
}

// shard returns key's shard and hash (which also indexes the sketch).
func (c *Cache[V]) shard(key []byte) (*shard[V], uint64) {
	h := maphash.Bytes(c.seed, key)
	return &c.shards[h%shardCount], h / shardCount
}

// Get returns the value stored under key.
func (c *Cache[V]) Get(key []byte) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	s, h := c.shard(key)
	s.mu.Lock()
	s.freq.add(h)
	i, ok := s.index[string(key)] // no allocation: the compiler reads key in place
	if !ok {
		s.mu.Unlock()
		c.misses.Add(1)
		return zero, false
	}
	s.slots[i].recent = true
	v := s.slots[i].val
	s.mu.Unlock()
	c.hits.Add(1)
	return v, true
}

// Put stores v under key (a copy of key is kept). When the shard is full,
// it replaces the entry CLOCK picks (one not read recently) only if key was
// asked for (Get) more often lately than that entry; otherwise v is not kept.
func (c *Cache[V]) Put(key []byte, v V) {
	if c == nil {
		return
	}
	s, h := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.index[string(key)]; ok {
		s.slots[i].val = v
		return
	}
	if s.cap == 0 { // capacity < shardCount: this shard holds nothing
		return
	}
	k := string(key)
	if len(s.slots) < s.cap {
		s.index[k] = len(s.slots)
		s.slots = append(s.slots, slot[V]{key: k, val: v})
		return
	}
	for s.slots[s.hand].recent { // at most one full turn: each pass clears a bit
		s.slots[s.hand].recent = false
		s.hand = (s.hand + 1) % len(s.slots)
	}
	victim := &s.slots[s.hand]
	if s.freq.estimate(h) <= s.freq.estimate(c.hashOf(victim.key)) {
		c.rejects.Add(1)
		return
	}
	delete(s.index, victim.key)
	*victim = slot[V]{key: k, val: v}
	s.index[k] = s.hand
	s.hand = (s.hand + 1) % len(s.slots)
	c.evicts.Add(1)
}

// Stats are the cache's counters since it was made.
type Stats struct {
	Capacity  int
	Entries   int
	Hits      uint64
	Misses    uint64
	Evictions uint64
	Rejected  uint64 // new entries not admitted: asked for less often than the one they would replace
}

// Stats reads the counters; the zero Stats for a nil cache.
func (c *Cache[V]) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	st := Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Evictions: c.evicts.Load(), Rejected: c.rejects.Load()}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.Entries += len(s.slots)
		st.Capacity += s.cap
		s.mu.Unlock()
	}
	return st
}
