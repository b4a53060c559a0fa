package vm

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
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

// indexData is {"items": {"k0": "v0", ...}} with elements items over keys
// distinct values (keys < elements: values recur).
func indexData(elements, keys int) *ast.Term {
	var b strings.Builder
	b.WriteString(`{"items": {`)
	for i := range elements {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%d": "v%d"`, i, i%keys)
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
	data := indexData(1000, 1000)
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
		data := indexData(keys, keys)
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			for b.Loop() {
				if u := prog.WithData(data).Unfolded(); len(u) > 0 {
					b.Fatalf("unfolded %v", u)
				}
			}
		})
	}
}

// TestFoldedIndexHashes: indexes whose keys recur (several elements a key)
// or that nest (p[a][b] contains c) are built while folding with their
// objects rehashed once, when their function returns (objectInsert,
// rehash); the folded value is the one OPA's evaluator computes, with the
// same hash at every level, so sets and objects that hold or look it up
// agree.
func TestFoldedIndexHashes(t *testing.T) {
	c := ast.MustCompileModules(map[string]string{"p.rego": `package pdp.t
by_value[v] contains k if some k, v in data.items
by_pair[a][b] contains k if {
	some k, item in data.pairs
	a := item.a
	b := item.b
}
deep[a][b][c] contains k if {
	some k, item in data.pairs
	a := item.a
	b := item.b
	c := item.c
}
result := [by_value, by_pair, deep]`})
	var b strings.Builder
	b.WriteString(`{"items": {`)
	for i := range 3000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%d": "v%d"`, i, i%700) // 700 keys, 4-5 elements each
	}
	b.WriteString(`}, "pairs": {`)
	for i := range 3000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"p%d": {"a": "a%d", "b": "b%d", "c": %d}`, i, i%37, i%101, i%3)
	}
	b.WriteString("}}")
	data := ast.MustParseTerm(b.String())
	checkFoldedIndexes(t, compileQuery(t, c, "data.pdp.t.result"), c, data, "by_value", "by_pair", "deep")
}

// checkFoldedIndexes folds the indexes data.pdp.t.result lists (named in
// order) and checks they are OPA's values, with the hashes of the same
// values built afresh: the value OPA's evaluator returns has equal members
// but, built in place, not always the same hash, so the reference for
// hashes is OPA's value parsed again from its text.
func checkFoldedIndexes(t *testing.T, prog *Program, c *ast.Compiler, data *ast.Term, names ...string) {
	t.Helper()
	bound := prog.WithData(data)
	if u := bound.Unfolded(); len(u) > 0 {
		t.Fatalf("unfolded %v", u)
	}
	got, err := bound.Eval(context.Background(), time.Time{}, ast.NewTerm(ast.NewObject()), data)
	if err != nil {
		t.Fatal(err)
	}
	want := evalOPA(t, c, data, "data.pdp.t.result")
	if ast.Compare(got.Value, want.Value) != 0 {
		t.Fatalf("folded indexes differ from OPA's:\n%.500v\nwant\n%.500v", got, want)
	}
	gotArr, wantArr := got.Value.(*ast.Array), want.Value.(*ast.Array)
	for i, name := range names {
		fresh := ast.MustParseTerm(wantArr.Elem(i).String())
		if g, w := gotArr.Elem(i).Value.Hash(), fresh.Value.Hash(); g != w {
			t.Errorf("%s: hash %d, want %d (an object left with a stale hash)", name, g, w)
		}
		if set := ast.NewSet(fresh); !set.Contains(gotArr.Elem(i)) {
			t.Errorf("%s: a set holding the value built afresh does not find the folded one", name)
		}
	}
}

// evalOPA is query's value by OPA's evaluator, as AST.
func evalOPA(t *testing.T, c *ast.Compiler, data *ast.Term, query string) *ast.Term {
	t.Helper()
	ctx := context.Background()
	store := inmem.NewFromASTObject(data.Value.(ast.Object))
	txn := storage.NewTransactionOrDie(ctx, store)
	defer store.Abort(ctx, txn)
	rs, err := topdown.NewQuery(ast.MustParseBody("__x__ = " + query)).
		WithCompiler(c).WithStore(store).WithTransaction(txn).Run(ctx)
	if err != nil || len(rs) != 1 {
		t.Fatalf("OPA: %v %v", rs, err)
	}
	return rs[0][ast.Var("__x__")]
}

// BenchmarkWithDataIndexRecurringKeys: an index whose keys recur and one
// that nests, over 20,000 elements.
func BenchmarkWithDataIndexRecurringKeys(b *testing.B) {
	c := ast.MustCompileModules(map[string]string{"p.rego": `package pdp.t
by_value[v] contains k if some k, v in data.items
by_pair[a][v] contains k if {
	some k, v in data.items
	a := substring(v, 0, 3)
}
result := [by_value[input.v], by_pair[input.a][input.v]]`})
	prog, data := compileQuery(b, c, "data.pdp.t.result"), indexData(20000, 10000)
	for b.Loop() {
		if u := prog.WithData(data).Unfolded(); len(u) > 0 {
			b.Fatalf("unfolded %v", u)
		}
	}
}

// FuzzFoldedIndex: indexes folded from arbitrary data (keys and values
// drawn from a small alphabet, so that they recur, at one, two and three
// levels) are OPA's values, with the hashes of the same values built
// afresh.
func FuzzFoldedIndex(f *testing.F) {
	f.Add([]byte("abcabcabc"))
	f.Add([]byte{0, 1, 2, 0, 1, 2, 3, 3, 3, 250, 7})
	f.Add([]byte("aaaaaaaaaaaaaaaaaaaaaaab"))
	c := ast.MustCompileModules(map[string]string{"p.rego": `package pdp.t
one[v] contains k if {
	some k, item in data.items
	v := item[0]
}
two[a][b] contains k if {
	some k, item in data.items
	a := item[0]
	b := item[1]
}
three[a][b][x] contains k if {
	some k, item in data.items
	a := item[0]
	b := item[1]
	x := item[2]
}
result := [one, two, three]`})
	prog := compileQuery(f, c, "data.pdp.t.result")
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 600 {
			return
		}
		items := ast.NewObject()
		for i := 0; i+2 < len(b); i += 3 {
			item := ast.ArrayTerm(ast.StringTerm(string('a'+rune(b[i]%5))), ast.IntNumberTerm(int(b[i+1]%4)), ast.StringTerm(string('p'+rune(b[i+2]%3))))
			items.Insert(ast.StringTerm(fmt.Sprintf("k%d", i)), item)
		}
		data := ast.NewTerm(ast.NewObject([2]*ast.Term{ast.StringTerm("items"), ast.NewTerm(items)}))
		checkFoldedIndexes(t, prog, c, data, "one", "two", "three")
	})
}
