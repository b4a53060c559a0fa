package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/pdp-sidecar/pdp/internal/vm"
)

// input builds the policy input as an AST value directly, skipping the
// JSON round trip OPA would otherwise do for every evaluation. It is a
// document of its own, not pooled (the vm's is, see inputBuf), for OPA's
// evaluator and the other queries, which may keep it as long as they like.
func (r Request) input() (ast.Value, error) {
	b := newInputBuf()
	if _, err := b.fill(r); err != nil {
		return nil, err
	}
	return b.root.AST().Value, nil
}

// emptyObject, in emptyObjectTerm, is every input's context when the
// request has none, and its empty properties: shared, as nothing writes to
// an input.
var (
	emptyObject     ast.Value = ast.NewObject()
	emptyObjectTerm           = ast.NewTerm(emptyObject)
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

// inputBuf is an input document reused from one evaluation to the next
// (through inputPool), held as the vm reads it fastest: the document, the
// request's subject, action and resource, and their properties and context
// are records (vm.Record: fixed keys, found by comparing strings, and no
// hash to keep), whose values are terms the buffer refills. Properties and
// context have keys the caller chooses: a buffer keeps a record for each
// of the first few key sets it meets (shapes), refilled when a request has
// the same keys again; any other object is an OPA object of its own.
// Building the input's small objects afresh was two fifths of the bytes a
// decision allocated; refilling them as OPA objects, whose hashes must be
// recomputed, and looking keys up in them by hash, about a tenth of its
// time.
//
// Only the vm reads a pooled buffer, and only during one evaluation: the
// engine turns the result into Go values (verdict) before the buffer goes
// back to the pool, and the vm keeps nothing of an input after Eval (its
// memoised rules are cleared for each evaluation; what it folds at snapshot
// build reads data alone). Request.input gives OPA's evaluator the AST of
// a buffer of its own (vm.Record.AST), which TestInputBufMatchesInput
// holds to a document built with NewObject alone.
type inputBuf struct {
	root                        *vm.Record
	subject, action, resource   *vm.Record
	rootTerm                    *ast.Term
	subjectType, subjectID      *ast.Term
	actionName                  *ast.Term
	resourceType, resourceID    *ast.Term
	subjectProps, resourceProps shapes // one cache each, so that no shape is in one input twice
	actionProps, context        shapes
}

// shapes holds the records made for the key sets a buffer has seen (the
// first maxShapes of them, of maxShapeKeys keys at most; an object of any
// other keys is an OPA object made afresh).
type shapes struct {
	names [][]string // names[i]: shape i's keys, sorted
	made  []*shape
	keys  []string // scratch: the keys of the object being filled
}

// maxShapes bounds a buffer's shapes per cache: requests of one
// application have a few key sets each, and an input of keys chosen by the
// caller must not grow a pooled buffer without end. maxShapeKeys bounds a
// shape's keys: a record finds a key by comparing it with each of its own.
const (
	maxShapes    = 16
	maxShapeKeys = 16
)

// shape is a record of fixed keys whose values are reused terms.
type shape struct {
	rec  *vm.Record
	term *ast.Term
	vals []*ast.Term // vals[i] is the value of the i-th key in sorted order
}

func newShape(names []string) *shape {
	s := &shape{rec: vm.NewRecord(names...), vals: make([]*ast.Term, len(names))}
	for i, k := range names {
		s.vals[i] = ast.NewTerm(emptyObject)
		s.rec.Set(k, s.vals[i])
	}
	s.term = ast.NewTerm(s.rec)
	return s
}

var inputPool = sync.Pool{New: func() any { return newInputBuf() }}

func newInputBuf() *inputBuf {
	b := &inputBuf{
		root:     vm.NewRecord("subject", "action", "resource", "context"),
		subject:  vm.NewRecord("type", "id", "properties"),
		action:   vm.NewRecord("name", "properties"),
		resource: vm.NewRecord("type", "id", "properties"),
	}
	b.rootTerm = ast.NewTerm(b.root)
	b.root.Set("subject", ast.NewTerm(b.subject))
	b.root.Set("action", ast.NewTerm(b.action))
	b.root.Set("resource", ast.NewTerm(b.resource))
	for _, t := range []struct {
		r    *vm.Record
		key  string
		term **ast.Term
	}{
		{b.subject, "type", &b.subjectType}, {b.subject, "id", &b.subjectID},
		{b.action, "name", &b.actionName},
		{b.resource, "type", &b.resourceType}, {b.resource, "id", &b.resourceID},
	} {
		*t.term = ast.NewTerm(ast.String(""))
		t.r.Set(t.key, *t.term)
	}
	return b
}

// fill makes b the input document of r.
func (b *inputBuf) fill(r Request) (*ast.Term, error) {
	b.subjectType.Value, b.subjectID.Value = ast.String(r.Subject.Type), ast.String(r.Subject.ID)
	b.actionName.Value = ast.String(r.Action)
	b.resourceType.Value, b.resourceID.Value = ast.String(r.Resource.Type), ast.String(r.Resource.ID)
	for _, p := range []struct {
		props map[string]any
		cache *shapes
		r     *vm.Record
		what  string
	}{
		{r.Subject.Properties, &b.subjectProps, b.subject, "subject.properties"},
		{r.ActionProperties, &b.actionProps, b.action, "action.properties"},
		{r.Resource.Properties, &b.resourceProps, b.resource, "resource.properties"},
	} {
		var t *ast.Term
		if p.props != nil {
			var err error
			if t, err = p.cache.object(p.props); err != nil {
				return nil, fmt.Errorf("%s: %w", p.what, err)
			}
		}
		p.r.Set("properties", t)
	}
	ctx := emptyObjectTerm
	if r.Context != nil {
		var err error
		if ctx, err = b.context.object(r.Context); err != nil {
			return nil, fmt.Errorf("context: %w", err)
		}
	}
	b.root.Set("context", ctx)
	b.root.Reset()
	b.subject.Reset()
	b.action.Reset()
	b.resource.Reset()
	return b.rootTerm, nil
}

// object is m in a term, the value toAST gives as a record: the cached
// shape of m's keys refilled when there is one (its members' values made
// afresh, the record and its terms reused), else toAST's OPA object. An
// empty m is the shared empty object.
func (c *shapes) object(m map[string]any) (*ast.Term, error) {
	if len(m) == 0 {
		return emptyObjectTerm, nil
	}
	names := c.keys[:0]
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names) // a record's order, and an OPA object's
	c.keys = names
	s := c.shape(names)
	if s == nil {
		v, err := toAST(m)
		if err != nil {
			return nil, err
		}
		return ast.NewTerm(v), nil
	}
	for i, k := range names {
		v, err := toAST(m[k])
		if err != nil {
			return nil, err
		}
		s.vals[i].Value = v
	}
	clear(names)
	s.rec.Reset()
	return s.term, nil
}

// shape is the cached shape of these keys, made when there is room; nil
// when there is none.
func (c *shapes) shape(names []string) *shape {
	for i, have := range c.names {
		if slices.Equal(have, names) {
			return c.made[i]
		}
	}
	if len(c.made) == maxShapes || len(names) > maxShapeKeys {
		return nil
	}
	own := make([]string, len(names))
	for i, k := range names {
		own[i] = strings.Clone(k) // the request's memory stays the request's
	}
	s := newShape(own)
	c.names, c.made = append(c.names, own), append(c.made, s)
	return s
}
