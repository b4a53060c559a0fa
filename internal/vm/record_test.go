package vm

import (
	"context"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestRecord: a record's members in OPA's order, an absent member
// (nil) absent everywhere, its AST made again after Set or Reset, and the
// keys it refuses.
func TestRecord(t *testing.T) {
	r := NewRecord("type", "id", "properties")
	id := ast.StringTerm("alice")
	r.Set("type", ast.StringTerm("user"))
	r.Set("id", id)
	if got, want := r.AST().Value, ast.MustParseTerm(`{"id": "alice", "type": "user"}`).Value; ast.Compare(got, want) != 0 || got.Hash() != want.Hash() {
		t.Fatalf("AST %v (hash %d), want %v (hash %d)", got, got.Hash(), want, want.Hash())
	}
	if r.get("properties") != nil || r.len() != 2 {
		t.Fatalf("absent properties: get %v, len %d", r.get("properties"), r.len())
	}
	// A refilled term shows once the record is Reset.
	id.Value = ast.String("bob")
	r.Reset()
	if got := r.AST().Value.(ast.Object).Get(ast.StringTerm("id")); !got.Equal(ast.StringTerm("bob")) {
		t.Fatalf("after Reset: id %v", got)
	}
	inner := NewRecord("k")
	inner.Set("k", ast.NumberTerm("1"))
	r.Set("properties", ast.NewTerm(inner))
	if got, want := r.String(), `{"id": "bob", "properties": {"k": 1}, "type": "user"}`; got != want {
		t.Fatalf("String %s, want %s", got, want)
	}
	for _, f := range []func(){
		func() { NewRecord("a", "b", "a") },
		func() { r.Set("nope", ast.NullTerm()) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		}()
	}
}

// TestRecordAbsentMember: a policy reading, counting, scanning and
// comparing an input whose member is absent (a nil value) decides as it
// does on the AST without that member.
func TestRecordAbsentMember(t *testing.T) {
	c := ast.NewCompiler()
	c.Compile(map[string]*ast.Module{"p.rego": ast.MustParseModule(`package pdp.t
result := {
	"n": count(input.subject),
	"keys": [k | some k, _ in input.subject],
	"has": object.get(input.subject, "properties", "none"),
	"id": object.get(input.subject, "id", "none"),
	"by_number": object.get(input.subject, 1, "none"),
	"by_path": object.get(input, ["subject", "type"], "none"),
	"same": input.subject == {"id": "alice", "type": "user"},
	"props": [p | p := input.subject.properties],
	"in": "alice" in input.subject,
}`)})
	if c.Failed() {
		t.Fatal(c.Errors)
	}
	prog := compileQuery(t, c, "data.pdp.t.result")
	subject := NewRecord("type", "id", "properties")
	subject.Set("type", ast.StringTerm("user"))
	subject.Set("id", ast.StringTerm("alice"))
	root := NewRecord("subject")
	root.Set("subject", ast.NewTerm(subject))
	got, err := prog.Eval(context.Background(), time.Time{}, ast.NewTerm(root), nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := prog.Eval(context.Background(), time.Time{}, ast.MustParseTerm(`{"subject": {"id": "alice", "type": "user"}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want) {
		t.Fatalf("on records %v, on the AST %v", got, want)
	}
}

// TestFrozenConstants: the tables a policy keeps as constants, small and
// large (found through an index), nested, of other keys than strings, read
// every way the vm reads a value, agree with OPA's evaluator.
func TestFrozenConstants(t *testing.T) {
	c := ast.NewCompiler()
	c.Compile(map[string]*ast.Module{"p.rego": ast.MustParseModule(`package pdp.t
small := {"a": {"x": 1, "y": [1, {"z": 2}]}, "b": {"x": 2}}
large := {k: {"n": i, "tag": sprintf("t%d", [i])} | some i in numbers.range(1, 30); k := sprintf("k%d", [i])}
mixed := {1: "one", "a": "b"}
result["small"] := small[input.s]
result["sx"] := small[input.s].x
result["sy"] := small[input.s].y[1].z
result["large"] := large[input.k]
result["ln"] := large[input.k].n
result["count"] := count(large)
result["count_small"] := count(small[input.s])
result["keys"] := [k | some k, _ in small]
result["values"] := [v | some v in large[input.k]]
result["get"] := object.get(large, input.k, "none")
result["get_path"] := object.get(small, [input.s, "x"], "none")
result["in"] := {"x": 2} in small
result["eq"] := small == {"a": {"x": 1, "y": [1, {"z": 2}]}, "b": {"x": 2}}
result["neq"] := large[input.k] != {"n": 1}
result["mixed"] := mixed[input.m]
result["union"] := object.union(small, {"c": 3})
result["set"] := {small[input.s], large[input.k]}
result["whole"] := small
result["is_object"] := is_object(large)
result["json"] := json.marshal(small[input.s])`)})
	if c.Failed() {
		t.Fatal(c.Errors)
	}
	data := ast.MustParseTerm(`{}`).Value.(ast.Object)
	inputs := []string{`{"s": "a", "k": "k1", "m": 1}`, `{"s": "b", "k": "k29", "m": "a"}`, `{"s": "c", "k": "k30", "m": 2}`, `{"s": 1, "k": "x"}`, `{}`}
	for i, o := range both(t, c, data, "data.pdp.t.result", inputs) {
		for j, vm := range o[1:] {
			if !agree(o[0], vm) {
				t.Errorf("input %d, vm %d: %v, OPA's %v", i, j, vm, o[0])
			}
		}
	}
	prog := compileQuery(t, c, "data.pdp.t.result")
	frozen := 0
	for _, fn := range prog.funcs {
		if fn.constant {
			if _, ok := fn.value.Value.(*Record); ok {
				frozen++
			}
		}
	}
	if frozen < 2 {
		t.Errorf("%d constants frozen, want small and large", frozen)
	}
}
