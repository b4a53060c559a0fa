package policy

import (
	"os"
	"runtime"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/pdp-sidecar/pdp/internal/datagen"
)

// BenchmarkLoadData measures decoding and merging 100k users of role data
// (1,000 files, already read), the largest part of BenchmarkBuild at that
// size, and reports how much heap the resulting document holds (live-MiB),
// which is most of a large snapshot's resident memory:
//
//	go test ./internal/policy -run '^$' -bench LoadData -benchmem
func BenchmarkLoadData(b *testing.B) {
	_, files := read100k(b, b.TempDir())
	var err error
	b.ReportAllocs()
	var doc ast.Object
	for b.Loop() {
		doc = nil
		if doc, err = loadData(files); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// What the document holds once built: the store keeps it.
	var before, after runtime.MemStats
	doc = nil
	runtime.GC()
	runtime.ReadMemStats(&before)
	if doc, err = loadData(files); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(doc)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "live-MiB")
}

// read100k writes generated role data of 100k users (1,000 accounts, a
// folder each) to a temporary folder and reads it, with the policies of the
// folder policies.
func read100k(b *testing.B, policies string) (policyFiles, dataFiles []File) {
	b.Helper()
	d := datagen.Generate(1000, 100, 1)
	dir := b.TempDir()
	if _, err := d.WriteIn(dir, datagen.FolderLayout); err != nil {
		b.Fatal(err)
	}
	policyFiles, dataFiles, err := Read(Sources{Policies: os.DirFS(policies), Data: os.DirFS(dir)})
	if err != nil {
		b.Fatal(err)
	}
	return policyFiles, dataFiles
}
