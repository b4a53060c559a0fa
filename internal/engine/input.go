package engine

import (
	"fmt"

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
	action := [][2]*ast.Term{{ast.InternedTerm("name"), ast.StringTerm(r.Action)}}
	if r.ActionProperties != nil {
		v, err := ast.InterfaceToValue(r.ActionProperties)
		if err != nil {
			return nil, fmt.Errorf("action.properties: %w", err)
		}
		action = append(action, [2]*ast.Term{ast.InternedTerm("properties"), ast.NewTerm(v)})
	}
	ctxVal := ast.Value(ast.NewObject())
	if r.Context != nil {
		if ctxVal, err = ast.InterfaceToValue(r.Context); err != nil {
			return nil, fmt.Errorf("context: %w", err)
		}
	}
	return ast.NewObject(
		[2]*ast.Term{ast.InternedTerm("subject"), ast.NewTerm(subject)},
		[2]*ast.Term{ast.InternedTerm("action"), ast.NewTerm(ast.NewObject(action...))},
		[2]*ast.Term{ast.InternedTerm("resource"), ast.NewTerm(resource)},
		[2]*ast.Term{ast.InternedTerm("context"), ast.NewTerm(ctxVal)},
	), nil
}

func entity(e Entity) (ast.Value, error) {
	kv := [][2]*ast.Term{
		{ast.InternedTerm("type"), ast.StringTerm(e.Type)},
		{ast.InternedTerm("id"), ast.StringTerm(e.ID)},
	}
	if e.Properties != nil {
		v, err := ast.InterfaceToValue(e.Properties)
		if err != nil {
			return nil, err
		}
		kv = append(kv, [2]*ast.Term{ast.InternedTerm("properties"), ast.NewTerm(v)})
	}
	return ast.NewObject(kv...), nil
}
