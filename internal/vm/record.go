package vm

import (
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Record is an object of string keys, fixed when it is made, whose values
// the caller sets before each evaluation: the shape of an input document
// (an AuthZEN request's subject, action, resource and context). The vm
// also makes frozen records of the objects of constant rules (freeze).
// The vm finds a key of a record by comparing a few strings, where OPA's
// object hashes the key (xxhash), probes a Go map and compares again, and
// a record needs no hash of its own, where an OPA object refilled in place
// must rehash all its members: the forty-odd lookups into the input a
// decision makes, and its refilling, were a tenth of a decision.
//
// Like a view of the data, a record is the vm's own value: wherever OPA's
// code would meet it (a built-in's argument, a comparison, a member of an
// object or set the plan makes, a result), its AST is built first (solid),
// once per Reset. Its ast.Value methods build that AST too; the vm does
// not rely on them.
//
// A record is not safe for concurrent use: one evaluation reads it at a
// time, and the caller refills it only between evaluations, then calls
// Reset. (A frozen record, never changed and its AST made beforehand, is
// only read: evaluations share it.) The terms the caller gives it are read, not copied: nothing may
// keep them past the evaluation (the vm keeps nothing of an input).
type Record struct {
	keys  []string
	terms []*ast.Term // the keys' terms
	vals  []*ast.Term // vals[i] is keys[i]'s value; nil: absent
	solid *ast.Term   // the AST, made on first need since the last Reset
	// index finds a key of a large record (nil for a small one: its keys
	// are compared one by one).
	index map[string]int
	// frozen: a constant's record (freeze), shared by every evaluation and
	// never changed: solid is the constant's own AST, from the start.
	frozen bool
	// literal: an object literal's record (literal.record), made whole by
	// one evaluation and never changed; an insert into it makes its term
	// OPA's object (objectInsert).
	literal bool
}

// indexMin is the fewest keys a record finds through an index.
const indexMin = 12

// keyIndex is the index of a record of these keys: each key's place, or
// nil for fewer than indexMin keys.
func keyIndex(keys []string) map[string]int {
	if len(keys) < indexMin {
		return nil
	}
	index := make(map[string]int, len(keys))
	for i, k := range keys {
		index[k] = i
	}
	return index
}

// freeze is the value of a constant rule as the vm reads it fastest: every
// object of string keys reached through objects from t a record (frozen)
// whose AST is the object itself, so that solid costs nothing; arrays,
// sets and what they hold stay as they are (OPA's code reads them).
// Lookups into the tables a policy keeps as constants (an action's entry,
// a permission's roles) then compare a few strings, or find the key in a
// Go map, instead of hashing it for OPA's object.
func freeze(t *ast.Term) *ast.Term {
	obj, ok := t.Value.(ast.Object)
	if !ok || obj.Len() == 0 {
		return t
	}
	r := &Record{solid: t, frozen: true}
	for _, k := range obj.Keys() { // sorted
		s, ok := k.Value.(ast.String)
		if !ok {
			return t
		}
		r.keys = append(r.keys, string(s))
		r.terms = append(r.terms, k)
		r.vals = append(r.vals, freeze(obj.Get(k)))
	}
	r.index = keyIndex(r.keys)
	return ast.NewTerm(r)
}

// literal is an object literal of constant string keys, as compiled: the
// shape of its records (keys in order, their terms and index; no values)
// and the operands of their values, by key.
type literal struct {
	shape Record
	vals  []operand
}

// newLiteral is the literal of these keys (distinct strings) and values.
func newLiteral(keys []*ast.Term, vals []operand) *literal {
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int { return keys[i].Value.Compare(keys[j].Value) })
	l := &literal{shape: Record{literal: true}}
	for _, i := range order {
		l.shape.keys = append(l.shape.keys, string(keys[i].Value.(ast.String)))
		l.shape.terms = append(l.shape.terms, keys[i])
		l.vals = append(l.vals, vals[i])
	}
	l.shape.index = keyIndex(l.shape.keys)
	return l
}

// smallRecord is a record's term, the record and the values of up to
// four keys, made in one allocation.
type smallRecord struct {
	t    ast.Term
	r    Record
	vals [4]*ast.Term
}

// record is a term of a new record of l's keys, every value absent, for
// the evaluation to fill.
func (l *literal) record() (*ast.Term, *Record) {
	var t *ast.Term
	var r *Record
	var vals []*ast.Term
	if n := len(l.vals); n <= 4 {
		x := &smallRecord{}
		t, r, vals = &x.t, &x.r, x.vals[:n]
	} else {
		t, r, vals = &ast.Term{}, &Record{}, make([]*ast.Term, n)
	}
	*r = l.shape
	r.vals = vals
	t.Value = r
	return t, r
}

// NewRecord makes a record of these keys (in any order; no key twice),
// every value absent.
func NewRecord(keys ...string) *Record {
	keys = slices.Clone(keys)
	slices.Sort(keys) // an OPA object's order (ast.Compare of strings is Go's)
	if len(slices.Compact(slices.Clone(keys))) != len(keys) {
		panic("vm.NewRecord: a key given twice")
	}
	r := &Record{keys: keys, terms: make([]*ast.Term, len(keys)), vals: make([]*ast.Term, len(keys))}
	for i, k := range keys {
		r.terms[i] = ast.StringTerm(k)
	}
	return r
}

// Set gives key its value (nil: absent). It panics for a key the record
// was not made with.
func (r *Record) Set(key string, v *ast.Term) {
	if r.frozen {
		panic("vm.Record.Set: a constant's record")
	}
	i, ok := slices.BinarySearch(r.keys, key)
	if !ok {
		panic("vm.Record.Set: no key " + key)
	}
	r.vals[i] = v
	r.solid = nil
}

// Reset forgets the record's AST: call it once its values, or the values
// of the records it holds, have changed.
func (r *Record) Reset() {
	if !r.frozen {
		r.solid = nil
	}
}

// get is r[key] (nil: absent).
func (r *Record) get(key string) *ast.Term {
	if r.index != nil {
		if i, ok := r.index[key]; ok {
			return r.vals[i]
		}
		return nil
	}
	for i, k := range r.keys {
		if k == key {
			return r.vals[i]
		}
	}
	return nil
}

// Get is r[key], nil when r has no such member.
func (r *Record) Get(key string) *ast.Term { return r.get(key) }

// shallow is whether r's members are all OPA's values (no view, record or
// setValue among them).
func (r *Record) shallow() bool {
	for _, v := range r.vals {
		if v != nil && native(v.Value) {
			return false
		}
	}
	return true
}

// len is the number of members r has.
func (r *Record) len() int {
	n := 0
	for _, v := range r.vals {
		if v != nil {
			n++
		}
	}
	return n
}

// ast is r's AST, made once per Reset: an OPA object of its present
// members, records among them made solid too.
func (r *Record) ast() *ast.Term {
	if r.solid == nil {
		r.solid = ast.NewTerm(r.object())
	}
	return r.solid
}

// object is a new OPA object of r's present members (made solid): an
// object of its own, that the caller may change.
func (r *Record) object() ast.Object {
	kv := make([][2]*ast.Term, 0, len(r.keys))
	for i, v := range r.vals {
		if v != nil {
			kv = append(kv, [2]*ast.Term{r.terms[i], solid(v)})
		}
	}
	return ast.NewObject(kv...)
}

// AST is r as an OPA object (records in it too), made once per Reset: the
// input for OPA's evaluator. It shares the terms r was given.
func (r *Record) AST() *ast.Term { return r.ast() }

func (r *Record) value() ast.Value { return r.ast().Value }

func (r *Record) Compare(other ast.Value) int {
	return compareTerms(ast.NewTerm(r), ast.NewTerm(other))
}

func (r *Record) Find(path ast.Ref) (ast.Value, error) { return r.value().Find(path) }
func (r *Record) Hash() int                            { return r.value().Hash() }
func (r *Record) IsGround() bool                       { return r.value().IsGround() }
func (r *Record) String() string                       { return r.value().String() }
func (r *Record) StringLength() int                    { return r.value().StringLength() }
