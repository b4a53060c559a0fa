package policy

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// BenchmarkValidate measures the role data's validation at 100k users
// (1,000 accounts), a step of every build:
//
//	go test ./internal/policy -run '^$' -bench Validate -benchmem
func BenchmarkValidate(b *testing.B) {
	policyFiles, dataFiles := read100k(b, filepath.Join("..", "..", "policies"))
	s, err := compilePolicies(policyFiles)
	if err != nil {
		b.Fatal(err)
	}
	doc, err := loadData(dataFiles)
	if err != nil {
		b.Fatal(err)
	}
	accounts, _ := doc.Get(doc.Root(), "accounts")
	empty := inmem.NewWithOpts(inmem.OptRoundTripOnWrite(false))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := validateAccounts(ctx, s.Compiler, empty, doc, accounts, dataFiles); err != nil {
			b.Fatal(err)
		}
	}
}
