package policy

import (
	"testing"

	"github.com/pdp-sidecar/pdp/internal/docstore"
)

// BenchmarkCompactStore is the step of a build that turns the validated
// data's AST into its compact store, at 100k users (store-MiB: the size
// of the store).
func BenchmarkCompactStore(b *testing.B) {
	_, dataFiles := read100k(b, "../../policies")
	doc, err := loadData(dataFiles)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var s *docstore.Store
	for b.Loop() {
		if s, err = docstore.Build(doc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.Bytes())/(1<<20), "store-MiB")
}
