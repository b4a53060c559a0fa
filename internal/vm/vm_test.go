package vm

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/pdp-sidecar/pdp/internal/docstore"
)

// outcome is what one evaluator made of a query: a value, undefined, or
// an error of some code.
type outcome struct {
	value   *ast.Term // nil: undefined (or an error)
	errCode string    // "" when it did not fail
	err     error
}

func (o outcome) String() string {
	switch {
	case o.err != nil:
		return "error " + o.errCode + ": " + o.err.Error()
	case o.value == nil:
		return "undefined"
	}
	return o.value.String()
}

func errCodeOf(err error) string {
	var te *topdown.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return "other"
}

// both evaluates query with OPA's evaluator (strict built-in errors, as
// pdp prepares its queries), with a Program compiled from its plan, and
// with that Program readied for the data (WithData): [0] OPA, [1] the vm
// and [2] the vm WithData on the data's AST, [3] and [4] the same on the
// data held compact (views of a docstore.Store).
func both(t *testing.T, c *ast.Compiler, data ast.Object, query string, inputs []string) [][5]outcome {
	t.Helper()
	ctx := context.Background()
	pq, err := rego.New(rego.Query(query), rego.Compiler(c), rego.Store(inmem.NewFromASTObject(data)), rego.StrictBuiltinErrors(true)).PrepareForEval(ctx)
	if err != nil {
		t.Fatal(err)
	}
	prog := compileQuery(t, c, query)
	dataTerm := ast.NewTerm(data)
	bound := prog.WithData(dataTerm)
	compact, err := docstore.Build(data)
	if err != nil {
		t.Fatal(err)
	}
	compactTerm := DataTerm(compact)
	boundCompact := prog.WithData(compactTerm)
	var out [][5]outcome
	for _, in := range inputs {
		var input *ast.Term
		var opts []rego.EvalOption
		if in != "" {
			input = ast.MustParseTerm(in)
			opts = append(opts, rego.EvalParsedInput(input.Value))
		}
		var td outcome
		rs, err := pq.Eval(ctx, opts...)
		switch {
		case err != nil:
			td = outcome{err: err, errCode: errCodeOf(err)}
		case len(rs) > 0:
			v, err := ast.InterfaceToValue(rs[0].Expressions[0].Value)
			if err != nil {
				t.Fatal(err)
			}
			td = outcome{value: ast.NewTerm(v)}
		}
		vm := func(p *Program, data *ast.Term) outcome {
			v, err := p.Eval(ctx, time.Time{}, input, data)
			switch {
			case err != nil:
				return outcome{err: err, errCode: errCodeOf(err)}
			case v != nil: // as rego gives it: sets become arrays
				j, err := ast.JSON(solid(v).Value) // a record at the top (Eval)
				if err != nil {
					t.Fatal(err)
				}
				return outcome{value: ast.NewTerm(ast.MustInterfaceToValue(j))}
			}
			return outcome{}
		}
		o := [5]outcome{td, vm(prog, ast.NewTerm(data)), vm(bound, dataTerm), vm(prog, DataTerm(compact)), vm(boundCompact, compactTerm)}
		// The input's objects as records (the engine's inputs): the same
		// outcome as with the input's AST, on the compact data.
		if input != nil {
			savedIn := input
			input = asRecords(input)
			rec := vm(boundCompact, compactTerm)
			input = savedIn
			if !agree(rec, o[4]) && !(rec.err != nil && o[4].err != nil && rec.err.Error() == o[4].err.Error()) {
				t.Errorf("input %s as records: %v, with its AST %v", in, rec, o[4])
			}
		}
		out = append(out, o)
	}
	return out
}

// asRecords is t with every object of string keys a Record (nested ones
// too), as the engine gives the vm its input.
func asRecords(t *ast.Term) *ast.Term {
	obj, ok := t.Value.(ast.Object)
	if !ok {
		return t
	}
	keys, ok := stringKeys(obj)
	if !ok {
		return t
	}
	r := NewRecord(keys...)
	for _, k := range keys {
		r.Set(k, asRecords(obj.Get(ast.StringTerm(k))))
	}
	return ast.NewTerm(r)
}

// stringKeys is obj's keys in order, false when one is not a string (a
// record cannot hold obj).
func stringKeys(obj ast.Object) ([]string, bool) {
	var keys []string
	for _, k := range obj.Keys() {
		s, ok := k.Value.(ast.String)
		if !ok {
			return nil, false
		}
		keys = append(keys, string(s))
	}
	return keys, true
}

// compileQuery plans and compiles query, failing the test on an error.
func compileQuery(t testing.TB, c *ast.Compiler, query string) *Program {
	t.Helper()
	plan, err := Plan(context.Background(), c, query)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := Compile(plan)
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

func agree(a, b outcome) bool {
	switch {
	case a.err != nil || b.err != nil:
		return a.err != nil && b.err != nil && a.errCode == b.errCode
	case a.value == nil || b.value == nil:
		return a.value == nil && b.value == nil
	}
	return a.value.Equal(b.value)
}

// agreeOrLeft is agree, or the vm left the evaluation to OPA's evaluator
// (ErrPathKey: the engine then asks OPA, whose answer stands).
func agreeOrLeft(opa, vm outcome) bool {
	return errors.Is(vm.err, ErrPathKey) || agree(opa, vm)
}

// TestAgreesWithOPA runs small policies that use every construct the
// planner has a statement for, on inputs that take each path, through
// OPA's evaluator and through the VM: the answers must be the same.
func TestAgreesWithOPA(t *testing.T) {
	data := ast.MustParseTerm(`{"accounts": {"a": {"owner": "o", "users": {"o": {"email": "O@x"}, "u": {}}, "groups": {"g1": ["u"], "g2": ["o", "u"]}}, "b": {"owner": "u"}}, "limits": [1, 2, 3], "pdp": {"base": {"k": 1}}}`).Value.(ast.Object)
	inputs := []string{
		``,
		`{}`,
		`{"user": "o", "account": "a", "n": 2, "l": [1, 2, 3], "s": "Hello"}`,
		`{"user": "u", "account": "a", "n": 2.0, "l": [], "s": ""}`,
		`{"user": "u", "account": "b", "n": "2", "l": [3, "x", null], "s": 7}`,
		`{"user": "nobody", "account": "zzz", "n": 0, "l": {"a": 1}, "s": ["x"]}`,
		`{"user": 1, "account": ["a"], "n": -1, "l": [[1], {"k": [2]}], "s": "a,b,c", "obj": {"x": 1, "y": 2}}`,
		`{"action": "conflict"}`,
		`{"action": "to_number", "s": "nope"}`,
		`{"action": "to_number", "s": "12"}`,
		`{"action": "divide", "n": 0}`,
		`{"action": "divide", "n": 4}`,
		`{"action": "broken"}`,
		`{"user": "o", "s": "o@X"}`,
	}
	policies := map[string]string{
		// Data's objects and arrays wherever a value can go: the vm walks
		// compact data as views, and must build their AST wherever OPA's
		// own code would meet them.
		"data containers everywhere": `package pdp.t
acct := data.accounts[input.account]
whole := data.accounts
same_limits if input.l == data.limits
differs if data.limits != input.l
keyed[data.accounts.a.groups.g1] := "by array" if input.account == "a"
members contains m if some m in data.accounts[input.account].groups
values contains v if some _, v in data.accounts[input.account].users
elems := [x | some x in data.limits]
n_users := count(data.accounts[input.account].users)
n_limits := count(data.limits)
is_obj := is_object(data.accounts[input.account])
is_arr := is_array(data.limits)
not_set := is_set(data.limits)
is_str := is_string(data.accounts[input.account])
has_u := "u" in data.accounts[input.account].groups.g2
has_limit := input.n in data.limits
has_user := {} in data.accounts[input.account].users
group_in := data.accounts.a.groups.g1 in data.accounts[input.account].groups
picked := object.get(data.accounts, [input.account, "users"], "none")
text := json.marshal(data.accounts[input.account])
union := object.union(data.accounts[input.account], {"extra": input.n})
cmp_lt := data.limits < [1, 2, 4]
eq := data.accounts.a.users == data.accounts[input.account].users
nested := {"limits": data.limits, "acct": [acct]}
same if acct == whole[input.account]
first := data.limits[0]
last := data.limits[count(data.limits) - 1]
by_index := data.limits[input.n]
walked := [k | some k, _ in data.pdp.base]
result := {"acct": acct, "same_limits": same_limits, "differs": differs, "keyed": keyed, "members": members,
	"values": values, "elems": elems, "n_users": n_users, "n_limits": n_limits, "is_obj": is_obj, "is_arr": is_arr,
	"not_set": not_set, "is_str": is_str, "has_u": has_u, "has_limit": has_limit, "has_user": has_user,
	"group_in": group_in, "picked": picked, "text": text, "union": union, "cmp_lt": cmp_lt, "eq": eq,
	"nested": nested, "same": same, "first": first, "last": last, "by_index": by_index, "walked": walked}`,
		// Object and array literals are built whole (compileLiteral): they
		// must equal, hash and order as the values OPA builds otherwise.
		"object and array literals": `package pdp.t
reqs contains {"kind": "perm", "perm": p, "grants": {g | some g in object.get(data.accounts, [input.account, "groups", p], [])}} if some p in ["g1", "g2"]
same contains o if some o in [{"kind": "k", "n": input.n}, {"n": input.n, "kind": "k"}, object.union({"kind": "k"}, {"n": input.n})]
in_same := {"kind": "k", "n": input.n} in same
counted := count({{"a": input.n}, {"a": input.n}, object.union({}, {"a": input.n}), {"a": [input.n]}})
eq_obj if {"a": input.n, "b": [input.s]} == object.union({"b": [input.s]}, {"a": input.n})
eq_arr if [input.n, input.s] == array.concat([input.n], [input.s])
views := {"acct": data.accounts[input.account], "limits": data.limits, "users": data.accounts[input.account].users, "obj": input.obj}
pairs := [[input.user, input.account], [input.n, input.n, input.s], [data.accounts[input.account], input.obj]]
said := sprintf("%v and %v: %v", [input.user, input.account, input.n])
grown := [x | some x in [input.n, input.s, [input.user]]]
sorted := sort([{"b": input.n}, {"a": input.s}, [input.n], [input.s, input.n]])
result := {"reqs": reqs, "same": same, "in_same": in_same, "counted": counted, "eq_obj": eq_obj, "eq_arr": eq_arr,
	"views": views, "pairs": pairs, "said": said, "grown": grown, "sorted": sorted}`,
		// Sets the plan builds are the vm's own (setValue) until OPA's
		// code meets them; literal objects are records. Every way a policy
		// reads, combines and compares them.
		"sets and literal records": `package pdp.t
n := object.get(input, "n", 0)
str := object.get(input, "s", "")
acct := object.get(data.accounts, [object.get(input, "account", "")], {})
in_obj := object.get(input, "obj", {"none": true})
in_l := object.get(input, "l", [])
grants(p) := {g | some g in object.get(acct, ["groups", p], [])}
owner := {sprintf("owner of %v", [input.account]) | acct.owner == input.user}
reqs contains {"kind": "perm", "perm": p, "grants": owner | grants(p)} if some p in ["g1", "g2", "g3"]
reqs contains {"kind": "owned", "perm": "x", "grants": set()} if n == 2
reqs contains {"kind": "input", "obj": in_obj, "grants": {str}}
granted := {g | some r in reqs; some g in r.grants}
empty_grants := count([r | some r in reqs; count(r.grants) == 0])
sorted := sort(granted)
mixed := {1, 1.0, "a", [n], {"k": n}, {n}, in_l, data.limits, acct, in_obj, null, false, {str}, {"a": str, "b": {n}}}
n_mixed := count(mixed)
mixed_sorted := sort(mixed)
big := {x | some x in numbers.range(0, 100)} | {x | some x in numbers.range(50, 150)}
big_n := count(big)
big_has := [99 in big, 150 in big, n in big]
u := ({"b", "a"} | {x | some x in ["c", "a", str]}) | set()
inter := u & {"a", "c", "z"}
diff := u - {"a"}
default eq_sets := false
eq_sets if {x | some x in ["a", str]} == {str, "a"}
default ne_sets := false
ne_sets if {x | some x in ["a", "b"]} != {"a", str}
lt_sets := [{1, 2} < {x | some x in [1, n]}, {x | some x in [n]} < {1, 2, 3}, set() < {x | some x in [n]}, {{n}, {1}} < {{2}, {1, 2}}]
is_s := [is_set(granted), is_set(set()), is_set(sorted), is_object(reqs), is_set(reqs), is_set(in_obj)]
member := [str in u, "a" in u, {"kind": "owned", "perm": "x", "grants": set()} in reqs, {"kind": "input", "obj": in_obj, "grants": {str}} in reqs, in_obj in mixed]
dot := [x | some x in [u["a"], u[str], mixed[{n}], mixed[in_obj]]]
text := json.marshal([granted, reqs])
obj := {"granted": granted, "reqs": reqs, "acct": acct}
default later := "none"
later := o2 if {
	o := {"a": n}
	o2 := object.union(o, {"b": granted})
	o2.b == granted
}
default fallback := {"allow": false, "reasons": ["none"]}
fallback := {"allow": true, "reasons": sorted} if input.user == "o"
default same_rec := false
same_rec if {"a": n, "b": granted} == {"b": granted, "a": n}
rec_lt := [{"a": n} < {"a": n, "b": 1}, {"a": 1} < {"b": 0}, {"a": str} < {"a": n}, {"a": n, "c": 1} < {"a": n, "b": 2}, in_obj < {"x": 1}]
walk := [[k, v] | some k, v in {"z": n, "a": granted, "m": data.limits}]
recs := {{"a": n}, {"a": n, "b": 1}, {"b": 0}, {"a": 1}, {"a": n, "c": {n}}, {"a": n, "c": {1, n}}, in_obj, {"a": str}, {"a": n, "b": str}, {"b": str}, {"a": str, "b": n}, {"a": n, "b": n}}
sets := {{n}, {1, 2}, {0, 5, 9}, set(), {str}, {{n}}, {{"a": n}}, {[n], [1]}}
in_order := [[x | some x in recs], [x | some x in sets], [x | some x in granted], [x | some x in u], [x | some x in mixed]]
counts := [count(u), count(granted), count(recs), count(sets), count(mixed | sets), count(recs | {{"a": 1}, {"b": 0}})]
result := {"reqs": reqs, "granted": granted, "empty_grants": empty_grants, "sorted": sorted, "mixed": mixed, "n_mixed": n_mixed,
	"mixed_sorted": mixed_sorted, "big_n": big_n, "big_has": big_has, "u": u, "inter": inter, "diff": diff, "eq_sets": eq_sets,
	"ne_sets": ne_sets, "lt_sets": lt_sets, "is_s": is_s, "member": member, "dot": dot, "text": text, "obj": obj, "later": later,
	"fallback": fallback, "same_rec": same_rec, "rec_lt": rec_lt, "walk": walk, "in_order": in_order, "counts": counts}`,
		"default and else": `package pdp.t
default allow := false
allow if input.user == data.accounts[input.account].owner
label := "owner" if allow
else := "user" if data.accounts[input.account].users[input.user]
else := "stranger"
result := {"allow": allow, "label": label}`,
		"functions": `package pdp.t
greet(x) := sprintf("hi %s", [x]) if is_string(x)
greet(x) := sprintf("number %v", [x]) if is_number(x)
pick(x, y) := x if x > y
else := y
result := [greet(input.user), pick(input.n, 1), greet(input.n)]`,
		"comprehensions": `package pdp.t
groups := {g | some g, members in data.accounts[input.account].groups; input.user in members}
count_l := count(input.l)
pairs := {k: v | some k, v in input.obj}
doubled := [y | some x in input.l; is_number(x); y := x * 2]
result := {"groups": groups, "count": count_l, "pairs": pairs, "doubled": doubled}`,
		"every and not": `package pdp.t
all_small if every x in input.l { is_number(x); x < 3 }
none_null if not null in input.l
result := {"all_small": all_small, "none_null": none_null, "empty": count(input.l) == 0} if {
	is_array(input.l)
} else := {"not an array": true}`,
		"partial sets and objects": `package pdp.t
reasons contains "owner" if data.accounts[input.account].owner == input.user
reasons contains sprintf("group %s", [g]) if {
	some g, members in data.accounts[input.account].groups
	input.user in members
}
emails[id] := lower(u.email) if {
	some id, u in data.accounts[input.account].users
	is_string(u.email)
}
result := {"reasons": sort(reasons), "emails": emails}`,
		"strings and objects": `package pdp.t
result := {
	"get": object.get(input, "user", "none"),
	"keys": sort(object.keys(object.get(input, "obj", {}))),
	"split": split(input.s, ","),
	"concat": concat("-", ["a", "b"]),
	"json": json.marshal(input.l),
	"upper": upper(input.s),
	"first": input.l[0],
	"limit": data.limits[1],
	"base": data.pdp.base.k,
	"set_member": {"a", "b"}["a"],
} if input.action != "conflict"`,
		"errors": `package pdp.t
result := 1 if input.action == "conflict"
result := 2 if input.action == "conflict"
result := to_number(input.s) if input.action == "to_number"
result := 10 / input.n if input.action == "divide"`,
		"numbers": `package pdp.t
result := {"eq": input.n == 2, "neq": input.n != 2, "gt": input.n > 1, "plus": input.n + 1.5, "in": 2 in input.l}`,
		"scan early exit": `package pdp.t
first_big := x if {
	some x in input.l
	is_number(x)
	x > 1
}
has_owner_elsewhere if {
	some id, acct in data.accounts
	id != input.account
	acct.owner == input.user
}
result := {"first_big": object.get({"v": first_big}, "v", null), "elsewhere": has_owner_elsewhere} if input.action != "conflict"
result := {"elsewhere": false} if {
	input.action != "conflict"
	not has_owner_elsewhere
	not first_big
}`,
		"data only (WithData computes these once)": `package pdp.t
owners[o] contains a if {
	some a, acct in data.accounts
	o := acct.owner
}
owner_emails[lower(acct.users[acct.owner].email)] := a if some a, acct in data.accounts
n_accounts := count(data.accounts)
no_such := data.accounts.none.owner
broken := to_number(data.accounts.a.owner) # an error: left to each evaluation
all_limits := sum(data.limits) + n_accounts
result := {"mine": object.get(owners, input.user, set()), "n": all_limits, "by_email": object.get(owner_emails, lower(input.s), "none"), "none": object.get({"v": no_such}, "v", 0)} if input.action != "broken"
result := broken if input.action == "broken"`,
	}
	for name, src := range policies {
		t.Run(name, func(t *testing.T) {
			c := ast.NewCompiler().WithStrict(true)
			if c.Compile(map[string]*ast.Module{"p.rego": ast.MustParseModule(src)}); c.Failed() {
				t.Fatal(c.Errors)
			}
			for i, o := range both(t, c, data, "data.pdp.t.result", inputs) {
				if !agreeOrLeft(o[0], o[1]) || !agreeOrLeft(o[0], o[2]) || !agreeOrLeft(o[0], o[3]) || !agreeOrLeft(o[0], o[4]) {
					t.Errorf("input %d %s:\n OPA: %v\n  vm: %v\n  vm WithData: %v\n  vm, compact data: %v\n  vm WithData, compact data: %v", i, inputs[i], o[0], o[1], o[2], o[3], o[4])
				}
			}
		})
	}
}

// TestCompileRefuses: what the VM cannot run exactly as OPA does is
// refused at Compile, so the caller keeps OPA's evaluator.
func TestCompileRefuses(t *testing.T) {
	for name, tc := range map[string]struct{ src, want string }{
		"with": {`package pdp.t
f := input.x
result := x if {
	x := f with input.x as 1
}`, "WithStmt"},
		"clock": {`package pdp.t
result := time.now_ns()`, "non-deterministic"},
		"network": {`package pdp.t
result := http.send({"method": "get", "url": "http://127.0.0.1:1"})`, "non-deterministic"},
		"print": {`package pdp.t
result := 1 if print("x")`, "print"},
		"relation": {`package pdp.t
result := [p | walk(input.obj, [p, _])]`, "relation"},
		"runtime": {`package pdp.t
result := opa.runtime()`, "opa.runtime"},
	} {
		t.Run(name, func(t *testing.T) {
			c := ast.NewCompiler().WithEnablePrintStatements(true)
			if c.Compile(map[string]*ast.Module{"p.rego": ast.MustParseModule(tc.src)}); c.Failed() {
				t.Fatal(c.Errors)
			}
			plan, err := Plan(context.Background(), c, "data.pdp.t.result")
			if err != nil {
				t.Fatal(err)
			}
			_, err = Compile(plan)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Compile: %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// TestTimeout: a long scan stops at the context's end.
func TestTimeout(t *testing.T) {
	c := ast.MustCompileModules(map[string]string{"p.rego": `package pdp.t
result := true if {
	not burn
}
burn if {
	r := numbers.range(1, 1000)
	some a in r
	some b in r
	some c in r
	a + b + c < 0
}`})
	prog := compileQuery(t, c, "data.pdp.t.result")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	v, err := prog.Eval(ctx, time.Time{}, ast.NewTerm(ast.NewObject()), ast.NewTerm(ast.NewObject()))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Eval: %v, %v; want the context's deadline", v, err)
	}
	start := time.Now()
	v, err = prog.Eval(context.Background(), start.Add(20*time.Millisecond), ast.NewTerm(ast.NewObject()), ast.NewTerm(ast.NewObject()))
	if !errors.Is(err, ErrDeadline) {
		t.Fatalf("Eval: %v, %v; want ErrDeadline", v, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("a 20 ms deadline stopped the evaluation after %s", took)
	}
}

// TestWithData: the rules over data alone are computed by WithData, once,
// and served to evaluations on that data term only; one that fails is left
// to each evaluation (TestAgreesWithOPA checks the answers).
func TestWithData(t *testing.T) {
	c := ast.MustCompileModules(map[string]string{"p.rego": `package pdp.t
owners[o] contains a if {
	some a, acct in data.accounts
	o := acct.owner
}
broken := to_number(data.name)
result := {"mine": object.get(owners, input.user, set()), "broken": object.get({"v": broken}, "v", "fails")}`})
	prog := compileQuery(t, c, "data.pdp.t.result")
	data := ast.MustParseTerm(`{"name": "n", "accounts": {"a": {"owner": "o"}, "b": {"owner": "o"}, "c": {"owner": "p"}}}`)
	bound := prog.WithData(data)
	folded, failed := 0, 0
	for _, fn := range prog.funcs {
		if !fn.dataOnly {
			continue
		}
		if bound.folded[fn.index].set {
			folded++
		} else {
			failed++
		}
	}
	if folded != 1 || failed != 1 {
		t.Fatalf("WithData folded %d rules and left %d, want 1 (owners) and 1 (broken)", folded, failed)
	}
	input := ast.MustParseTerm(`{"user": "o"}`)
	if _, err := bound.Eval(context.Background(), time.Time{}, input, data); err == nil {
		t.Fatal("broken's error was lost")
	}
	// An evaluation on the data reads the folded value (swapped here for
	// one it could not compute) and does not compute it again.
	c2 := ast.MustCompileModules(map[string]string{"p.rego": `package pdp.t
owners[o] contains a if {
	some a, acct in data.accounts
	o := acct.owner
}
result := object.get(owners, input.user, set())`})
	prog2 := compileQuery(t, c2, "data.pdp.t.result")
	bound2 := prog2.WithData(data)
	for _, fn := range prog2.funcs {
		if fn.dataOnly {
			bound2.folded[fn.index].value = ast.MustParseTerm(`{"o": {"folded"}}`)
		}
	}
	if v, err := bound2.Eval(context.Background(), time.Time{}, input, data); err != nil || !v.Equal(ast.MustParseTerm(`{"folded"}`)) {
		t.Fatalf("Eval on the folded data: %v, %v; want the folded value", v, err)
	}
	other := ast.MustParseTerm(`{"name": "7", "accounts": {"z": {"owner": "o"}}}`)
	v, err := bound.Eval(context.Background(), time.Time{}, input, other)
	if err != nil {
		t.Fatal(err)
	}
	if want := ast.MustParseTerm(`{"mine": {"z"}, "broken": 7}`); !v.Equal(want) {
		t.Fatalf("on other data: %v, want %v (that data's answer, not the folded one)", v, want)
	}
}

// A rule folded at WithData is bounded in time too, not only in steps: a
// built-in's work (numbers.range) takes one step. Past foldTime it is left
// to each evaluation, which its deadline bounds.
func TestWithDataFoldIsTimeBounded(t *testing.T) {
	defer func(d time.Duration) { foldTime = d }(foldTime)
	foldTime = 50 * time.Millisecond
	c := ast.MustCompileModules(map[string]string{"p.rego": `package pdp.t
big := count(numbers.range(1, data.n))
result := big if input.big
result := 0 if not input.big`})
	prog := compileQuery(t, c, "data.pdp.t.result")
	data := ast.MustParseTerm(`{"n": 5000000}`) // seconds of work
	start := time.Now()
	bound := prog.WithData(data)
	if took := time.Since(start); took > time.Second {
		t.Errorf("WithData took %s: its folds are not bounded in time", took)
	}
	for _, fn := range prog.funcs {
		if fn.dataOnly && bound.folded[fn.index].set {
			t.Fatal("a fold past foldTime was kept")
		}
	}
	if v, err := bound.Eval(context.Background(), time.Time{}, ast.MustParseTerm(`{"big": false}`), data); err != nil || !v.Equal(ast.IntNumberTerm(0)) {
		t.Fatalf("Eval: %v, %v; want 0", v, err)
	}
	if got, want := bound.Unfolded(), []string{"data.pdp.t.big"}; !slices.Equal(got, want) {
		t.Errorf("Unfolded() = %q, want %q", got, want)
	}
	// An evaluation that needs the rule does not compute it again (for
	// seconds, or until its deadline): it ends at once, for the engine to
	// ask OPA's evaluator.
	start = time.Now()
	if _, err := bound.Eval(context.Background(), start.Add(time.Minute), ast.MustParseTerm(`{"big": true}`), data); !errors.Is(err, ErrUnfolded) || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("Eval of the unfolded rule: %v after %s, want ErrUnfolded at once", err, time.Since(start))
	}
	// On other data the rule is computed as usual.
	small := ast.MustParseTerm(`{"n": 3}`)
	if v, err := bound.Eval(context.Background(), time.Time{}, ast.MustParseTerm(`{"big": true}`), small); err != nil || !v.Equal(ast.IntNumberTerm(3)) {
		t.Fatalf("Eval on other data: %v, %v; want 3", v, err)
	}
}

// TestPathKeyLeftToOPA: a string that reads as an index, used on an array,
// and a number whose text is a key, used on an object (of the data, of
// the input, or reached through a variable), give ErrPathKey, on AST and
// compact data alike, for OPA's evaluator to decide (it reads
// data.limits["1"] and data.m[1] through its store, as the member, and the
// same values through a variable as undefined). Every other use of keys of
// the other type agrees with OPA.
func TestPathKeyLeftToOPA(t *testing.T) {
	data := ast.MustParseTerm(`{"limits": [10, 20, 30], "nested": {"l": [[1, 2], [3, 4]]}, "m": {"1": "one", "1.5": "x", "true": "t"}}`).Value.(ast.Object)
	for _, tc := range []struct {
		src       string
		leftToOPA bool
	}{
		{`result := data.limits["1"]`, true},
		{`result := data.limits["0"]`, true},
		{`result := data.limits["2"]`, true},
		{`result := data.limits["3"]`, false},
		{`result := data.limits["-1"]`, false},
		{`result := data.limits["+1"]`, true},
		{`result := data.limits[input.s]`, true},
		{`result := data.nested.l["1"]["0"]`, true},
		{`result := x if { arr := data.limits; x := arr["1"] }`, true},
		{`result := input.l[input.s]`, true},
		{`result := data.limits["7"]`, false},
		{`result := data.limits["x"]`, false},
		{`result := data.limits[1]`, false},
		{`result := [i | some i, _ in data.limits]`, false},
		{`result := [x | some k; k == "1"; x := data.limits[k]]`, false},
		{`result := object.get(data.limits, "1", "none")`, false},
		{`result := data.m[1]`, true},
		{`result := data.m[input.n]`, true},
		{`result := data.m[1.5]`, true},
		{`result := x if { m := data.m; x := m[1] }`, true},
		{`result := input.o[1]`, true},
		{`result := data.m[2]`, false},
		{`result := data.m[true]`, false},
		{`result := data.m["1"]`, false},
		{`result := [k | some k, _ in data.m]`, false},
	} {
		c := ast.MustCompileModules(map[string]string{"p.rego": "package pdp.t\n" + tc.src})
		for _, o := range both(t, c, data, "data.pdp.t.result", []string{`{"s": "1", "l": [5, 6], "n": 1, "o": {"1": "x"}}`}) {
			for i, vm := range o[1:] {
				// WithData (vm 1 and 3) leaves a rule over the data alone
				// that meets the key unfolded, for OPA (ErrUnfolded).
				left := errors.Is(vm.err, ErrPathKey) || (i%2 == 1 && errors.Is(vm.err, ErrUnfolded))
				switch {
				case tc.leftToOPA && !left:
					t.Errorf("%s: vm %d gave %v %v, want ErrPathKey", tc.src, i, vm.value, vm.err)
				case !tc.leftToOPA && !agree(o[0], vm):
					t.Errorf("%s: vm %d gave %v %v, OPA %v %v", tc.src, i, vm.value, vm.err, o[0].value, o[0].err)
				}
			}
		}
	}
}
