package policy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/pdp-sidecar/pdp/internal/datagen"
	"github.com/pdp-sidecar/pdp/internal/policy"
)

// BenchmarkBuild measures a full snapshot build, as every reload does one:
// read the repository's policies and generated role data from disk,
// validate, compile, prepare. Run it with
//
//	go test ./internal/policy -run '^$' -bench Build -benchmem
func BenchmarkBuild(b *testing.B) {
	policies := filepath.Join("..", "..", "policies")
	if _, err := os.Stat(filepath.Join(policies, "pdp", "authz")); err != nil {
		b.Skipf("the repository's policies/pdp/authz is missing (%v): nothing real to benchmark", err)
	}
	for _, size := range []struct{ accounts, users int }{{10, 100}, {1000, 100}} {
		d := datagen.Generate(size.accounts, size.users, 1)
		b.Run(fmt.Sprintf("users=%d", d.Users()), func(b *testing.B) {
			dir := b.TempDir()
			if err := d.Write(dir); err != nil {
				b.Fatal(err)
			}
			src := policy.Sources{Policies: os.DirFS(policies), Data: os.DirFS(dir)}
			ctx := context.Background()
			if _, err := policy.Build(ctx, src); err != nil {
				b.Fatalf("the generated data does not build with the repository's policies: %v", err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := policy.Build(ctx, src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
