package datagen

import (
	"math"
	"math/rand/v2"
	"sort"
)

// Traffic returns n indices into a pool of distinct requests, drawn by a
// Zipf-like law of exponent alpha (request i, by popularity rank, is asked
// in proportion to 1/i^alpha): a few requests come back very often, most
// rarely, as when the same users reopen the same documents. Popularity
// ranks are shuffled over the pool so the popular requests are not the
// first ones. alpha 0 is uniform; web traces measure about 0.6 to 0.9.
// The same arguments give the same indices.
func Traffic(pool, n int, alpha float64, seed int64) []int {
	if pool <= 0 || n <= 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	cum := make([]float64, pool)
	total := 0.0
	for i := range cum {
		total += math.Pow(float64(i+1), -alpha)
		cum[i] = total
	}
	rank := rng.Perm(pool) // rank r is pool entry rank[r]
	out := make([]int, n)
	for i := range out {
		r := sort.SearchFloat64s(cum, rng.Float64()*total)
		if r >= pool {
			r = pool - 1
		}
		out[i] = rank[r]
	}
	return out
}
