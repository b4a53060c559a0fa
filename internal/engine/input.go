package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// input builds the policy input as an AST value directly, skipping the
// JSON round trip OPA would otherwise do for every evaluation. It is a
// document of its own, not pooled (the vm's is, see inputBuf), for OPA's
// evaluator and the other queries, which may keep it as long as they like.
func (r Request) input() (ast.Value, error) {
	t, err := newInputBuf().fill(r)
	if err != nil {
		return nil, err
	}
	return t.Value, nil
}

var (
	subjectKey    = ast.InternedTerm("subject")
	actionKey     = ast.InternedTerm("action")
	resourceKey   = ast.InternedTerm("resource")
	contextKey    = ast.InternedTerm("context")
	nameKey       = ast.InternedTerm("name")
	typeKey       = ast.InternedTerm("type")
	idKey         = ast.InternedTerm("id")
	propertiesKey = ast.InternedTerm("properties")
	// emptyObject is every input's context when the request has none:
	// shared, as nothing writes to an input.
	emptyObject ast.Value = ast.NewObject()
)

// toAST converts what the JSON decoder gives (strings, json.Number or
// float64, bools, nil, []any, map[string]any) without reflection; any
// other Go value goes through ast.InterfaceToValue.
func toAST(x any) (ast.Value, error) {
	switch x := x.(type) {
	case string:
		return ast.String(x), nil
	case bool:
		return ast.Boolean(x), nil
	case nil:
		return ast.Null{}, nil
	case json.Number:
		return ast.Number(x), nil
	case map[string]any:
		kv := make([][2]*ast.Term, 0, len(x))
		for k, v := range x {
			val, err := toAST(v)
			if err != nil {
				return nil, err
			}
			kv = append(kv, [2]*ast.Term{ast.StringTerm(k), ast.NewTerm(val)})
		}
		// Insertion order is an object's iteration order in OPA: sorted
		// keys keep it independent of Go's map order.
		slices.SortFunc(kv, func(a, b [2]*ast.Term) int { return ast.Compare(a[0], b[0]) })
		return ast.NewObject(kv...), nil
	case []any:
		elems := make([]*ast.Term, len(x))
		for i, v := range x {
			val, err := toAST(v)
			if err != nil {
				return nil, err
			}
			elems[i] = ast.NewTerm(val)
		}
		return ast.NewArray(elems...), nil
	}
	return ast.InterfaceToValue(x)
}

// inputBuf is an input document whose objects and terms are reused from one
// evaluation to the next (through inputPool): building the input's four or
// five small objects, each an OPA object with a Go map of its own, was two
// fifths of the bytes a decision allocated, and a sixth of its time.
//
// fill writes each member's new value into the term the object already
// holds for it, then re-inserts that term, leaves first, so that every
// object's hash and groundness are recomputed from its members as
// NewObject computes them (TestInputBufMatchesInput holds refilled
// documents to ones built with NewObject alone).
//
// Only the vm reads a pooled buffer, and only during one evaluation: the
// engine turns the result into Go values (verdict) before the buffer goes
// back to the pool, and the vm keeps nothing of an input after Eval (its
// memoised rules are cleared for each evaluation; what it folds at snapshot
// build reads data alone).
type inputBuf struct {
	root     *shape
	subject  [2]*shape // [0]: no properties, [1]: with properties; made on first use
	resource [2]*shape
	action   [2]*shape
	// The objects of the request's own (properties and context), by the
	// keys they have: one cache each, so that no shape is in one input
	// twice.
	subjectProps, resourceProps, actionProps, context shapes
}

// shapes holds the objects made for the key sets a buffer has seen (the
// first maxShapes of them; an object of any other keys is made afresh).
type shapes struct {
	names [][]string // names[i]: shape i's keys, sorted
	made  []*shape
	keys  []string // scratch: the keys of the object being filled
}

// maxShapes bounds a buffer's shapes per cache: requests of one
// application have a few key sets each, and an input of keys chosen by the
// caller must not grow a pooled buffer without end.
const maxShapes = 8

// shape is an object with fixed keys whose values are reused terms.
type shape struct {
	obj  ast.Object
	term *ast.Term
	keys []*ast.Term
	vals []*ast.Term // vals[i] is the object's value for keys[i]
}

func newShape(keys ...*ast.Term) *shape {
	s := &shape{keys: keys, vals: make([]*ast.Term, len(keys))}
	kv := make([][2]*ast.Term, len(keys))
	for i, k := range keys {
		s.vals[i] = ast.NewTerm(emptyObject)
		kv[i] = [2]*ast.Term{k, s.vals[i]}
	}
	s.obj = ast.NewObject(kv...)
	s.term = ast.NewTerm(s.obj)
	return s
}

// set gives the shape's members these values (one per key) and returns
// its term.
func (s *shape) set(vals ...ast.Value) *ast.Term {
	for i, v := range vals {
		s.vals[i].Value = v
	}
	return s.rehash()
}

// rehash makes the object's hash that of its members' new values, and
// returns its term.
func (s *shape) rehash() *ast.Term {
	// Inserting a member's own term again makes the object recompute its
	// hash from all its members (and leaves groundness, counted per
	// member, as it was: every input value is ground).
	s.obj.Insert(s.keys[0], s.vals[0])
	return s.term
}

var inputPool = sync.Pool{New: func() any { return newInputBuf() }}

func newInputBuf() *inputBuf {
	return &inputBuf{root: newShape(subjectKey, actionKey, resourceKey, contextKey)}
}

// shapeOf returns *s, made with keys on first use (a fresh buffer, as
// Request.input uses, makes only the shapes of its one request).
func shapeOf(s **shape, keys ...*ast.Term) *shape {
	if *s == nil {
		*s = newShape(keys...)
	}
	return *s
}

// fill makes b the input document of r.
func (b *inputBuf) fill(r Request) (*ast.Term, error) {
	subject, err := b.entity(&b.subject, &b.subjectProps, r.Subject)
	if err != nil {
		return nil, fmt.Errorf("subject.properties: %w", err)
	}
	resource, err := b.entity(&b.resource, &b.resourceProps, r.Resource)
	if err != nil {
		return nil, fmt.Errorf("resource.properties: %w", err)
	}
	var action *ast.Term
	if r.ActionProperties == nil {
		action = shapeOf(&b.action[0], nameKey).set(ast.String(r.Action))
	} else {
		v, err := b.actionProps.object(r.ActionProperties)
		if err != nil {
			return nil, fmt.Errorf("action.properties: %w", err)
		}
		action = shapeOf(&b.action[1], nameKey, propertiesKey).set(ast.String(r.Action), v)
	}
	ctxVal := emptyObject
	if r.Context != nil {
		if ctxVal, err = b.context.object(r.Context); err != nil {
			return nil, fmt.Errorf("context: %w", err)
		}
	}
	return b.root.set(subject.Value, action.Value, resource.Value, ctxVal), nil
}

func (b *inputBuf) entity(shapes *[2]*shape, props *shapes, e Entity) (*ast.Term, error) {
	if e.Properties == nil {
		return shapeOf(&shapes[0], typeKey, idKey).set(ast.String(e.Type), ast.String(e.ID)), nil
	}
	v, err := props.object(e.Properties)
	if err != nil {
		return nil, err
	}
	return shapeOf(&shapes[1], typeKey, idKey, propertiesKey).set(ast.String(e.Type), ast.String(e.ID), v), nil
}

// object is m as an OPA object, toAST's value: the cached shape of m's keys
// refilled when there is one (its members' values made afresh, the keys
// and the object reused), else a new object. An empty m is the shared
// empty object.
func (c *shapes) object(m map[string]any) (ast.Value, error) {
	if len(m) == 0 {
		return emptyObject, nil
	}
	names := c.keys[:0]
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names) // an OPA object's order: its keys' (ast.Compare of strings is Go's)
	c.keys = names
	s := c.shape(names)
	if s == nil {
		return toAST(m)
	}
	for i, k := range names {
		v, err := toAST(m[k])
		if err != nil {
			return nil, err
		}
		s.vals[i].Value = v
	}
	clear(names)
	return s.rehash().Value, nil
}

// shape is the cached shape of these keys, made when there is room; nil
// when there is none.
func (c *shapes) shape(names []string) *shape {
	for i, have := range c.names {
		if slices.Equal(have, names) {
			return c.made[i]
		}
	}
	if len(c.made) == maxShapes {
		return nil
	}
	own := make([]string, len(names))
	keys := make([]*ast.Term, len(own))
	for i, k := range names {
		own[i] = strings.Clone(k) // the request's memory stays the request's
		keys[i] = ast.StringTerm(own[i])
	}
	s := newShape(keys...)
	c.names, c.made = append(c.names, own), append(c.made, s)
	return s
}
