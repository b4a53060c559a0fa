package vm

import (
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/pdp-sidecar/pdp/internal/docstore"
)

// view is an object or array of data held in a docstore.Store (the role
// data, kept compact instead of as OPA's AST): the vm walks it without
// building its AST. Lookups (DotStmt), scans, lengths, type tests and the
// built-ins count, is_object, is_array and membership read it directly;
// anywhere else its AST is built first (solid), so OPA's own code never
// meets a view: a built-in's argument, a comparison, a member of an object
// or set the plan makes, a result, a rule computed once for a snapshot.
//
// A view's ast.Value methods build its AST too; they are there only to
// make a view a Value, the vm does not rely on them.
type view struct {
	s *docstore.Store
	r docstore.Ref
}

// DataTerm is the data document held in s, for Eval and WithData.
func DataTerm(s *docstore.Store) *ast.Term {
	return ast.NewTerm(&view{s: s, r: s.Root()})
}

func (v *view) value() ast.Value { return v.s.Value(v.r) }

func (v *view) Compare(other ast.Value) int {
	if o, ok := other.(*view); ok {
		other = o.value()
	}
	return ast.Compare(v.value(), other)
}

func (v *view) Find(path ast.Ref) (ast.Value, error) { return v.value().Find(path) }
func (v *view) Hash() int                            { return v.value().Hash() }
func (v *view) IsGround() bool                       { return true }
func (v *view) String() string                       { return v.value().String() }
func (v *view) StringLength() int                    { return v.value().StringLength() }

// solid is t with a view's, a record's or a setValue's AST built.
func solid(t *ast.Term) *ast.Term {
	if t != nil {
		switch v := t.Value.(type) {
		case *view:
			return v.s.Term(v.r)
		case *Record:
			return v.ast()
		case *setValue:
			return v.ast()
		}
	}
	return t
}

// solidAll makes every view, record and setValue of args solid.
func solidAll(args []*ast.Term) {
	for i, a := range args {
		if native(a.Value) {
			args[i] = solid(a)
		}
	}
}

// kindOf is t's kind when it is a view (or a record, an object).
func kindOf(t *ast.Term) (docstore.Kind, bool) {
	if t != nil {
		switch v := t.Value.(type) {
		case *view:
			return v.s.Kind(v.r), true
		case *Record:
			return docstore.Object, true
		}
	}
	return 0, false
}

// node is the term for node r of s: a view of an object or array (from the
// state's slab: it lives for this evaluation only), or a scalar's term of
// its own (it may end up in a result, so it shares no memory with s). A
// string read again in the same evaluation (an account's owner, say) is
// the term made the first time (st.scalars).
func (st *state) node(s *docstore.Store, r docstore.Ref) *ast.Term {
	switch s.Kind(r) {
	case docstore.String:
		e := &st.scalars[r%docstore.Ref(len(st.scalars))]
		if e.t == nil || e.r != r || e.s != s {
			*e = scalarTerm{s: s, r: r, t: s.Term(r)}
		}
		return e.t
	case docstore.Object, docstore.Array:
		if st.nviews == len(st.views) {
			// A new slab; the terms handed out from the last one stay valid.
			n := max(64, 2*len(st.views))
			st.views, st.viewTerms, st.nviews = make([]view, n), make([]ast.Term, n), 0
		}
		i := st.nviews
		st.nviews++
		st.views[i] = view{s: s, r: r}
		st.viewTerms[i] = ast.Term{Value: &st.views[i]}
		return &st.viewTerms[i]
	}
	return s.Term(r)
}

// dotView is v[key] (nil: undefined).
func (st *state) dotView(v *view, key *ast.Term) *ast.Term {
	switch v.s.Kind(v.r) {
	case docstore.Object:
		k, ok := key.Value.(ast.String)
		if !ok {
			return nil // a JSON object's keys are strings
		}
		r, ok := v.s.Get(v.r, string(k))
		if !ok {
			return nil
		}
		return st.node(v.s, r)
	case docstore.Array:
		if i, ok := elemIndex(key, v.s.Len(v.r)); ok {
			return st.node(v.s, v.s.Elem(v.r, i))
		}
	}
	return nil
}

// scanView runs scan i's block for every member of v, in OPA's order
// (arrays by index, objects by key).
func (st *state) scanView(i int, v *view) {
	n := v.s.Len(v.r)
	switch v.s.Kind(v.r) {
	case docstore.Array:
		for j := range n {
			if st.visit(i, ast.InternedTerm(j), st.node(v.s, v.s.Elem(v.r, j))) {
				return
			}
		}
	case docstore.Object:
		for j := range n {
			k, r := v.s.Member(v.r, j)
			if st.visit(i, ast.StringTerm(strings.Clone(k)), st.node(v.s, r)) {
				return
			}
		}
	}
}

// viewMember is `x in v` (internal.member_2) for a view: x, not a view
// (solid), equals one of an array's elements or an object's values.
func viewMember(x *ast.Term, v *view) bool {
	for j := range v.s.Len(v.r) {
		var r docstore.Ref
		if v.s.Kind(v.r) == docstore.Array {
			r = v.s.Elem(v.r, j)
		} else {
			_, r = v.s.Member(v.r, j)
		}
		if equalNode(x, v.s, r) {
			return true
		}
	}
	return false
}

// equalNode is x == node r of s, building no AST for the scalars.
func equalNode(x *ast.Term, s *docstore.Store, r docstore.Ref) bool {
	switch s.Kind(r) {
	case docstore.String:
		xs, ok := x.Value.(ast.String)
		return ok && string(xs) == s.Text(r)
	case docstore.Boolean:
		xb, ok := x.Value.(ast.Boolean)
		return ok && bool(xb) == s.Bool(r)
	case docstore.Null:
		_, ok := x.Value.(ast.Null)
		return ok
	}
	return x.Equal(s.Term(r)) // numbers compare by value, containers deeply
}

// releaseViews clears the views handed out by an evaluation from the
// current slab (earlier slabs are no longer referenced): a pooled state
// must not keep a snapshot's store alive after a reload.
func (st *state) releaseViews() {
	clear(st.views[:st.nviews])
	clear(st.viewTerms[:st.nviews])
	st.nviews = 0
}
