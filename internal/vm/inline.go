package vm

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/pdp-sidecar/pdp/internal/docstore"
)

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
	ast.IsObject.Name:      isContainer[ast.Object](docstore.Object),
	ast.IsArray.Name:       isContainer[*ast.Array](docstore.Array),
	ast.IsSet.Name:         func(a []*ast.Term) (*ast.Term, bool) { return ast.InternedTerm(isSet(a[0])), true },
	ast.IsBoolean.Name:     isType[ast.Boolean],
	ast.IsNumber.Name:      isType[ast.Number],
	ast.IsNull.Name:        isType[ast.Null],
	ast.Count.Name: func(a []*ast.Term) (*ast.Term, bool) {
		switch v := a[0].Value.(type) {
		case *view:
			return ast.InternedTerm(v.s.Len(v.r)), true
		case *Record:
			return ast.InternedTerm(v.len()), true
		case *setValue:
			return ast.InternedTerm(len(v.elems)), true
		case *ast.Array:
			return ast.InternedTerm(v.Len()), true
		case ast.Object:
			return ast.InternedTerm(v.Len()), true
		case ast.Set:
			return ast.InternedTerm(v.Len()), true
		}
		return nil, false // a string's runes, or OPA's type error
	},
	// object.get(o, key, default) with a key that is not a path (an
	// array): o[key], or default (topdown's builtinObjectGet), on a record
	// too, without its AST. A path, a view (whose members the state makes)
	// or anything but an object goes to OPA's, for its answer or error.
	ast.ObjectGet.Name: func(a []*ast.Term) (*ast.Term, bool) {
		if _, isPath := a[1].Value.(*ast.Array); isPath {
			return nil, false
		}
		var v *ast.Term
		switch o := a[0].Value.(type) {
		case *Record:
			if k, ok := a[1].Value.(ast.String); ok {
				v = o.get(string(k))
			}
		case ast.Object:
			v = o.Get(solid(a[1]))
		default:
			return nil, false
		}
		return cmp.Or(v, a[2]), true
	},
	ast.Sprintf.Name: sprintf,
	// a | b of two sets the vm made (or empty ones): their merge, a
	// setValue. Anything else goes to OPA's.
	ast.Or.Name: func(a []*ast.Term) (*ast.Term, bool) {
		x, ok1 := setMembers(a[0])
		y, ok2 := setMembers(a[1])
		if !ok1 || !ok2 {
			return nil, false
		}
		return union(x, y), true
	},
	// sort of a set the vm made: its members, already in OPA's order, as
	// an array (topdown's builtinSort: the set's sorted keys). Arrays and
	// OPA's sets go to OPA's.
	ast.Sort.Name: func(a []*ast.Term) (*ast.Term, bool) {
		x, ok := setMembers(a[0])
		if !ok {
			return nil, false
		}
		elems := make([]*ast.Term, len(x))
		for i, e := range x {
			elems[i] = solid(e)
		}
		return ast.NewTerm(ast.NewArray(elems...)), true
	},
	ast.Member.Name: func(a []*ast.Term) (*ast.Term, bool) {
		if s, ok := a[1].Value.(*setValue); ok {
			return ast.InternedTerm(s.contains(a[0])), true
		}
		x := solid(a[0])
		switch c := a[1].Value.(type) {
		case *view:
			return ast.InternedTerm(viewMember(x, c)), true
		case *Record:
			return ast.InternedTerm(slices.ContainsFunc(c.vals, func(v *ast.Term) bool { return v != nil && x.Equal(solid(v)) })), true
		case ast.Set:
			return ast.InternedTerm(c.Contains(x)), true
		case *ast.Array:
			return ast.InternedTerm(c.Until(x.Equal)), true
		case ast.Object:
			return ast.InternedTerm(c.Until(func(_, v *ast.Term) bool { return x.Equal(v) })), true
		}
		return ast.InternedTerm(false), true
	},
}

// sprintf is topdown's builtinSprintf for the formats reasons are made
// of: %s, %v and %q of strings, and %%, each verb with its argument (no
// flags, widths or indexes). It writes the text itself, where OPA's boxes
// every argument and calls fmt.Sprintf. Anything else it declines: OPA's
// then formats it (numbers, other values, a verb without an argument).
func sprintf(a []*ast.Term) (*ast.Term, bool) {
	format, ok := a[0].Value.(ast.String)
	args, ok2 := a[1].Value.(*ast.Array)
	if !ok || !ok2 {
		return nil, false
	}
	f := string(format)
	size := len(f)
	for i := range args.Len() {
		s, ok := args.Elem(i).Value.(ast.String)
		if !ok {
			return nil, false
		}
		size += len(s) + 2
	}
	b := make([]byte, 0, size)
	next := 0
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			b = append(b, f[i])
			continue
		}
		if i++; i == len(f) {
			return nil, false // fmt's %!(NOVERB)
		}
		switch f[i] {
		case '%':
			b = append(b, '%')
		case 's', 'v', 'q':
			if next == args.Len() {
				return nil, false // fmt's %!s(MISSING)
			}
			s := string(args.Elem(next).Value.(ast.String))
			next++
			if f[i] == 'q' {
				b = strconv.AppendQuote(b, s)
			} else {
				b = append(b, s...)
			}
		default:
			return nil, false
		}
	}
	if next != args.Len() {
		return nil, false // fmt's %!(EXTRA ...)
	}
	return ast.InternedTerm(string(b)), true
}

// compare is OPA's comparison built-ins: ok(Compare(a, b)).
func compare(ok func(int) bool) func([]*ast.Term) (*ast.Term, bool) {
	return func(a []*ast.Term) (*ast.Term, bool) {
		return ast.InternedTerm(ok(a[0].Value.Compare(a[1].Value))), true
	}
}

// viewAware are the inline built-ins that take views of the data (view.go)
// as they are; the others are given their AST.
var viewAware = map[string]bool{ast.Count.Name: true, ast.Member.Name: true, ast.IsObject.Name: true, ast.IsArray.Name: true, ast.IsSet.Name: true, ast.ObjectGet.Name: true, ast.Or.Name: true, ast.Sort.Name: true}

// isContainer is isType for objects or arrays, which may be views of the
// data (of kind k).
func isContainer[T ast.Value](k docstore.Kind) func([]*ast.Term) (*ast.Term, bool) {
	return func(a []*ast.Term) (*ast.Term, bool) {
		return ast.InternedTerm(isContainerTerm[T](a[0], k)), true
	}
}

// isContainerTerm is whether t is a T, or a view of the data of kind k.
func isContainerTerm[T ast.Value](t *ast.Term, k docstore.Kind) bool {
	if vk, ok := kindOf(t); ok {
		return vk == k
	}
	_, ok := termValue[T](t)
	return ok
}

func isType[T ast.Value](a []*ast.Term) (*ast.Term, bool) {
	_, ok := a[0].Value.(T)
	return ast.InternedTerm(ok), true
}
