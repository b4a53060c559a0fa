package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/pdp-sidecar/pdp/internal/policy"
)

// HTTPRequest is a request a proxy asks about (forward authentication).
type HTTPRequest struct {
	Method  string
	Path    string            // canonical, without query
	User    string            // the caller's identity
	Headers map[string]string // the X-Pdp-* headers: lower-case names, first values
}

// ForwardAuth maps r to an action and resource with the policy's route
// table (data.pdp.routes.route), then decides it with the same decision
// rule as the AuthZEN endpoints. A request no route matches is a deny; a
// route table that is missing, fails or returns a malformed mapping is an
// error (the caller answers 500: it cannot decide).
func (e *Engine) ForwardAuth(ctx context.Context, r HTTPRequest) (Decision, Request, *policy.Snapshot, error) {
	l, err := e.current()
	if err != nil {
		return Decision{}, Request{}, nil, err
	}
	s := l.snap
	if s.Routes == nil {
		return Decision{}, Request{}, s, &EvalError{Code: CodeEvaluation, Message: "the policies define no " + policy.RoutesRule + " route table"}
	}
	req, found, err := e.routeCached(ctx, l, r)
	if err != nil {
		return Decision{}, Request{}, s, err
	}
	req.Subject = Entity{Type: "user", ID: r.User}
	if !found {
		return Decision{Reasons: []string{fmt.Sprintf("no route matches %s %s", r.Method, r.Path)}}, req, s, nil
	}
	d := e.decide(ctx, l, req)
	if d.Err != nil {
		return d, req, s, d.Err
	}
	return d, req, s, nil
}

// routed is a route table answer: the action and resource (no subject: the
// route table does not see who asks), or no route.
type routed struct {
	req   Request
	found bool
}

// routeCached asks the route table, through the snapshot's route cache
// (keyed by method, path and the X-Pdp-* headers: all the route table
// sees). Failures are not cached. The Request returned shares its
// properties with the cache: read them, never modify them.
func (e *Engine) routeCached(ctx context.Context, l *loaded, r HTTPRequest) (Request, bool, error) {
	if l.routes == nil {
		return e.route(ctx, l.snap, r)
	}
	buf := keyBuf()
	key := appendStr(appendStr(*buf, r.Method), r.Path)
	names := make([]string, 0, len(r.Headers))
	for k := range r.Headers {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		key = appendStr(appendStr(key, k), r.Headers[k])
	}
	defer releaseKeyBuf(buf, key)
	if len(key) > maxCachedKey {
		return e.route(ctx, l.snap, r)
	}
	if hit, ok := l.routes.Get(key); ok {
		e.routeHits.Add(1)
		return hit.req, hit.found, nil
	}
	req, found, err := e.route(ctx, l.snap, r)
	if err == nil {
		l.routes.Put(key, routed{req: req, found: found})
	}
	return req, found, err
}

func (e *Engine) route(ctx context.Context, s *policy.Snapshot, r HTTPRequest) (Request, bool, error) {
	headers := make([][2]*ast.Term, 0, len(r.Headers))
	for k, v := range r.Headers {
		headers = append(headers, [2]*ast.Term{ast.StringTerm(k), ast.StringTerm(v)})
	}
	input := ast.NewObject(
		[2]*ast.Term{ast.InternedTerm("method"), ast.StringTerm(r.Method)},
		[2]*ast.Term{ast.InternedTerm("path"), ast.StringTerm(r.Path)},
		[2]*ast.Term{ast.InternedTerm("headers"), ast.NewTerm(ast.NewObject(headers...))},
	)
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	rs, err := s.Routes.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return Request{}, false, classify(ctx, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return Request{}, false, nil
	}
	req, err := routeResult(rs[0].Expressions[0].Value)
	if err != nil {
		return Request{}, false, &EvalError{Code: CodeInvalidResult, Message: policy.RoutesRule + ": " + err.Error()}
	}
	return req, true, nil
}

// routeResult reads {"action": name, "resource": {"type", "id", "properties"}}.
func routeResult(v any) (Request, error) {
	var req Request
	m, ok := v.(map[string]any)
	if !ok {
		return req, fmt.Errorf("returned %s, want an object", kind(v))
	}
	if req.Action, ok = m["action"].(string); !ok || req.Action == "" {
		return req, fmt.Errorf("action is %s, want a non-empty string", kind(m["action"]))
	}
	res, ok := m["resource"].(map[string]any)
	if !ok {
		return req, fmt.Errorf("resource is %s, want an object", kind(m["resource"]))
	}
	req.Resource.Type, _ = res["type"].(string)
	req.Resource.ID, _ = res["id"].(string)
	if req.Resource.Type == "" || req.Resource.ID == "" {
		return req, fmt.Errorf("resource.type and resource.id must be non-empty strings")
	}
	if p, ok := res["properties"]; ok {
		if req.Resource.Properties, ok = p.(map[string]any); !ok {
			return req, fmt.Errorf("resource.properties is %s, want an object", kind(p))
		}
	}
	return req, nil
}
