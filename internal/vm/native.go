package vm

import (
	"cmp"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/pdp-sidecar/pdp/internal/docstore"
)

// setValue is a set the plan builds (SetAddStmt), held by the vm as the
// sorted slice of its members rather than as OPA's set, a Go map and a key
// slice that hashes every member on insert. The sets a decision makes are
// small (a requirement's grants, the reasons, the requirements
// themselves), so finding a member's place by comparison costs less than
// hashing it, and a member may be a value of the vm's own (a literal
// record, another setValue), compared without its AST (compareTerms).
// Like a record, its AST is built wherever OPA's own code would meet it
// (solid), once per change.
//
// A set that grows past setMax members becomes OPA's (SetAddStmt), as
// inserting in order would cost n² for a set of the data's size.
type setValue struct {
	elems []*ast.Term // sorted by compareTerms, no two equal
	solid *ast.Term   // the AST, made on first need since the last add
}

// newSetValue is an empty setValue with room for n members: up to four
// in the same allocation as the set (most of a decision's sets hold one
// or two).
func newSetValue(n int) *setValue {
	if n <= 4 {
		x := &smallSet{}
		x.s.elems = x.elems[:0]
		return &x.s
	}
	return &setValue{elems: make([]*ast.Term, 0, n)}
}

// smallSet is a setValue and room for four members, made in one
// allocation.
type smallSet struct {
	s     setValue
	elems [4]*ast.Term
}

// newSet is newSetValue's set and a term of it, up to four members in
// the same allocation as both.
func newSet(n int) (*ast.Term, *setValue) {
	if n <= 4 {
		x := &smallSetTerm{}
		x.s.s.elems = x.s.elems[:0]
		x.t.Value = &x.s.s
		return &x.t, &x.s.s
	}
	s := newSetValue(n)
	return ast.NewTerm(s), s
}

type smallSetTerm struct {
	t ast.Term
	s smallSet
}

// setMax is the most members a setValue holds: SetAddStmt makes a larger
// set OPA's.
const setMax = 64

// find is where x is, or would go, in s's members.
func (s *setValue) find(x *ast.Term) (int, bool) {
	return slices.BinarySearchFunc(s.elems, x, compareTerms)
}

// add adds x (a member is kept once).
func (s *setValue) add(x *ast.Term) {
	if i, found := s.find(x); !found {
		s.elems = slices.Insert(s.elems, i, x)
		s.solid = nil
	}
}

func (s *setValue) contains(x *ast.Term) bool {
	_, found := s.find(x)
	return found
}

// ast is s as OPA's set, its members made solid, built once per change.
func (s *setValue) ast() *ast.Term {
	if s.solid == nil {
		elems := make([]*ast.Term, len(s.elems))
		for i, e := range s.elems {
			elems[i] = solid(e)
		}
		s.solid = ast.NewTerm(ast.NewSet(elems...))
	}
	return s.solid
}

func (s *setValue) value() ast.Value { return s.ast().Value }

func (s *setValue) Compare(other ast.Value) int {
	return compareTerms(ast.NewTerm(s), ast.NewTerm(other))
}

func (s *setValue) Find(path ast.Ref) (ast.Value, error) { return s.value().Find(path) }
func (s *setValue) Hash() int                            { return s.value().Hash() }
func (s *setValue) IsGround() bool                       { return s.value().IsGround() }
func (s *setValue) String() string                       { return s.value().String() }
func (s *setValue) StringLength() int                    { return s.value().StringLength() }

// setMembers is t's members in OPA's order, when t is a set the vm can
// read without building anything: a setValue, or the shared empty set.
func setMembers(t *ast.Term) ([]*ast.Term, bool) {
	switch v := t.Value.(type) {
	case *setValue:
		return v.elems, true
	case ast.Set:
		if v.Len() == 0 {
			return nil, true
		}
	}
	return nil, false
}

// union is a | b (topdown's builtinBinaryOr) for two sets setMembers
// reads: the merge of their sorted members.
func union(a, b []*ast.Term) *ast.Term {
	t, s := newSet(len(a) + len(b))
	out := s.elems
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := compareTerms(a[i], b[j]); {
		case c < 0:
			out = append(out, a[i])
			i++
		case c > 0:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	s.elems = append(append(out, a[i:]...), b[j:]...)
	return t
}

// compareTerms is ast.Compare for terms that may be the vm's own values:
// sets and records are compared as OPA compares sets and objects, member
// by member, without their AST; anything else through its AST.
func compareTerms(a, b *ast.Term) int {
	switch av := a.Value.(type) {
	case ast.String: // the most compared; ast.Compare starts with type switches
		if bv, ok := b.Value.(ast.String); ok {
			return strings.Compare(string(av), string(bv))
		}
	case *setValue, ast.Set:
		if x, ok := setMembers(a); ok {
			if y, ok := setMembers(b); ok {
				// OPA's set: its sorted members, one by one, then the count.
				return slices.CompareFunc(x, y, compareTerms)
			}
		}
	case *Record:
		if bv, ok := b.Value.(*Record); ok {
			return compareRecords(av, bv)
		}
	}
	if native(a.Value) || native(b.Value) {
		// Values of different types compare by type, whatever they hold:
		// no AST is built (a rule's set tested against false, say).
		if x, y := typeOrder(a.Value), typeOrder(b.Value); x >= 0 && y >= 0 && x != y {
			return cmp.Compare(x, y)
		}
	}
	return ast.Compare(solid(a), solid(b))
}

// native is whether v is one of the vm's own values.
func native(v ast.Value) bool {
	switch v.(type) {
	case *view, *Record, *setValue:
		return true
	}
	return false
}

// typeOrder is v's type's place in OPA's order of values (ast's
// valueSortOrder), the vm's own values as what they stand for; -1 for a
// type not listed here.
func typeOrder(v ast.Value) int {
	switch v := v.(type) {
	case ast.Null:
		return 0
	case ast.Boolean:
		return 1
	case ast.Number:
		return 2
	case ast.String:
		return 3
	case *ast.Array:
		return 7
	case ast.Object, *Record:
		return 8
	case ast.Set, *setValue:
		return 9
	case *view:
		if v.s.Kind(v.r) == docstore.Array {
			return 7
		}
		return 8 // a view is an object or an array
	}
	return -1
}

// compareRecords is OPA's object comparison of two records: their present
// members in key order, key then value, then the difference of their
// counts.
func compareRecords(a, b *Record) int {
	i, j := 0, 0
	for {
		for i < len(a.vals) && a.vals[i] == nil {
			i++
		}
		for j < len(b.vals) && b.vals[j] == nil {
			j++
		}
		if i == len(a.vals) || j == len(b.vals) {
			return a.len() - b.len()
		}
		if a.keys[i] != b.keys[j] {
			if a.keys[i] < b.keys[j] {
				return -1
			}
			return 1
		}
		if c := compareTerms(a.vals[i], b.vals[j]); c != 0 {
			return c
		}
		i, j = i+1, j+1
	}
}
