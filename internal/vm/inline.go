package vm

import "github.com/open-policy-agent/opa/v1/ast"

// inline are built-ins the evaluation calls directly: the trivial ones a
// policy calls dozens of times a decision (type tests, comparisons, count,
// membership), where OPA's calling convention (argument slice, error
// wrapper, output callback) costs more than the work. Each answers exactly
// as OPA's own does (topdown's comparison.go, type.go, aggregates.go), or,
// where OPA's would fail (count of a number), gives ok=false and the call
// goes to OPA's, for its error.
var inline = map[string]func(a []*ast.Term) (v *ast.Term, ok bool){
	ast.Equal.Name:         func(a []*ast.Term) (*ast.Term, bool) { return ast.InternedTerm(a[0].Equal(a[1])), true },
	ast.NotEqual.Name:      func(a []*ast.Term) (*ast.Term, bool) { return ast.InternedTerm(!a[0].Equal(a[1])), true },
	ast.GreaterThan.Name:   compare(func(c int) bool { return c > 0 }),
	ast.GreaterThanEq.Name: compare(func(c int) bool { return c >= 0 }),
	ast.LessThan.Name:      compare(func(c int) bool { return c < 0 }),
	ast.LessThanEq.Name:    compare(func(c int) bool { return c <= 0 }),
	ast.IsString.Name:      isType[ast.String],
	ast.IsObject.Name:      isType[ast.Object],
	ast.IsArray.Name:       isType[*ast.Array],
	ast.IsSet.Name:         isType[ast.Set],
	ast.IsBoolean.Name:     isType[ast.Boolean],
	ast.IsNumber.Name:      isType[ast.Number],
	ast.IsNull.Name:        isType[ast.Null],
	ast.Count.Name: func(a []*ast.Term) (*ast.Term, bool) {
		switch v := a[0].Value.(type) {
		case *ast.Array:
			return ast.InternedTerm(v.Len()), true
		case ast.Object:
			return ast.InternedTerm(v.Len()), true
		case ast.Set:
			return ast.InternedTerm(v.Len()), true
		}
		return nil, false // a string's runes, or OPA's type error
	},
	ast.Member.Name: func(a []*ast.Term) (*ast.Term, bool) {
		switch c := a[1].Value.(type) {
		case ast.Set:
			return ast.InternedTerm(c.Contains(a[0])), true
		case *ast.Array:
			return ast.InternedTerm(c.Until(a[0].Equal)), true
		case ast.Object:
			return ast.InternedTerm(c.Until(func(_, v *ast.Term) bool { return a[0].Equal(v) })), true
		}
		return ast.InternedTerm(false), true
	},
}

// compare is OPA's comparison built-ins: ok(Compare(a, b)).
func compare(ok func(int) bool) func([]*ast.Term) (*ast.Term, bool) {
	return func(a []*ast.Term) (*ast.Term, bool) {
		return ast.InternedTerm(ok(a[0].Value.Compare(a[1].Value))), true
	}
}

func isType[T ast.Value](a []*ast.Term) (*ast.Term, bool) {
	_, ok := a[0].Value.(T)
	return ast.InternedTerm(ok), true
}
