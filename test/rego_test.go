package test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pdp-sidecar/pdp/internal/pdptest"
	"github.com/pdp-sidecar/pdp/internal/policy"
)

// TestRegoPolicies runs every *_test.rego beside the policies through OPA's
// Go tester (as `go tool opa test policies data` does), so a failing Rego
// test fails `go test ./...`.
func TestRegoPolicies(t *testing.T) {
	root := pdptest.RepoRoot()
	for _, dir := range []struct{ name, policies, data string }{
		{"shipped", filepath.Join(root, "policies"), filepath.Join(root, "data")},
		{"authzen-todo", filepath.Join(root, "test/interop/authzen-todo/policies"), filepath.Join(root, "test/interop/authzen-todo/data")},
	} {
		t.Run(dir.name, func(t *testing.T) {
			snap, err := policy.Build(context.Background(), policy.Sources{Policies: os.DirFS(dir.policies), Data: os.DirFS(dir.data)})
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			rep, err := snap.RunTests(context.Background(), time.Minute)
			if err != nil {
				t.Fatalf("run Rego tests: %v", err)
			}
			for _, f := range rep.Failed {
				t.Errorf("Rego test failed: %s", f)
			}
			if rep.Passed == 0 {
				t.Fatalf("no Rego test ran in %s", dir.policies)
			}
			t.Logf("%d Rego tests passed, %d skipped", rep.Passed, rep.Skipped)
		})
	}
}
