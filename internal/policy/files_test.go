package policy_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pdp-sidecar/pdp/internal/policy"
	"github.com/pdp-sidecar/pdp/internal/testfs"
)

// TestListSizesWhatReadReads lays out a data tree as a ConfigMap mount does
// (top-level symlinks into a dot-folder), with a plain file, a YAML file
// and files that are not data, and checks that List finds what Read reads
// and that DataBytes is their size.
func TestListSizesWhatReadReads(t *testing.T) {
	root := t.TempDir()
	write := func(name, body string) { t.Helper(); testfs.Write(t, root, name, body) }
	write("..2026_11_30/acme.json", `{"accounts": {"acme": {"owner": "alice"}}}`)
	write("..2026_11_30/globex.yaml", "accounts:\n  globex:\n    owner: bob\n")
	write("plain/data.json", `{"x": 1}`)
	write("notes.txt", "not data")
	for _, name := range []string{"acme.json", "globex.yaml"} {
		if err := os.Symlink(filepath.Join("..2026_11_30", name), filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	policies := t.TempDir()
	testfs.Write(t, policies, "p.rego", "package p\n")
	src := policy.Sources{Policies: os.DirFS(policies), Data: os.DirFS(root)}

	l, err := policy.List(src)
	if err != nil {
		t.Fatal(err)
	}
	// A file rewritten after the listing: Read reads what is there then.
	write("plain/data.json", `{"x": 12345}`)
	policyFiles, dataFiles, err := l.Read()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := policy.Paths(dataFiles), []string{"acme.json", "globex.yaml", "plain/data.json"}; !slices.Equal(got, want) {
		t.Errorf("data files %q, want %q", got, want)
	}
	if got := policy.Paths(policyFiles); !slices.Equal(got, []string{"p.rego"}) {
		t.Errorf("policy files %q, want [p.rego]", got)
	}
	var read uint64
	for _, f := range dataFiles {
		read += uint64(len(f.Raw))
	}
	if got, want := l.DataBytes(), read-4; got != want {
		t.Errorf("DataBytes() = %d, want %d (the files' sizes when listed)", got, want)
	}
	if string(dataFiles[2].Raw) != `{"x": 12345}` {
		t.Errorf("Read read %q, want the file as rewritten after List", dataFiles[2].Raw)
	}

	// Read again, after a listed file is gone: the error names it.
	if err := os.Remove(filepath.Join(root, "plain", "data.json")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Read(); err == nil {
		t.Error("Read of a listed file that is gone: no error")
	}
}
