package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pdp-sidecar/pdp/internal/pdptest"
	"github.com/pdp-sidecar/pdp/internal/policy"
	"github.com/pdp-sidecar/pdp/internal/testfs"
)

// TestRebuild: a reload's build of the files of the serving revision is
// nothing; of changed files, a snapshot of their revision, its role data
// compact, or left as OPA's AST with keepAST.
func TestRebuild(t *testing.T) {
	data := t.TempDir()
	if err := os.CopyFS(data, os.DirFS(filepath.Join(pdptest.RepoRoot(), "data"))); err != nil {
		t.Fatal(err)
	}
	src := policy.Sources{Policies: os.DirFS(filepath.Join(pdptest.RepoRoot(), "policies")), Data: os.DirFS(data)}
	ctx := context.Background()
	serving, err := policy.Build(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, keepAST := range []bool{false, true} {
		if s, err := policy.Rebuild(ctx, src, serving.Revision, keepAST); s != nil || err != nil {
			t.Fatalf("keepAST %v, files unchanged: %v %v, want nothing built", keepAST, s, err)
		}
	}
	testfs.Write(t, data, "accounts/initech/data.json", `{"name": "Initech", "owner": "peter", "users": {"peter": {}}}`)
	for _, keepAST := range []bool{false, true} {
		s, err := policy.Rebuild(ctx, src, serving.Revision, keepAST)
		if err != nil || s == nil {
			t.Fatalf("keepAST %v, a file added: %v %v, want a snapshot", keepAST, s, err)
		}
		want, err := policy.RevisionOf(src)
		if err != nil {
			t.Fatal(err)
		}
		if s.Revision != want || s.Revision == serving.Revision || s.Stats.Accounts != serving.Stats.Accounts+1 {
			t.Errorf("keepAST %v: revision %s (files: %s, serving: %s), %d accounts", keepAST, s.Revision, want, serving.Revision, s.Stats.Accounts)
		}
		if compact := s.CompactBytes() > 0; compact == keepAST {
			t.Errorf("keepAST %v: compact store of %d bytes", keepAST, s.CompactBytes())
		}
	}
}
