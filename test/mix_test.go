package test

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pdp-sidecar/pdp/internal/datagen"
	"github.com/pdp-sidecar/pdp/internal/engine"
	"github.com/pdp-sidecar/pdp/internal/pdptest"
	"github.com/pdp-sidecar/pdp/internal/policy"
)

var updateMix = flag.Bool("update-mix", false, "rewrite test/testdata/mix_decisions.jsonl.gz with the decisions the policies give now")

// mixDecision is what the policy answered to one request of the mix.
type mixDecision struct {
	Allow   bool     `json:"allow"`
	Reasons []string `json:"reasons"`
}

// TestMixDecisionsUnchanged pins every decision, reasons included, of a
// generated request mix (internal/datagen: every role, owned and shared
// resources, role groups, logs, transfers, malformed requests) and of edge
// variants of its requests (a resource type, an id, a property missing or
// of the wrong kind). It is a characterization test: it does not say what
// is right (the golden table and the Rego tests do), it says that a change
// to the policies that was meant to change nothing (a restructuring for
// speed) changed nothing. When the model changes on purpose, rewrite the
// file with `go test ./test -run TestMixDecisionsUnchanged -update-mix` and
// review the diff of the decisions it prints.
func TestMixDecisionsUnchanged(t *testing.T) {
	reqs := mixRequests()
	got := decideMix(t, reqs)
	path := mixFile
	if *updateMix {
		writeMix(t, path, got)
		t.Logf("wrote %d decisions to %s", len(got), path)
		return
	}
	want := readMix(t, path)
	if len(want) != len(reqs) {
		t.Fatalf("%s holds %d decisions, the mix has %d requests: the generator changed; rewrite it with -update-mix", path, len(want), len(reqs))
	}
	changed := 0
	for i := range reqs {
		if got[i].Allow == want[i].Allow && slices.Equal(got[i].Reasons, want[i].Reasons) {
			continue
		}
		if changed++; changed <= 10 {
			in, _ := json.Marshal(reqs[i])
			t.Errorf("request %d %s:\n got  %v %q\n want %v %q", i, in, got[i].Allow, got[i].Reasons, want[i].Allow, want[i].Reasons)
		}
	}
	if changed > 0 {
		t.Errorf("%d of %d decisions changed (if on purpose: -update-mix)", changed, len(reqs))
	}
	allowed := 0
	for _, d := range got {
		if d.Allow {
			allowed++
		}
	}
	if allowed == 0 || allowed == len(got) {
		t.Fatalf("%d of %d allowed: the mix must hold both", allowed, len(got))
	}
}

// mixData is the generated role data the mix is decided on.
func mixData() *datagen.Data { return datagen.Generate(3, 60, 7) }

// mixFile holds the mix's recorded decisions.
var mixFile = filepath.Join("testdata", "mix_decisions.jsonl.gz")

// mixRequests is the request mix and, for its first 400 requests, their
// edge variants. Deterministic: the same every run.
func mixRequests() []engine.Request {
	var out []engine.Request
	for i, r := range mixData().Requests(3000, 11) {
		base := engine.Request{
			Subject:  engine.Entity{Type: r.Subject.Type, ID: r.Subject.ID, Properties: r.Subject.Properties},
			Action:   r.Action.Name,
			Resource: engine.Entity{Type: r.Resource.Type, ID: r.Resource.ID, Properties: r.Resource.Properties},
		}
		out = append(out, base)
		if i >= 400 {
			continue
		}
		variant := func(change func(*engine.Request)) {
			v := base
			v.Resource.Properties = maps.Clone(base.Resource.Properties)
			change(&v)
			out = append(out, v)
		}
		variant(func(v *engine.Request) { v.Resource.Type = "account" })
		variant(func(v *engine.Request) { v.Resource.Type = "document" })
		variant(func(v *engine.Request) { v.Resource.ID = "" })
		variant(func(v *engine.Request) { v.Subject.Type = "group" })
		variant(func(v *engine.Request) { v.Subject.ID = "" })
		variant(func(v *engine.Request) { v.Resource.Properties = nil })
		for _, k := range slices.Sorted(maps.Keys(base.Resource.Properties)) {
			variant(func(v *engine.Request) { delete(v.Resource.Properties, k) })
			variant(func(v *engine.Request) { v.Resource.Properties[k] = []any{1.0, "x"} })
			variant(func(v *engine.Request) { v.Resource.Properties[k] = "nobody-" + k })
		}
	}
	return out
}

// decideMix decides every request with the repository's policies over
// mixData, in process, with the decision cache off.
func decideMix(t *testing.T, reqs []engine.Request) []mixDecision {
	t.Helper()
	ctx := context.Background()
	snap := snapshotOn(t, mixData())
	eng := engine.New(10*time.Second, 0, engine.VM)
	eng.Swap(snap)
	out := make([]mixDecision, len(reqs))
	for i, r := range reqs {
		d, _, err := eng.Evaluate(ctx, r)
		if err != nil || d.Err != nil {
			t.Fatalf("request %d: %v %v", i, err, d.Err)
		}
		out[i] = mixDecision{Allow: d.Allow, Reasons: d.Reasons}
	}
	return out
}

// snapshotOn builds the repository's policies over generated data.
func snapshotOn(t *testing.T, data *datagen.Data) *policy.Snapshot {
	t.Helper()
	snap, err := policy.Build(context.Background(), sourcesOn(t, data))
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// sourcesOn is the repository's policies and data, written to a temporary
// folder.
func sourcesOn(t *testing.T, data *datagen.Data) policy.Sources {
	t.Helper()
	dir := t.TempDir()
	if _, err := data.WriteIn(dir, datagen.FolderLayout); err != nil {
		t.Fatal(err)
	}
	return policy.Sources{
		Policies: os.DirFS(filepath.Join(pdptest.RepoRoot(), "policies")),
		Data:     os.DirFS(dir),
	}
}

func readMix(t *testing.T, path string) []mixDecision {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (create it with -update-mix)", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []mixDecision
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var d mixDecision
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("%s line %d: %v", path, len(out)+1, err)
		}
		out = append(out, d)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func writeMix(t *testing.T, path string, ds []mixDecision) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	for _, d := range ds {
		line, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(zw, "%s\n", line)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
