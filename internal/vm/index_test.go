package vm

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
)

const indexPolicy = `package pdp.t
idx[v] contains k if some k, v in data.items
result := idx[input.v]`

func indexProgram(tb testing.TB) (*Program, *ir.Policy) {
	tb.Helper()
	c := ast.MustCompileModules(map[string]string{"p.rego": indexPolicy})
	plan, err := Plan(context.Background(), c, "data.pdp.t.result")
	if err != nil {
		tb.Fatal(err)
	}
	prog, err := Compile(plan)
	if err != nil {
		tb.Fatal(err)
	}
	return prog, plan
}

func indexData(keys int) *ast.Term {
	var b strings.Builder
	b.WriteString(`{"items": {`)
	for i := range keys {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%d": "v%d"`, i, i)
	}
	b.WriteString("}}")
	return ast.MustParseTerm(b.String())
}

// TestMultiValueRuleInsertsOnce: OPA's planner emits two identical
// ObjectInsertStmts in a row for each element of a multi-value rule, and
// the vm runs one: the second changes nothing but makes OPA's object rehash
// all its members, which made an index over n keys cost n². The index
// still holds every element.
func TestMultiValueRuleInsertsOnce(t *testing.T) {
	prog, plan := indexProgram(t)
	var fn *ir.Func
	for _, f := range plan.Funcs.Funcs {
		if f.Name == "g0.data.pdp.t.idx" {
			fn = f
		}
	}
	if fn == nil {
		t.Fatal("no function for data.pdp.t.idx in the plan")
	}
	pairs := 0
	var walk func(bs []*ir.Block)
	walk = func(bs []*ir.Block) {
		for _, b := range bs {
			for i, s := range b.Stmts {
				if i > 0 && sameObjectInsert(b.Stmts[i-1], s) {
					pairs++
				}
				switch s := s.(type) {
				case *ir.BlockStmt:
					walk(s.Blocks)
				case *ir.ScanStmt:
					walk([]*ir.Block{s.Block})
				case *ir.NotStmt:
					walk([]*ir.Block{s.Block})
				}
			}
		}
	}
	walk(fn.Blocks)
	if pairs != 1 {
		t.Fatalf("the plan of a multi-value rule has %d pairs of identical inserts, want 1 (OPA's planner changed: revisit sameObjectInsert)", pairs)
	}
	data := indexData(1000)
	bound := prog.WithData(data)
	if u := bound.Unfolded(); len(u) > 0 {
		t.Fatalf("unfolded %v", u)
	}
	for _, v := range []string{"v0", "v517", "v999"} {
		got, err := bound.Eval(context.Background(), time.Time{}, ast.MustParseTerm(`{"v": "`+v+`"}`), data)
		want := ast.NewTerm(ast.NewSet(ast.StringTerm("k" + v[1:])))
		if err != nil || got == nil || !got.Equal(want) {
			t.Errorf("idx[%s] = %v, %v; want %v", v, got, err, want)
		}
	}
}

// BenchmarkWithDataIndex: computing a multi-value index grows linearly
// with its keys (go test ./internal/vm -run '^$' -bench WithDataIndex).
func BenchmarkWithDataIndex(b *testing.B) {
	prog, _ := indexProgram(b)
	for _, keys := range []int{1000, 10000, 100000} {
		data := indexData(keys)
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			for b.Loop() {
				if u := prog.WithData(data).Unfolded(); len(u) > 0 {
					b.Fatalf("unfolded %v", u)
				}
			}
		})
	}
}
