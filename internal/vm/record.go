package vm

import (
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Record is an object of a few string keys, fixed when it is made, whose
// values the caller sets before each evaluation: the shape of an input
// document (an AuthZEN request's subject, action, resource and context).
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
// Reset. The terms the caller gives it are read, not copied: nothing may
// keep them past the evaluation (the vm keeps nothing of an input).
type Record struct {
	keys  []string
	terms []*ast.Term // the keys' terms
	vals  []*ast.Term // vals[i] is keys[i]'s value; nil: absent
	solid *ast.Term   // the AST, made on first need since the last Reset
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
	i, ok := slices.BinarySearch(r.keys, key)
	if !ok {
		panic("vm.Record.Set: no key " + key)
	}
	r.vals[i] = v
	r.solid = nil
}

// Reset forgets the record's AST: call it once its values, or the values
// of the records it holds, have changed.
func (r *Record) Reset() { r.solid = nil }

// get is r[key] (nil: absent).
func (r *Record) get(key string) *ast.Term {
	for i, k := range r.keys {
		if k == key {
			return r.vals[i]
		}
	}
	return nil
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
		kv := make([][2]*ast.Term, 0, len(r.keys))
		for i, v := range r.vals {
			if v != nil {
				kv = append(kv, [2]*ast.Term{r.terms[i], solid(v)})
			}
		}
		r.solid = ast.NewTerm(ast.NewObject(kv...))
	}
	return r.solid
}

// AST is r as an OPA object (records in it too), made once per Reset: the
// input for OPA's evaluator. It shares the terms r was given.
func (r *Record) AST() *ast.Term { return r.ast() }

func (r *Record) value() ast.Value { return r.ast().Value }

func (r *Record) Compare(other ast.Value) int {
	if o, ok := other.(*Record); ok {
		other = o.value()
	}
	return r.value().Compare(other)
}

func (r *Record) Find(path ast.Ref) (ast.Value, error) { return r.value().Find(path) }
func (r *Record) Hash() int                            { return r.value().Hash() }
func (r *Record) IsGround() bool                       { return r.value().IsGround() }
func (r *Record) String() string                       { return r.value().String() }
func (r *Record) StringLength() int                    { return r.value().StringLength() }
