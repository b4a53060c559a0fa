package test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/pdp-sidecar/pdp/internal/engine"
	"github.com/pdp-sidecar/pdp/internal/pdptest"
	"github.com/pdp-sidecar/pdp/internal/policy"
	"github.com/pdp-sidecar/pdp/internal/testfs"
)

// TestStoreAndASTDecideAlike decides the mix on a snapshot whose role
// data is a compact store and on one whose data is OPA's AST, with both
// evaluators: every decision is the recorded one.
func TestStoreAndASTDecideAlike(t *testing.T) {
	want := readMix(t, mixFile)
	reqs := mixRequests()
	policyFiles, dataFiles, err := policy.Read(sourcesOn(t, mixData()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, build := range []struct {
		form  string
		build func(context.Context, []policy.File, []policy.File) (*policy.Snapshot, error)
	}{{"compact", policy.BuildFiles}, {"ast", policy.BuildFilesUncompacted}} {
		snap, err := build.build(ctx, policyFiles, dataFiles)
		if err != nil {
			t.Fatal(err)
		}
		if compact := snap.CompactBytes() > 0; compact != (build.form == "compact") {
			t.Fatalf("%s: compact store of %d bytes", build.form, snap.CompactBytes())
		}
		for _, ev := range []engine.Evaluator{engine.VM, engine.Topdown} {
			eng := engine.New(10*time.Second, 0, ev)
			eng.Swap(snap)
			n := len(reqs)
			if ev == engine.Topdown {
				n = min(n, 1500) // OPA's evaluator is ten times slower
			}
			for i := range n {
				d, _, err := eng.Evaluate(ctx, reqs[i])
				if err != nil || d.Err != nil {
					t.Fatalf("%s, %s: request %d: %v %v", build.form, ev, i, err, d.Err)
				}
				if d.Allow != want[i].Allow || !slices.Equal(d.Reasons, want[i].Reasons) {
					t.Errorf("%s, %s: request %d: %v %q, recorded %v %q", build.form, ev, i, d.Allow, d.Reasons, want[i].Allow, want[i].Reasons)
				}
			}
		}
	}
}

// TestRoleDataFormFollowsEvaluator: with the vm deciding, the sidecar's
// role data is a compact store once it serves, and so is a reloaded
// snapshot's; with --evaluator topdown it stays OPA's AST, which OPA's
// evaluator reads faster, through reloads too. /v1/status says which
// (role_data), and the decisions are the same either way.
func TestRoleDataFormFollowsEvaluator(t *testing.T) {
	req := map[string]any{
		"subject":  map[string]any{"type": "user", "id": "zoe"},
		"action":   map[string]any{"name": "account.view_billing"},
		"resource": map[string]any{"type": "account", "id": "acme"},
	}
	for _, tc := range []struct{ evaluator, form string }{{"vm", "compact"}, {"topdown", "ast"}} {
		t.Run(tc.evaluator, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(filepath.Join(pdptest.RepoRoot(), "data"))); err != nil {
				t.Fatal(err)
			}
			cfg := pdptest.Config(t)
			cfg.Data, cfg.Evaluator = dir, tc.evaluator
			srv := pdptest.Start(t, cfg)
			form := func(when string) string {
				st := obsStatus(t, srv)
				rd, _ := st["role_data"].(map[string]any)
				bytes, _ := rd["bytes"].(float64)
				if rd["form"] != tc.form || (tc.form == "compact") != (bytes > 0) {
					t.Errorf("%s: role_data %v, want form %q", when, rd, tc.form)
				}
				return fmt.Sprint(st["revision"])
			}
			before := form("at start")
			first := srv.Post(t, "/access/v1/evaluation", req).JSON(t)

			// A new account: a reload builds a new snapshot.
			testfs.Write(t, dir, "accounts/initech/data.json", `{"name": "Initech", "owner": "peter", "users": {"peter": {"email": "peter@initech.test"}}}`)
			pdptest.Eventually(t, 10*time.Second, "the reload of the new account", func() bool {
				st := obsStatus(t, srv)
				return st["revision"] != before
			})
			form("after a reload")
			if again := srv.Post(t, "/access/v1/evaluation", req).JSON(t); !reflect.DeepEqual(again["decision"], first["decision"]) {
				t.Errorf("decision %v after the reload, %v before", again, first)
			}
		})
	}
}
