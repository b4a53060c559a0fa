package vm

import (
	"context"
	"errors"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/rego"
)

// planTarget is the rego target under which OPA hands a query's plan to
// planCapture (OPA's extension point for alternative evaluators).
const planTarget = "pdp-vm-plan"

func init() { rego.RegisterPlugin(planTarget, planCapture{}) }

// Plan asks OPA's planner, the first stage of its Wasm compiler, for the
// plan of query over the compiled modules. The plan's one result is the
// query's value, under the key "result".
func Plan(ctx context.Context, c *ast.Compiler, query string) (*ir.Policy, error) {
	var slot planSlot
	_, err := rego.New(
		rego.Query("result := "+query),
		rego.Compiler(c),
		rego.Target(planTarget),
	).PrepareForEval(context.WithValue(ctx, planSlotKey{}, &slot))
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", query, err)
	}
	if slot.policy == nil {
		return nil, fmt.Errorf("plan %s: OPA's planner returned no plan", query)
	}
	return slot.policy, nil
}

type planSlotKey struct{}

type planSlot struct{ policy *ir.Policy }

// planCapture keeps the plan OPA gives it in the slot its context carries.
// rego never evaluates through it: Plan only prepares the query.
type planCapture struct{}

func (planCapture) IsTarget(t string) bool { return t == planTarget }

func (planCapture) PrepareForEval(ctx context.Context, p *ir.Policy, _ ...rego.PrepareOption) (rego.TargetPluginEval, error) {
	slot, ok := ctx.Value(planSlotKey{}).(*planSlot)
	if !ok {
		return nil, errors.New("the plan target is only for vm.Plan")
	}
	slot.policy = p
	return refuseEval{}, nil
}

type refuseEval struct{}

func (refuseEval) Eval(context.Context, *rego.EvalContext, ast.Value) (ast.Value, error) {
	return nil, errors.New("a plan captured by vm.Plan is evaluated by vm.Program, not by rego")
}
