package vm

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// purePolicy has functions of their arguments alone (kept in tables across
// evaluations) and functions that also read input or data (not kept).
const purePolicy = `package pdp.t
verb(action) := replace(split(action, ".")[1], "_", " ")
echo(x) := [x, {"arg": x}]
text(x) := json.marshal(x)
two(a, b) := concat("/", [a, b]) if { a != b } else := "same"
nested(x) := upper(verb(x))
with_input(x) := concat(" ", [x, input.suffix])
with_data(x) := data.names[x]
upto(n) := numbers.range(1, n) if is_number(n)
result["verb"] := verb(input.action)
result["echo"] := echo(input.action)
result["text"] := text(input.n)
result["two"] := two(input.action, input.other)
result["nested"] := nested(input.action)
result["with_input"] := with_input(input.action)
result["with_data"] := with_data(input.action)
result["echo_other"] := echo(input.other)
result["upto"] := upto(input.n)`

func pureProgram(t *testing.T) *Program {
	t.Helper()
	c := ast.NewCompiler()
	c.Compile(map[string]*ast.Module{"p.rego": ast.MustParseModule(purePolicy)})
	if c.Failed() {
		t.Fatal(c.Errors)
	}
	return compileQuery(t, c, "data.pdp.t.result")
}

func pureFunc(p *Program, rule string) *function {
	for _, fn := range p.funcs {
		if ruleName(fn.name) == "data.pdp.t."+rule {
			return fn
		}
	}
	return nil
}

// TestPureFunctionsAreKept: the functions of their arguments alone get a
// table and the others do not; values read from the tables (the same
// arguments again, over many evaluations) are those computed afresh, an
// argument's text decides (1 and 1.0 differ to json.marshal), and a kept value
// does not change when the input term it was computed from is refilled.
func TestPureFunctionsAreKept(t *testing.T) {
	prog := pureProgram(t)
	for rule, pure := range map[string]bool{"verb": true, "echo": true, "text": true, "two": true, "nested": true, "with_input": false, "with_data": false} {
		fn := pureFunc(prog, rule)
		if fn == nil {
			t.Fatalf("no function for %s in the plan", rule)
		}
		if (fn.pure != nil) != pure {
			t.Errorf("%s: kept in a table %v, want %v", rule, fn.pure != nil, pure)
		}
	}
	data := ast.NewTerm(ast.MustParseTerm(`{"names": {"doc.view": "seen", "doc.add_user": "added"}}`).Value)
	inputs := []string{
		`{"action": "doc.view", "n": 1, "other": "doc.view", "suffix": "a"}`,
		`{"action": "doc.add_user", "n": 1.0, "other": "x", "suffix": "b"}`,
		`{"action": "doc.view", "n": 1.0, "other": "y", "suffix": "c"}`,
		`{"action": "doc.add_user", "n": 1, "other": "doc.add_user", "suffix": "d"}`,
		`{"action": "nodot", "n": true, "other": "z", "suffix": "e"}`,
		`{"action": "doc.view", "n": null, "other": "doc.view", "suffix": "f"}`,
		// A value kept for "doc.second" through input.other, then asked
		// for through input.action while input.other is another.
		`{"action": "doc.first", "n": 2, "other": "doc.second", "suffix": "g"}`,
		`{"action": "doc.second", "n": 3, "other": "doc.third", "suffix": "h"}`,
		`{"action": "doc.second", "n": 1000, "other": "doc.third", "suffix": "i"}`,
	}
	// One input document whose member terms are refilled in place for
	// every evaluation, as the engine's pooled inputs are: a kept value
	// that held an argument's term would change with it.
	keys := []string{"action", "n", "other", "suffix"}
	members := make([][2]*ast.Term, len(keys))
	for i, k := range keys {
		members[i] = [2]*ast.Term{ast.StringTerm(k), ast.NullTerm()}
	}
	obj := ast.NewObject(members...)
	in := ast.NewTerm(obj)
	var first []*ast.Term
	for round := range 3 {
		for i, s := range inputs {
			parsed := ast.MustParseTerm(s).Value.(ast.Object)
			for _, m := range members {
				m[1].Value = parsed.Get(m[0]).Value
			}
			obj.Insert(members[0][0], members[0][1]) // rehash, as the engine does
			got, err := prog.Eval(context.Background(), time.Time{}, in, data)
			if err != nil {
				t.Fatal(err)
			}
			fresh, err := pureProgram(t).Eval(context.Background(), time.Time{}, ast.MustParseTerm(s), data)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(fresh) {
				t.Fatalf("round %d, input %d: %v, computed afresh %v", round, i, got, fresh)
			}
			if round == 0 {
				first = append(first, got.Copy())
			} else if !first[i].Equal(got) {
				t.Fatalf("round %d, input %d: %v, first %v", round, i, got, first[i])
			}
		}
	}
	if v := first[0].Value.(ast.Object).Get(ast.StringTerm("text")); !v.Equal(ast.StringTerm("1")) {
		t.Errorf("text(1) = %v, want \"1\"", v)
	}
	if v := first[1].Value.(ast.Object).Get(ast.StringTerm("text")); !v.Equal(ast.StringTerm("1.0")) {
		t.Errorf("text(1.0) = %v, want \"1.0\"", v)
	}
	for _, rule := range []string{"verb", "echo", "text", "two", "nested", "upto"} {
		if n := pureFunc(prog, rule).pure.n.Load(); n == 0 {
			t.Errorf("%s: nothing kept", rule)
		}
	}
	// upto(1000), 1,000 terms, is not kept; upto(2) and upto(3) are.
	upto := pureFunc(prog, "upto").pure
	for _, n := range []string{"2", "3", "1000"} {
		arg := []*ast.Term{ast.NumberTerm(json.Number(n))}
		h, _ := pureKey(arg)
		if _, kept := upto.get(h, arg); kept != (n != "1000") {
			t.Errorf("upto(%s) kept: %v", n, kept)
		}
	}
	long := []*ast.Term{ast.StringTerm(strings.Repeat("x", pureArgText+1))}
	if _, ok := pureKey(long); ok {
		t.Error("a key of more than pureArgText bytes")
	}
}

// TestPureTableFull: past pureMax arguments a function is computed at
// every call, and its values stay right.
func TestPureTableFull(t *testing.T) {
	prog := pureProgram(t)
	data := ast.NewTerm(ast.MustParseTerm(`{"names": {}}`).Value)
	for i := range pureMax + 50 {
		action := fmt.Sprintf("doc.do_%d_thing", i)
		in := ast.MustParseTerm(fmt.Sprintf(`{"action": %q, "n": %d, "other": "o", "suffix": "s"}`, action, i))
		got, err := prog.Eval(context.Background(), time.Time{}, in, data)
		if err != nil {
			t.Fatal(err)
		}
		want := ast.StringTerm(fmt.Sprintf("do %d thing", i))
		if v := got.Value.(ast.Object).Get(ast.StringTerm("verb")); !v.Equal(want) {
			t.Fatalf("%d: verb %v, want %v", i, v, want)
		}
	}
	if n := pureFunc(prog, "verb").pure.n.Load(); n != pureMax {
		t.Errorf("verb's table holds %d values, want %d (full)", n, pureMax)
	}
}

// TestPureConcurrent: evaluations on many goroutines share the tables
// (run it with -race).
func TestPureConcurrent(t *testing.T) {
	prog := pureProgram(t)
	data := ast.NewTerm(ast.MustParseTerm(`{"names": {}}`).Value)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				k := (i*7 + g) % 40
				in := ast.MustParseTerm(fmt.Sprintf(`{"action": "doc.act_%d", "n": %d, "other": "o", "suffix": "s"}`, k, k))
				got, err := prog.Eval(context.Background(), time.Time{}, in, data)
				if err != nil {
					errs <- err
					return
				}
				want := ast.StringTerm(fmt.Sprintf("ACT %d", k))
				if v := got.Value.(ast.Object).Get(ast.StringTerm("nested")); !v.Equal(want) {
					errs <- fmt.Errorf("nested %v, want %v", v, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
