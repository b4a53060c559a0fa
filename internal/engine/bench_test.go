package engine_test

// Benchmarks of the decision path on the repository's policies and
// generated role data (internal/datagen), at 1k users (10 accounts × 100)
// and 100k users (1,000 × 100; skipped under -short). Run them with
//
//	go test ./internal/engine -run '^$' -bench . -benchmem -count 5
//
// BenchmarkDecision, Batch and Search* run with the decision cache off:
// each operation decides pre-built requests of datagen's realistic mix in
// turn (many distinct subjects and resources, every role, allows and
// denies), so they measure policy evaluation. BenchmarkDecisionCached runs
// with the default cache (10,000 entries) on traffic drawn from a pool of
// 100,000 distinct requests by a Zipf law of exponent 0.8 (datagen.Traffic),
// and reports the hit rate it saw.
//
// The 100k-user snapshot is built on a heap advised for huge pages, as the
// sidecar builds one that large (internal/app, --huge-pages);
// PDP_BENCH_HUGE_PAGES=off builds it on ordinary pages.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pdp-sidecar/pdp/internal/datagen"
	"github.com/pdp-sidecar/pdp/internal/engine"
	"github.com/pdp-sidecar/pdp/internal/hugepages"
	"github.com/pdp-sidecar/pdp/internal/policy"
)

// benchRequests is how many distinct requests each benchmark cycles through.
const benchRequests = 4096

// fixture is one generated dataset, built into a snapshot.
type fixture struct {
	name string
	snap *policy.Snapshot
	eng  *engine.Engine // cache off
	data *datagen.Data
	reqs []engine.Request
	err  error
	// The files, and the snapshot as --evaluator topdown serves it (the
	// role data kept as OPA's AST), built when first asked for.
	policyFiles, dataFiles []policy.File
	astOnce                sync.Once
	astSnap                *policy.Snapshot
	astErr                 error
}

// astSnapshot is the fixture's snapshot with its role data left as OPA's
// AST, as pdp builds it for --evaluator topdown.
func (f *fixture) astSnapshot(b *testing.B) *policy.Snapshot {
	f.astOnce.Do(func() {
		f.astSnap, f.astErr = policy.BuildFilesUncompacted(context.Background(), f.policyFiles, f.dataFiles)
	})
	if f.astErr != nil {
		b.Fatal(f.astErr)
	}
	return f.astSnap
}

var sizes = []struct {
	name                   string
	accounts, usersPerAcct int
	long                   bool // skipped under -short
	once                   sync.Once
	fix                    *fixture
}{
	{name: "users=1k", accounts: 10, usersPerAcct: 100},
	{name: "users=100k", accounts: 1000, usersPerAcct: 100, long: true},
}

// fixtures returns the datasets to run, building each snapshot once per
// process (the 100k one takes seconds).
func fixtures(b *testing.B) []*fixture {
	policies := filepath.Join("..", "..", "policies")
	if _, err := os.Stat(filepath.Join(policies, "pdp", "authz")); err != nil {
		b.Skipf("the repository's policies/pdp/authz is missing (%v)", err)
	}
	var out []*fixture
	for i := range sizes {
		sz := &sizes[i]
		if sz.long && testing.Short() {
			continue
		}
		sz.once.Do(func() {
			f := &fixture{name: sz.name}
			sz.fix = f
			f.data = datagen.Generate(sz.accounts, sz.usersPerAcct, 1)
			dir, err := os.MkdirTemp("", "pdp-engine-bench-")
			if err != nil {
				f.err = err
				return
			}
			defer os.RemoveAll(dir) // the snapshot holds everything once built
			size, err := f.data.WriteIn(dir, datagen.FolderLayout)
			if err != nil {
				f.err = err
				return
			}
			var advice hugepages.Advice
			if size >= 4<<20 && os.Getenv("PDP_BENCH_HUGE_PAGES") != "off" {
				// As the sidecar readies its heap for large data (internal/app):
				// the snapshot's pages are then huge pages, where Linux allows,
				// and the advice ends with the build.
				advice, _ = hugepages.Advise(int(16 * size))
			}
			f.policyFiles, f.dataFiles, err = policy.Read(policy.Sources{Policies: os.DirFS(policies), Data: os.DirFS(dir)})
			if err != nil {
				f.err = err
				return
			}
			snap, err := policy.BuildFiles(context.Background(), f.policyFiles, f.dataFiles)
			_ = advice.Withdraw()
			if err != nil {
				f.err = fmt.Errorf("build %s: %w", sz.name, err)
				return
			}
			f.snap = snap
			f.eng = engine.New(time.Second, 0, engine.VM)
			f.eng.Swap(snap)
			for _, r := range f.data.Requests(benchRequests, 1) {
				f.reqs = append(f.reqs, toEngine(r))
			}
		})
		if sz.fix.err != nil {
			b.Fatal(sz.fix.err)
		}
		out = append(out, sz.fix)
	}
	return out
}

func toEngine(r datagen.Request) engine.Request {
	return engine.Request{
		Subject:  engine.Entity{Type: r.Subject.Type, ID: r.Subject.ID, Properties: r.Subject.Properties},
		Action:   r.Action.Name,
		Resource: engine.Entity{Type: r.Resource.Type, ID: r.Resource.ID, Properties: r.Resource.Properties},
	}
}

// BenchmarkDecision is one decision (Engine.Evaluate) of the mix. Besides
// the mean (ns/op) it reports the median decision (median-ns): the mix
// holds a few decisions (ownership transfers scan every account) that cost
// far more than the rest and move the mean, not the median.
func BenchmarkDecision(b *testing.B) {
	for _, f := range fixtures(b) {
		b.Run(f.name, func(b *testing.B) { benchDecisions(b, f.eng, f.reqs) })
	}
}

// BenchmarkDecisionTopdown is BenchmarkDecision with OPA's evaluator
// (--evaluator topdown, which keeps the role data as OPA's AST), for the
// ratio to the vm. BenchmarkDecisionTopdownCompact is OPA's evaluator on
// the compact store, as it serves the decisions the vm leaves to it.
func BenchmarkDecisionTopdown(b *testing.B) {
	for _, f := range fixtures(b) {
		b.Run(f.name, func(b *testing.B) {
			eng := engine.New(time.Second, 0, engine.Topdown)
			eng.Swap(f.astSnapshot(b))
			benchDecisions(b, eng, f.reqs)
		})
	}
}

func BenchmarkDecisionTopdownCompact(b *testing.B) {
	for _, f := range fixtures(b) {
		b.Run(f.name, func(b *testing.B) {
			eng := engine.New(time.Second, 0, engine.Topdown)
			eng.Swap(f.snap)
			benchDecisions(b, eng, f.reqs)
		})
	}
}

func benchDecisions(b *testing.B, eng *engine.Engine, reqs []engine.Request) {
	ctx := context.Background()
	b.ReportAllocs()
	allowed, i := 0, 0
	took := make([]time.Duration, 0, 1<<16)
	for b.Loop() {
		start := time.Now()
		d, _, err := eng.Evaluate(ctx, reqs[i%len(reqs)])
		if len(took) < cap(took) {
			took = append(took, time.Since(start))
		}
		if err != nil || d.Err != nil {
			b.Fatalf("request %d: %v %v", i%len(reqs), err, d.Err)
		}
		if d.Allow {
			allowed++
		}
		i++
	}
	b.ReportMetric(float64(allowed)/float64(i), "allowed/op")
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Nanoseconds()), "median-ns")
}

// BenchmarkDecisionCached is one decision of Zipf traffic with the cache on.
func BenchmarkDecisionCached(b *testing.B) {
	const pool, cacheSize, alpha = 100000, 10000, 0.8
	ctx := context.Background()
	for _, f := range fixtures(b) {
		b.Run(f.name, func(b *testing.B) {
			var reqs []engine.Request
			for _, r := range f.data.Requests(pool, 2) {
				reqs = append(reqs, toEngine(r))
			}
			traffic := datagen.Traffic(pool, 1<<20, alpha, 3)
			eng := engine.New(time.Second, cacheSize, engine.VM)
			eng.Swap(f.snap)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				d, _, err := eng.Evaluate(ctx, reqs[traffic[i%len(traffic)]])
				if err != nil || d.Err != nil {
					b.Fatalf("request %d: %v %v", traffic[i%len(traffic)], err, d.Err)
				}
				i++
			}
			st := eng.CacheStats()
			b.ReportMetric(float64(st.Hits)/float64(st.Hits+st.Misses), "hits/op")
		})
	}
}

// BenchmarkDecisionCacheHit is the hit path alone: 1,000 requests of the
// mix, decided once before the timer starts, then answered from the cache.
func BenchmarkDecisionCacheHit(b *testing.B) {
	ctx := context.Background()
	for _, f := range fixtures(b) {
		b.Run(f.name, func(b *testing.B) {
			eng := engine.New(time.Second, 10000, engine.VM)
			eng.Swap(f.snap)
			reqs := f.reqs[:1000]
			for _, r := range reqs {
				eng.Evaluate(ctx, r)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if d, _, _ := eng.Evaluate(ctx, reqs[i%len(reqs)]); !d.Cached {
					b.Fatal("a warmed request missed the cache")
				}
				i++
			}
		})
	}
}

// BenchmarkBatch is one batch of 10 consecutive requests of the mix
// (Engine.EvaluateBatch, execute_all): ns/op is per batch.
func BenchmarkBatch(b *testing.B) {
	const size = 10
	ctx := context.Background()
	for _, f := range fixtures(b) {
		b.Run(f.name, func(b *testing.B) {
			batches := make([][]engine.BatchItem, 0, len(f.reqs)/size)
			for i := 0; i+size <= len(f.reqs); i += size {
				items := make([]engine.BatchItem, size)
				for j := range items {
					items[j].Request = f.reqs[i+j]
				}
				batches = append(batches, items)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ds, _, err := f.eng.EvaluateBatch(ctx, batches[i%len(batches)], engine.ExecuteAll)
				if err != nil || len(ds) != size {
					b.Fatalf("batch %d: %v (%d decisions)", i%len(batches), err, len(ds))
				}
				i++
			}
		})
	}
}

// BenchmarkSearchActions lists the actions a subject may perform on a
// resource of the mix: one decision per action of the catalogue.
func BenchmarkSearchActions(b *testing.B) {
	ctx := context.Background()
	for _, f := range fixtures(b) {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				req := f.reqs[i%len(f.reqs)]
				req.Action = ""
				if _, _, err := f.eng.SearchActions(ctx, req); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkSearchSubjects lists the users that may perform an action of
// the mix on its resource: one decision per user of the account (100).
func BenchmarkSearchSubjects(b *testing.B) {
	ctx := context.Background()
	for _, f := range fixtures(b) {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				req := f.reqs[i%len(f.reqs)]
				req.Subject = engine.Entity{Type: "user"}
				if _, _, _, err := f.eng.SearchSubjects(ctx, req, "", 0); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkForwardAuth is one forward-auth check on the shipped policies and
// data (route table + decision), with the caches off and on (the same few
// requests repeat, as a proxy's do).
func BenchmarkForwardAuth(b *testing.B) {
	root := filepath.Join("..", "..")
	snap, err := policy.Build(context.Background(), policy.Sources{Policies: os.DirFS(filepath.Join(root, "policies")), Data: os.DirFS(filepath.Join(root, "data"))})
	if err != nil {
		b.Fatal(err)
	}
	reqs := []engine.HTTPRequest{
		{Method: "GET", Path: "/accounts/acme/workspaces/sales/documents/doc-1", User: "dave", Headers: map[string]string{"x-pdp-owner": "carol", "x-pdp-collaborators": "dave=view"}},
		{Method: "PUT", Path: "/accounts/acme/workspaces/sales/documents/doc-1", User: "dave", Headers: map[string]string{"x-pdp-owner": "carol"}},
		{Method: "GET", Path: "/accounts/acme/billing", User: "carol"},
		{Method: "DELETE", Path: "/accounts/acme/workspaces/legal/templates/t-9", User: "frank", Headers: map[string]string{"x-pdp-owner": "grace"}},
	}
	for _, size := range []int{0, 10000} {
		b.Run(fmt.Sprintf("cache=%d", size), func(b *testing.B) {
			eng := engine.New(time.Second, size, engine.VM)
			eng.Swap(snap)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, _, _, err := eng.ForwardAuth(context.Background(), reqs[i%len(reqs)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
