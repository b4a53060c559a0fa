package policy

import (
	"os"
	"runtime"
	"testing"

	"github.com/pdp-sidecar/pdp/internal/datagen"
)

// BenchmarkLoadData measures decoding and joining 100k users of role data
// (1,000 files, already read) into one compact store, the largest part of
// BenchmarkBuild at that size, and reports how much heap the resulting
// store holds (live-MiB; store-MiB as Store.Bytes counts it), which is most
// of a large snapshot's resident memory:
//
//	go test ./internal/policy -run '^$' -bench LoadData -benchmem
func BenchmarkLoadData(b *testing.B) {
	_, files := read100k(b, b.TempDir())
	b.ReportAllocs()
	func() { // its stores die with it
		for b.Loop() {
			if _, err := loadData(files); err != nil {
				b.Fatal(err)
			}
		}
	}()
	b.StopTimer()
	// What the document holds once built: the store keeps it.
	live := func() int64 {
		runtime.GC()
		runtime.GC() // the decoders' scratch, freed by the first, is swept
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	before := live()
	doc, err := loadData(files)
	if err != nil {
		b.Fatal(err)
	}
	held := live() - before
	runtime.KeepAlive(files) // read before: not the store's
	b.ReportMetric(float64(held)/(1<<20), "live-MiB")
	b.ReportMetric(float64(doc.Bytes())/(1<<20), "store-MiB")
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
