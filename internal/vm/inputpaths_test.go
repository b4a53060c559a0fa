package vm

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestAgreesWithOPAOnInputPaths: the ways input can reach a rule (an
// argument, a chain of rules, function and built-in mocks), which decide
// what WithData may fold, and the scan and empty-set paths, through OPA's
// evaluator and the vm with and without WithData. (Written by a review of
// the folding.)
func TestAgreesWithOPAOnInputPaths(t *testing.T) {
	data := ast.MustParseTerm(`{"accounts": {"a": {"owner": "o", "users": {"o": {"email": "O@x"}, "u": {}}}, "b": {"owner": "u"}, "c": {"owner": "o"}}, "limits": [1, 2, 3], "names": {"x": "1", "y": "nope"}, "tags": ["t1", "t2"]}`).Value.(ast.Object)
	inputs := []string{
		``, `{}`,
		`{"user": "o", "n": 2, "obj": {"p": 1, "q": 2}, "s": "1"}`,
		`{"user": "u", "n": 1.0, "obj": {"p": 1}, "s": "x"}`,
		`{"user": "zz", "n": "x", "obj": [1], "s": 1}`,
		`{"user": "o", "n": 2, "obj": {"p": "1", "q": "bad"}, "s": "1"}`,
	}
	policies := map[string]string{
		"input through an argument": `package pdp.t
f(x) := {a | some a, acct in data.accounts; acct.owner == x}
mine := f(input.user)
fixed := f("o")
result := {"mine": mine, "fixed": fixed}`,
		"input through a chain": `package pdp.t
u := input.user
g := x if { x := u }
h := {a | some a, acct in data.accounts; acct.owner == g}
k := count(h) + count(data.limits)
result := {"h": h, "k": k}`,
		"input through a mock by value": `package pdp.t
f(x) := x
idx := {a | some a, acct in data.accounts; acct.owner == f("o")}
result := r if { r := idx with f as "u" }`,
		"input through a mocked built-in": `package pdp.t
idx := {a | some a, acct in data.accounts; count(acct) == 1}
result := [idx, r] if { r := idx with count as 1 }`,
		"input through a mock by a function": `package pdp.t
f(x) := x
g(_) := input.user
idx := {a | some a, acct in data.accounts; acct.owner == f("o")}
result := [idx, r] if { r := idx with f as g }`,
		"input through a mock by a var": `package pdp.t
f(x) := x
idx := {a | some a, acct in data.accounts; acct.owner == f("o")}
result := r if {
	v := input.user
	y := idx with f as v
	r := [idx, y]
}`,
		"input through a mock by an input ref": `package pdp.t
f(x) := x
idx := {a | some a, acct in data.accounts; acct.owner == f("o")}
n := count(data.limits)
result := [idx, r, m] if {
	r := idx with f as input.user
	m := n with count as input.n
}`,
		"nested scans, early exits, errors": `package pdp.t
pairs := [[k, y] | some k, v in input.obj; some y in data.limits; y < 3; v != y]
firsts contains k if {
	some k, _ in input.obj
	some t in {"t1", "t2"}
	t == "t1"
}
nums := {k: n | some k, v in input.obj; n := to_number(v)}
anyn if {
	some _, v in input.obj
	some w in data.names
	to_number(w) == v
}
result := {"pairs": pairs, "firsts": firsts, "nums": nums, "anyn": anyn}`,
		"sets that stay empty": `package pdp.t
none contains x if { some x in data.limits; x > 10 }
maybe contains x if { some x in data.limits; x == input.n }
both := none | maybe
nested := {none, maybe}
obj := {"a": none, "b": maybe}
result := {"none": none, "maybe": maybe, "both": both, "nested": nested, "obj": obj, "in": set() in nested, "eq": none == set()}`,
	}
	for name, src := range policies {
		t.Run(name, func(t *testing.T) {
			c := ast.NewCompiler()
			if c.Compile(map[string]*ast.Module{"p.rego": ast.MustParseModule(src)}); c.Failed() {
				t.Fatal(c.Errors)
			}
			// Twice: the second run reuses states from the pool.
			for range 2 {
				for i, o := range both(t, c, data, "data.pdp.t.result", inputs) {
					// A vm error is answered again by OPA (engine.evaluate).
					if (o[1].err == nil && !agree(o[0], o[1])) || (o[2].err == nil && !agree(o[0], o[2])) || !agree(o[1], o[2]) || !agree(o[1], o[3]) || !agree(o[2], o[4]) {
						t.Errorf("input %d %s:\n OPA: %v\n  vm: %v\n  vm WithData: %v\n  vm, compact data: %v\n  vm WithData, compact data: %v", i, inputs[i], o[0], o[1], o[2], o[3], o[4])
					}
				}
			}
		})
	}
}
