package engine

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
)

// input builds the policy input as an AST value directly, skipping the
// JSON round trip OPA would otherwise do for every evaluation.
func (r Request) input() (ast.Value, error) {
	subject, err := entity(r.Subject)
	if err != nil {
		return nil, fmt.Errorf("subject.properties: %w", err)
	}
	resource, err := entity(r.Resource)
	if err != nil {
		return nil, fmt.Errorf("resource.properties: %w", err)
	}
	name := [2]*ast.Term{nameKey, ast.StringTerm(r.Action)}
	var action ast.Object
	if r.ActionProperties == nil {
		action = ast.NewObject(name)
	} else {
		v, err := toAST(r.ActionProperties)
		if err != nil {
			return nil, fmt.Errorf("action.properties: %w", err)
		}
		action = ast.NewObject(name, [2]*ast.Term{propertiesKey, ast.NewTerm(v)})
	}
	ctxVal := emptyObject
	if r.Context != nil {
		if ctxVal, err = toAST(r.Context); err != nil {
			return nil, fmt.Errorf("context: %w", err)
		}
	}
	return ast.NewObject(
		[2]*ast.Term{subjectKey, ast.NewTerm(subject)},
		[2]*ast.Term{actionKey, ast.NewTerm(action)},
		[2]*ast.Term{resourceKey, ast.NewTerm(resource)},
		[2]*ast.Term{contextKey, ast.NewTerm(ctxVal)},
	), nil
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

func entity(e Entity) (ast.Value, error) {
	if e.Properties == nil {
		return ast.NewObject([2]*ast.Term{typeKey, ast.StringTerm(e.Type)}, [2]*ast.Term{idKey, ast.StringTerm(e.ID)}), nil
	}
	v, err := toAST(e.Properties)
	if err != nil {
		return nil, err
	}
	return ast.NewObject(
		[2]*ast.Term{typeKey, ast.StringTerm(e.Type)},
		[2]*ast.Term{idKey, ast.StringTerm(e.ID)},
		[2]*ast.Term{propertiesKey, ast.NewTerm(v)},
	), nil
}

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
