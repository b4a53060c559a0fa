package vm

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Every inline built-in answers as OPA's own on every pair of a corpus of
// values of every type (or declines, and OPA's answers).
func TestInlineAgreesWithOPA(t *testing.T) {
	var corpus []*ast.Term
	for _, s := range []string{`null`, `true`, `false`, `0`, `1`, `1.0`, `-2.5`, `1e400`, `""`, `"a"`, `"é☃"`, `[]`, `[1, "a"]`, `[1.0, "a"]`, `{}`, `{"a": 1}`, `{"a": 1.0}`, `{"b": [1]}`, `{"1": "s", 1: "n"}`, `["a"]`, `set()`, `{1, "a"}`, `{1.0, "a"}`} {
		corpus = append(corpus, ast.MustParseTerm(s))
	}
	for name, fast := range inline {
		decl := ast.BuiltinMap[name]
		if decl == nil {
			t.Fatalf("%s is not one of OPA's built-ins", name)
		}
		opa := topdown.GetBuiltin(name)
		n := len(decl.Decl.FuncArgs().Args)
		var args [][]*ast.Term
		for _, a := range corpus {
			if n == 1 {
				args = append(args, []*ast.Term{a})
				continue
			}
			for _, b := range corpus {
				if n == 2 {
					args = append(args, []*ast.Term{a, b})
					continue
				}
				for _, c := range corpus[:4] {
					args = append(args, []*ast.Term{a, b, c})
				}
			}
		}
		for _, a := range args {
			var want *ast.Term
			err := opa(topdown.BuiltinContext{}, a, func(v *ast.Term) error { want = v; return nil })
			got, ok := fast(a)
			switch {
			case !ok:
				continue // declined: OPA's answers
			case err != nil:
				t.Errorf("%s%v: inline %v, OPA's fails: %v", name, a, got, err)
			case !got.Equal(want):
				t.Errorf("%s%v: inline %v, OPA's %v", name, a, got, want)
			}
		}
	}
}

// TestInlineSprintf: the inline sprintf gives OPA's text for every format
// and arguments of a grid, or declines.
func TestInlineSprintf(t *testing.T) {
	opa := topdown.GetBuiltin(ast.Sprintf.Name)
	formats := []string{``, `plain`, `%s`, `%v`, `%q`, `%s %s`, `a%%b`, `%%`, `%`, `%s%`, `x%q-%v.`, `%d`, `%5s`, `%-s`, `%+q`, `%#q`, `%[1]s`, `%é`, `é%sé`, `%s%s%s`}
	arrays := []string{`[]`, `["a"]`, `["a", "b"]`, `["é\"\n\u0001", "☃"]`, `[1]`, `["a", 1]`, `[null]`, `[["x"]]`, `["a", "b", "c"]`, `[""]`}
	declined := 0
	for _, f := range formats {
		for _, arr := range arrays {
			args := []*ast.Term{ast.StringTerm(f), ast.MustParseTerm(arr)}
			var want *ast.Term
			if err := opa(topdown.BuiltinContext{}, args, func(v *ast.Term) error { want = v; return nil }); err != nil {
				t.Fatal(err)
			}
			got, ok := sprintf(args)
			if !ok {
				declined++
				continue
			}
			if !got.Equal(want) {
				t.Errorf("sprintf(%q, %s) = %v, OPA's %v", f, arr, got, want)
			}
		}
	}
	if declined == len(formats)*len(arrays) {
		t.Fatal("the inline sprintf declined everything")
	}
}
