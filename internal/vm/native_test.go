package vm

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/pdp-sidecar/pdp/internal/docstore"
)

// asNative is t with its sets made setValues and its objects of string
// keys records (with an absent member besides, when absent is set), as
// the vm holds the values a plan builds.
func asNative(t *ast.Term, absent bool) *ast.Term {
	switch v := t.Value.(type) {
	case ast.Set:
		s := &setValue{}
		v.Foreach(func(x *ast.Term) { s.add(asNative(x, absent)) })
		return ast.NewTerm(s)
	case ast.Object:
		keys, ok := stringKeys(v)
		if !ok {
			return t
		}
		all := keys
		if absent {
			all = append([]string{"", "m", "zz"}, keys...) // before, between and after the others
			all = dedupe(all)
		}
		r := NewRecord(all...)
		for _, k := range keys {
			r.Set(k, asNative(v.Get(ast.StringTerm(k)), absent))
		}
		return ast.NewTerm(r)
	}
	return t
}

func dedupe(keys []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// TestCompareTerms: the vm's own sets and records compare, among
// themselves and with OPA's values, as their AST does (ast.Compare): the
// order a setValue keeps its members in, its dedupe, and the vm's
// equality tests depend on it.
func TestCompareTerms(t *testing.T) {
	var values []*ast.Term
	for _, s := range []string{
		`null`, `false`, `true`, `1`, `1.0`, `2`, `"a"`, `"b"`, `""`, `[]`, `[1]`, `[1, 2]`, `[{1}]`,
		`{}`, `{"a": 1}`, `{"a": 1.0}`, `{"a": 1, "b": 2}`, `{"b": 0}`, `{"a": 2}`, `{"a": {1}}`, `{"a": {1, 2}}`,
		`{"m": 1}`, `{"a": 1, "m": 1}`, `{"": 1}`, `{"zz": null}`, `{"a": {"b": {2}}}`, `{1: 2}`, `{"a": [1]}`,
		`{1}`, `{1, 2}`, `{2}`, `{1, 2, 3}`, `{{1}, {2}}`, `{{1}}`, `{{"a": 1}}`, `{{"a": 1}, {"b": 0}}`, `{[1], "x"}`,
		`{"a", "b"}`, `{"b"}`, `{{"a": 1, "b": 2}, {"a": 1}}`, `{{"m": 1}, {"a": 1, "m": 1}}`,
	} {
		values = append(values, ast.MustParseTerm(s))
	}
	values = append(values, ast.NewTerm(ast.NewSet()), ast.SetTerm(ast.NewTerm(ast.NewSet())))
	sign := func(c int) int { return cmp.Compare(c, 0) }
	// Views of the data: objects and arrays, compared with everything.
	doc := ast.MustParseTerm(`{"arr": [1], "arr2": [1, 2], "obj": {"a": 1}, "obj2": {"b": 0}, "eobj": {}, "earr": []}`)
	store, err := docstore.Build(doc.Value.(ast.Object))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"arr", "arr2", "obj", "obj2", "eobj", "earr"} {
		r, _ := store.Get(store.Root(), k)
		v := ast.NewTerm(&view{s: store, r: r})
		for _, b := range values {
			want := sign(ast.Compare(solid(v), b))
			for _, nb := range []*ast.Term{b, asNative(b, false)} {
				if got := sign(compareTerms(v, nb)); got != want {
					t.Errorf("compareTerms(view of %s, %v) = %d, ast.Compare %d", k, b, got, want)
				}
				if got := sign(compareTerms(nb, v)); got != -want {
					t.Errorf("compareTerms(%v, view of %s) = %d, ast.Compare %d", b, k, got, -want)
				}
			}
		}
	}
	for _, absent := range []bool{false, true} {
		for _, a := range values {
			for _, b := range values {
				want := sign(ast.Compare(a, b))
				na, nb := asNative(a, absent), asNative(b, absent)
				for _, c := range []struct {
					name string
					x, y *ast.Term
				}{{"native", na, nb}, {"native, OPA", na, b}, {"OPA, native", a, nb}} {
					if got := sign(compareTerms(c.x, c.y)); got != want {
						t.Errorf("%s (absent members %v): compareTerms(%v, %v) = %d, ast.Compare %d", c.name, absent, a, b, got, want)
					}
				}
				if got := solid(na); !got.Equal(a) || got.Hash() != a.Hash() {
					t.Errorf("solid(%v) = %v (hash %d, want %d)", a, got, got.Hash(), a.Hash())
				}
			}
		}
	}
}

// TestSetValue: a setValue's members stay sorted and distinct as OPA's
// set would hold them (1 and 1.0 are one member), and count, membership
// and union read them as OPA's set does.
func TestSetValue(t *testing.T) {
	s := &setValue{}
	for _, x := range []string{`"b"`, `2`, `1`, `"a"`, `1.0`, `{"k": 1}`, `"b"`, `[1]`, `null`, `{1}`} {
		s.add(ast.MustParseTerm(x))
	}
	want := ast.MustParseTerm(`{"b", 2, 1, "a", {"k": 1}, [1], null, {1}}`)
	if got := solid(ast.NewTerm(s)); !got.Equal(want) {
		t.Fatalf("set %v, want %v", got, want)
	}
	ws, _ := want.Value.(ast.Set)
	if len(s.elems) != ws.Len() {
		t.Fatalf("%d members, want %d", len(s.elems), ws.Len())
	}
	ws.Foreach(func(x *ast.Term) {
		if !s.contains(x) {
			t.Errorf("%v not found", x)
		}
	})
	for i := 1; i < len(s.elems); i++ {
		if ast.Compare(s.elems[i-1], s.elems[i]) >= 0 {
			t.Errorf("members %v and %v out of order", s.elems[i-1], s.elems[i])
		}
	}
	if s.contains(ast.StringTerm("c")) {
		t.Error(`"c" found`)
	}
	other := &setValue{}
	for _, x := range []string{`"c"`, `1`, `null`, `3`} {
		other.add(ast.MustParseTerm(x))
	}
	u := union(s.elems, other.elems)
	wantU := ws.Union(ast.MustParseTerm(`{"c", 1, null, 3}`).Value.(ast.Set))
	if got := solid(u); !got.Equal(ast.NewTerm(wantU)) || len(u.Value.(*setValue).elems) != wantU.Len() {
		t.Errorf("union %v, want %v", got, wantU)
	}
}

// TestScalarStrings: a string of the data read again in one evaluation is
// the term made the first time (state.scalars), and only that string's:
// forty strings share sixteen slots, read in and out of order, and two
// stores' same node are told apart.
func TestScalarStrings(t *testing.T) {
	var names, pairs []string
	for i := range 40 {
		names = append(names, fmt.Sprintf(`"n%d"`, i))
		pairs = append(pairs, fmt.Sprintf(`"k%d": "v%d"`, i, i))
	}
	data := ast.MustParseTerm(`{"names": [` + strings.Join(names, ", ") + `], "by": {` + strings.Join(pairs, ", ") + `}}`).Value.(ast.Object)
	c := ast.NewCompiler().WithStrict(true)
	if c.Compile(map[string]*ast.Module{"p.rego": ast.MustParseModule(`package pdp.t
keys := ["k1", "k17", "k33", "k1", input.k, "k39", "k17"]
result := {
	"names": [x | some x in data.names],
	"again": [data.names[i] | some i in [0, 16, 32, 0, 16, 39, 23]],
	"by": [data.by[k] | some k in keys],
	"same": [s | some k in keys; s := data.by[k] == data.by.k1],
}`)}); c.Failed() {
		t.Fatal(c.Errors)
	}
	for i, o := range both(t, c, data, "data.pdp.t.result", []string{`{"k": "k1"}`, `{"k": "k2"}`, `{"k": "k18"}`}) {
		if !agree(o[0], o[3]) || !agree(o[0], o[4]) {
			t.Errorf("input %d:\n OPA: %v\n  vm, compact data: %v\n  vm WithData, compact data: %v", i, o[0], o[3], o[4])
		}
	}
	a, err := docstore.Build(ast.MustParseTerm(`{"x": "from a"}`).Value.(ast.Object))
	if err != nil {
		t.Fatal(err)
	}
	b, err := docstore.Build(ast.MustParseTerm(`{"x": "from b"}`).Value.(ast.Object))
	if err != nil {
		t.Fatal(err)
	}
	st := getState(&Program{}, context.Background())
	defer putState(st)
	ra, _ := a.Get(a.Root(), "x")
	rb, _ := b.Get(b.Root(), "x")
	if ra != rb {
		t.Fatalf("the two stores' x are nodes %d and %d: the test wants the same node", ra, rb)
	}
	if x, y := st.node(a, ra), st.node(b, rb); x.Equal(y) {
		t.Errorf("store a's x is %v, store b's %v", x, y)
	}
	if x, y := st.node(a, ra), st.node(a, ra); x != y {
		t.Errorf("store a's x read twice made two terms")
	}
}
