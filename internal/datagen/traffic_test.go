package datagen

import (
	"slices"
	"testing"
)

func TestTraffic(t *testing.T) {
	const pool, n = 1000, 100000
	a := Traffic(pool, n, 0.8, 1)
	if !slices.Equal(a, Traffic(pool, n, 0.8, 1)) {
		t.Fatal("same arguments, different traffic")
	}
	counts := make([]int, pool)
	for _, i := range a {
		if i < 0 || i >= pool {
			t.Fatalf("index %d outside the pool", i)
		}
		counts[i]++
	}
	slices.Sort(counts)
	slices.Reverse(counts)
	// Zipf 0.8 over 1,000: the most asked request about 1/sum(i^-0.8) ≈ 6.6%
	// of the traffic, the 100th about 100^-0.8 ≈ 2.5% of that.
	if top := float64(counts[0]) / n; top < 0.05 || top > 0.085 {
		t.Errorf("most asked request is %.1f%% of the traffic, want about 6.6%%", top*100)
	}
	if ratio := float64(counts[99]) / float64(counts[0]); ratio < 0.015 || ratio > 0.04 {
		t.Errorf("100th / 1st = %.3f, want about 0.025", ratio)
	}
	// Uniform: no request far from n/pool.
	for _, c := range countsOf(Traffic(pool, n, 0, 2), pool) {
		if c < 50 || c > 160 {
			t.Fatalf("uniform traffic: a request asked %d times, want about 100", c)
		}
	}
}

func countsOf(idx []int, pool int) []int {
	c := make([]int, pool)
	for _, i := range idx {
		c[i]++
	}
	return c
}
