package app

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pdp-sidecar/pdp/internal/policy"
	"github.com/pdp-sidecar/pdp/internal/testfs"
)

func TestChangedOnDisk(t *testing.T) {
	root := t.TempDir()
	write := func(name, body string) { t.Helper(); testfs.Write(t, root, name, body) }
	// The repository's policies and shipped data, in a folder of the test's.
	for _, d := range []string{"policies", "data"} {
		if err := os.CopyFS(filepath.Join(root, d), os.DirFS(filepath.Join("..", "..", d))); err != nil {
			t.Fatal(err)
		}
	}
	a := filepath.Join(root, "data", "accounts", "acme", "data.json")
	original, err := os.ReadFile(a)
	if err != nil {
		t.Fatalf("the shipped data has no accounts/acme/data.json to edit: %v", err)
	}
	src := policy.Sources{Policies: os.DirFS(filepath.Join(root, "policies")), Data: os.DirFS(filepath.Join(root, "data"))}
	snap, err := policy.Build(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, want bool) {
		t.Helper()
		got, err := changedOnDisk(src, snap.Revision)
		if err != nil || got != want {
			t.Errorf("%s: changedOnDisk = %v, %v; want %v", what, got, err, want)
		}
	}
	check("as built", false)
	write("notes/.swp", "an editor's file outside both trees")
	check("a file outside the trees", false)
	write("data/accounts/acme/data.json", string(original)+"\n")
	check("a data file rewritten", true)
	write("data/accounts/acme/data.json", string(original))
	check("rewritten back", false)
	write("data/accounts/zeta/data.json", string(original))
	check("a data file added", true)
	if err := os.Remove(filepath.Join(root, "data", "accounts", "zeta", "data.json")); err != nil {
		t.Fatal(err)
	}
	check("removed again", false)
	write("policies/pdp/extra.rego", "package pdp.extra\n\nx := 1\n")
	check("a policy added", true)
}
