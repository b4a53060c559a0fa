package decisioncache

// sketch is a count-min sketch of how often keys were asked for lately
// (TinyLFU): four rows of 4-bit counters saturating at 15, halved every
// sampleSize increments so that old popularity fades.
type sketch struct {
	rows       [4][]uint8
	mask       uint64
	increments int
	sampleSize int
}

func newSketch(capacity int) sketch {
	width := 16
	for width < widthFactor*capacity {
		width *= 2
	}
	var s sketch
	for i := range s.rows {
		s.rows[i] = make([]uint8, width)
	}
	s.mask = uint64(width - 1)
	s.sampleSize = sampleFactor * max(capacity, 1)
	return s
}

// index is the counter of h in row i (double hashing).
func (s *sketch) index(h uint64, i int) uint64 {
	return (h + uint64(i)*((h>>32)|1)) & s.mask
}

// add counts one more request for h.
func (s *sketch) add(h uint64) {
	for i := range s.rows {
		if c := &s.rows[i][s.index(h, i)]; *c < 15 {
			*c++
		}
	}
	if s.increments++; s.increments >= s.sampleSize {
		for i := range s.rows {
			for j := range s.rows[i] {
				s.rows[i][j] /= 2
			}
		}
		s.increments /= 2
	}
}

// estimate is how often h was requested lately (an upper bound).
func (s *sketch) estimate(h uint64) uint8 {
	m := uint8(15)
	for i := range s.rows {
		m = min(m, s.rows[i][s.index(h, i)])
	}
	return m
}

// The sketch is widthFactor × capacity counters wide per row and ages
// every sampleFactor × capacity requests: chosen on Zipf traffic
// (TestHitRateOnZipfTraffic), where wider or slower-aging sketches gained
// under a point of hit rate.
const widthFactor, sampleFactor = 4, 20
