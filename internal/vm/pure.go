package vm

import (
	"strings"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
)

// A pure function reads neither input nor data (directly or through what
// it calls), only its arguments, and the vm calls only built-ins that give
// the same value for the same arguments (Compile refuses the others): its
// value for given arguments is the same in every evaluation, on every
// snapshot. An evaluation asks the function's table (pureValues) first, so
// that, say, the verb of an action, cut out of its name with split and
// replace, is computed once per action name, not once per decision.
//
// Only calls whose arguments are all strings, numbers, booleans or null
// (pureArgText bytes at most, together) are kept, keyed by their exact
// text (1 and 1.0 are equal in Rego, but json.marshal tells them apart),
// and only values of pureTerms terms at most (numbers.range can make a
// large one). A table is bounded too: once full, other arguments are
// computed at every call, as before. A table holds at most about
// pureMax × (pureArgText + pureTerms terms).

// pureSlots is a table's size (a power of two); it takes pureMax values.
const (
	pureSlots   = 1024
	pureMax     = pureSlots * 3 / 4
	pureArgText = 256
	pureTerms   = 64
)

// pureValues is a function's table: open addressing, each slot written
// once (compare-and-swap from nil), so that lookups take no lock.
type pureValues struct {
	slots [pureSlots]atomic.Pointer[pureValue]
	n     atomic.Int32 // values held, counted before they are written
}

// pureValue is one call's arguments and value (nil: undefined). Nothing
// writes to it once it is in a table.
type pureValue struct {
	hash  uint64
	args  []ast.Value
	value *ast.Term
}

// pureKey is the hash of args when every one is a scalar; ok is false
// otherwise (the call is not kept).
func pureKey(args []*ast.Term) (h uint64, ok bool) {
	h = 14695981039346656037
	text := 0
	for _, a := range args {
		if a == nil {
			return 0, false
		}
		var k uint64
		switch v := a.Value.(type) {
		case ast.String:
			if text += len(v); text > pureArgText {
				return 0, false
			}
			k = uint64(v.Hash())
		case ast.Number:
			if text += len(v); text > pureArgText {
				return 0, false
			}
			k = uint64(ast.String(v).Hash()) ^ 0x9e3779b97f4a7c15
		case ast.Boolean:
			k = 2
			if v {
				k = 3
			}
		case ast.Null:
			k = 5
		default:
			return 0, false
		}
		h = (h ^ k) * 1099511628211
	}
	return h, true
}

// sameScalar is a == b for pureKey's kinds, to the letter.
func sameScalar(a, b ast.Value) bool {
	switch a := a.(type) {
	case ast.String:
		b, ok := b.(ast.String)
		return ok && a == b
	case ast.Number:
		b, ok := b.(ast.Number)
		return ok && a == b
	case ast.Boolean:
		b, ok := b.(ast.Boolean)
		return ok && a == b
	case ast.Null:
		_, ok := b.(ast.Null)
		return ok
	}
	return false
}

func sameArgs(kept []ast.Value, args []*ast.Term) bool {
	if len(kept) != len(args) {
		return false
	}
	for i, a := range args {
		if !sameScalar(kept[i], a.Value) {
			return false
		}
	}
	return true
}

// get is the value kept for args (of hash h), if there is one.
func (t *pureValues) get(h uint64, args []*ast.Term) (*ast.Term, bool) {
	for i := h & (pureSlots - 1); ; i = (i + 1) & (pureSlots - 1) {
		e := t.slots[i].Load()
		if e == nil {
			return nil, false
		}
		if e.hash == h && sameArgs(e.args, args) {
			return e.value, true
		}
	}
}

// put keeps value for args (of hash h) while the table has room. The
// arguments' text and the value are copied: the value may hold the
// argument terms themselves (a function may return its argument), and
// those may be terms of an input the engine refills for its next request.
func (t *pureValues) put(h uint64, args []*ast.Term, value *ast.Term) {
	value = solid(value) // the vm's own values are the evaluation's to change
	if value != nil && !small(value, pureTerms) {
		return
	}
	if t.n.Add(1) > pureMax {
		t.n.Add(-1)
		return
	}
	e := &pureValue{hash: h, args: make([]ast.Value, len(args))}
	for i, a := range args {
		switch v := a.Value.(type) {
		case ast.String:
			e.args[i] = ast.String(strings.Clone(string(v)))
		case ast.Number:
			e.args[i] = ast.Number(strings.Clone(string(v)))
		default:
			e.args[i] = v
		}
	}
	if value != nil {
		e.value = value.Copy()
	}
	for i := h & (pureSlots - 1); ; i = (i + 1) & (pureSlots - 1) {
		if t.slots[i].CompareAndSwap(nil, e) {
			return
		}
		if o := t.slots[i].Load(); o.hash == h && sameArgs(o.args, args) {
			t.n.Add(-1) // another evaluation kept it first
			return
		}
	}
}

// small is whether t has at most n terms (counting t itself).
func small(t *ast.Term, n int) bool {
	left := n
	var walk func(*ast.Term) bool
	walk = func(t *ast.Term) bool {
		if left--; left < 0 {
			return false
		}
		switch v := t.Value.(type) {
		case *ast.Array:
			for i := range v.Len() {
				if !walk(v.Elem(i)) {
					return false
				}
			}
		case ast.Object:
			return !v.Until(func(k, x *ast.Term) bool { return !walk(k) || !walk(x) })
		case ast.Set:
			return !v.Until(func(x *ast.Term) bool { return !walk(x) })
		}
		return true
	}
	return walk(t)
}
