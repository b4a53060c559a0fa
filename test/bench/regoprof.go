package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/profiler"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/pdp-sidecar/pdp/internal/policy"
)

// regoProfileRows is how many Rego lines the profile prints.
var regoProfileRows = 30

// regoProfile decides n requests of the mix in process on a snapshot built
// like pdp builds it, warm, with OPA's expression profiler, and prints the
// Rego lines the decision spends most on (time is inflated by tracing;
// compare lines with each other) and how often each runs per decision.
func regoProfile(ctx context.Context, w io.Writer, root string, ds *dataset, n int) error {
	policies := filepath.Join(root, "policies")
	began := time.Now()
	snap, err := policy.Build(ctx, policy.Sources{Policies: os.DirFS(policies), Data: os.DirFS(ds.dir)})
	if err != nil {
		return err
	}
	build := time.Since(began)
	inputs := make([]ast.Value, n)
	for i := range inputs {
		v, err := ast.ValueFromReader(strings.NewReader(string(ds.bodies[i%len(ds.bodies)])))
		if err != nil {
			return err
		}
		inputs[i] = v
	}
	// Warm up, and time the decisions without tracing.
	for _, in := range inputs {
		if _, err := snap.Decision.Eval(ctx, rego.EvalParsedInput(in)); err != nil {
			return err
		}
	}
	began = time.Now()
	for _, in := range inputs {
		if _, err := snap.Decision.Eval(ctx, rego.EvalParsedInput(in)); err != nil {
			return err
		}
	}
	plain := time.Since(began) / time.Duration(n)

	type key struct {
		file string
		row  int
	}
	type stat struct {
		ns          int64
		evals, redo int
	}
	totals := map[key]*stat{}
	var traced int64
	for _, in := range inputs {
		p := profiler.New()
		if _, err := snap.Decision.Eval(ctx, rego.EvalParsedInput(in), rego.EvalQueryTracer(p)); err != nil {
			return err
		}
		for _, s := range p.ReportTopNResults(0, []string{"total_time_ns"}) {
			if s.Location == nil {
				continue
			}
			k := key{s.Location.File, s.Location.Row}
			t := totals[k]
			if t == nil {
				t = &stat{}
				totals[k] = t
			}
			t.ns += s.ExprTimeNs
			t.evals += s.NumEval
			t.redo += s.NumRedo
			traced += s.ExprTimeNs
		}
	}
	keys := make([]key, 0, len(totals))
	for k := range totals {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return int(totals[b].ns - totals[a].ns) })

	source := map[string][]string{}
	line := func(k key) string {
		lines, ok := source[k.file]
		if !ok {
			raw, _ := os.ReadFile(filepath.Join(policies, filepath.FromSlash(k.file)))
			lines = strings.Split(string(raw), "\n")
			source[k.file] = lines
		}
		if k.row < 1 || k.row > len(lines) {
			return ""
		}
		l := strings.TrimSpace(lines[k.row-1])
		if len([]rune(l)) > 90 {
			l = string([]rune(l)[:89]) + "…"
		}
		return l
	}
	fmt.Fprintf(w, "## Rego expression profile: %d decisions of the mix on %s\n\n", n, ds.desc)
	fmt.Fprintf(w, "snapshot build %s; a decision takes %s untraced (PreparedEvalQuery.Eval, warm); shares below are of traced time\n\n",
		build.Round(time.Millisecond), dur(plain))
	t := table{head: []string{"share", "evals/decision", "redos/decision", "location", "source"}}
	for _, k := range keys[:min(regoProfileRows, len(keys))] {
		s := totals[k]
		t.add(fmt.Sprintf("%.1f%%", 100*float64(s.ns)/float64(traced)), fmt.Sprintf("%.1f", float64(s.evals)/float64(n)),
			fmt.Sprintf("%.1f", float64(s.redo)/float64(n)), fmt.Sprintf("%s:%d", k.file, k.row), "`"+strings.ReplaceAll(line(k), "|", `\|`)+"`")
	}
	t.print(w)
	return nil
}
