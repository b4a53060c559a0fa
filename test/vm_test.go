package test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/pdp-sidecar/pdp/internal/datagen"
	"github.com/pdp-sidecar/pdp/internal/engine"
)

// TestVMAgreesWithTopdown decides the pinned mix and 20,000 more generated
// requests (each fourth with a property dropped, retyped or renamed) with
// both evaluators on the same snapshot: package vm, which serves
// decisions, and OPA's own evaluator. Every decision, reasons and error
// code included, must be the same.
func TestVMAgreesWithTopdown(t *testing.T) {
	data := datagen.Generate(4, 50, 3)
	ctx := context.Background()
	snap := snapshotOn(t, data)
	if snap.DecisionVM == nil {
		t.Fatalf("package vm refused the repository's policies: %s", snap.VMRefused)
	}
	vmEng := engine.New(10*time.Second, 0, engine.VM)
	vmEng.Swap(snap)
	tdEng := engine.New(10*time.Second, 0, engine.Topdown)
	tdEng.Swap(snap)
	if s := vmEng.EvaluatorState(); s.Serving != engine.VM {
		t.Fatalf("evaluator state %+v, want vm serving", s)
	}
	if s := tdEng.EvaluatorState(); s.Serving != engine.Topdown {
		t.Fatalf("evaluator state %+v, want topdown serving", s)
	}

	reqs := mixRequests()
	for i, r := range data.Requests(20000, 5) {
		req := engine.Request{
			Subject:  engine.Entity{Type: r.Subject.Type, ID: r.Subject.ID, Properties: r.Subject.Properties},
			Action:   r.Action.Name,
			Resource: engine.Entity{Type: r.Resource.Type, ID: r.Resource.ID, Properties: maps.Clone(r.Resource.Properties)},
		}
		if keys := slices.Sorted(maps.Keys(req.Resource.Properties)); i%4 == 0 && len(keys) > 0 {
			k := keys[i/4%len(keys)]
			switch i / 4 % 3 {
			case 0:
				delete(req.Resource.Properties, k)
			case 1:
				req.Resource.Properties[k] = map[string]any{"x": []any{true, nil}}
			case 2:
				req.Resource.Properties[k] = "nobody"
			}
		}
		reqs = append(reqs, req)
	}
	differ, allowed := 0, 0
	for i, r := range reqs {
		a, _, errA := vmEng.Evaluate(ctx, r)
		b, _, errB := tdEng.Evaluate(ctx, r)
		if errA != nil || errB != nil {
			t.Fatalf("request %d: %v, %v", i, errA, errB)
		}
		if a.Allow {
			allowed++
		}
		if a.Allow == b.Allow && slices.Equal(a.Reasons, b.Reasons) && errCode(a) == errCode(b) {
			continue
		}
		if differ++; differ <= 10 {
			in, _ := json.Marshal(r)
			t.Errorf("request %d %s:\n vm      %v %q %s\n topdown %v %q %s", i, in, a.Allow, a.Reasons, errCode(a), b.Allow, b.Reasons, errCode(b))
		}
	}
	if differ > 0 {
		t.Fatalf("%d of %d decisions differ", differ, len(reqs))
	}
	if allowed == 0 || allowed == len(reqs) {
		t.Fatalf("%d of %d allowed: the requests must hold both", allowed, len(reqs))
	}
	t.Logf("%d decisions (%d allowed) identical", len(reqs), allowed)
}

func errCode(d engine.Decision) string {
	if d.Err == nil {
		return ""
	}
	return d.Err.Code
}
