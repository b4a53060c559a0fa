// Package engine answers decisions on the current policy snapshot. It holds
// the snapshot behind an atomic pointer: a request loads it once and uses
// only that, so a batch is decided on one revision and the hot path takes no
// lock. It knows nothing of HTTP.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/pdp-sidecar/pdp/internal/policy"
)

// ErrNotReady is returned while no snapshot has been loaded.
var ErrNotReady = errors.New("no policy snapshot loaded yet")

// Entity is an AuthZEN subject or resource.
type Entity struct {
	Type       string
	ID         string
	Properties map[string]any // may be nil
}

// Request is one decision question.
type Request struct {
	Subject          Entity
	Action           string
	ActionProperties map[string]any
	Resource         Entity
	Context          map[string]any
}

// Error codes carried by a failed decision.
const (
	CodeEvaluation    = "evaluation_error"
	CodeTimeout       = "timeout"
	CodeInvalidResult = "invalid_result"
	CodeInvalidInput  = "invalid_request"
)

// EvalError says why a decision could not be evaluated. Such a decision is a deny.
type EvalError struct {
	Code    string
	Message string
}

func (e *EvalError) Error() string { return e.Message }

// Decision is the policy's verdict. Allow is true only when the policy
// returned allow == true; every failure is a deny with Err set.
type Decision struct {
	Allow   bool
	Reasons []string
	Err     *EvalError
}

// Engine evaluates requests against the current snapshot.
type Engine struct {
	snap    atomic.Pointer[policy.Snapshot]
	timeout time.Duration
}

// New returns an engine with no snapshot; decisions fail with ErrNotReady
// until Swap is called. timeout bounds each single evaluation.
func New(timeout time.Duration) *Engine {
	return &Engine{timeout: timeout}
}

// Swap installs s and returns the snapshot it replaced (nil at first).
func (e *Engine) Swap(s *policy.Snapshot) *policy.Snapshot { return e.snap.Swap(s) }

// Snapshot returns the current snapshot, or nil before the first Swap.
func (e *Engine) Snapshot() *policy.Snapshot { return e.snap.Load() }

func (e *Engine) current() (*policy.Snapshot, error) {
	s := e.snap.Load()
	if s == nil {
		return nil, ErrNotReady
	}
	return s, nil
}

// Evaluate decides one request.
func (e *Engine) Evaluate(ctx context.Context, req Request) (Decision, *policy.Snapshot, error) {
	s, err := e.current()
	if err != nil {
		return Decision{}, nil, err
	}
	return e.decide(ctx, s, req), s, nil
}

// Semantic is an AuthZEN evaluations_semantic.
type Semantic string

// The three AuthZEN batch semantics.
const (
	ExecuteAll          Semantic = "execute_all"
	DenyOnFirstDeny     Semantic = "deny_on_first_deny"
	PermitOnFirstPermit Semantic = "permit_on_first_permit"
)

// BatchItem is one request of a batch; an item that was already found
// invalid carries Invalid and is denied without evaluation.
type BatchItem struct {
	Request Request
	Invalid *EvalError
}

// EvaluateBatch decides items in order on one snapshot. The short-circuit
// semantics stop after the first deny (or permit) and return the decisions
// so far, that one included.
func (e *Engine) EvaluateBatch(ctx context.Context, items []BatchItem, sem Semantic) ([]Decision, *policy.Snapshot, error) {
	s, err := e.current()
	if err != nil {
		return nil, nil, err
	}
	out := make([]Decision, 0, len(items))
	for _, it := range items {
		var d Decision
		if it.Invalid != nil {
			d = deny(it.Invalid, it.Invalid.Message)
		} else {
			d = e.decide(ctx, s, it.Request)
		}
		out = append(out, d)
		if (sem == DenyOnFirstDeny && !d.Allow) || (sem == PermitOnFirstPermit && d.Allow) {
			break
		}
	}
	return out, s, nil
}

// SearchActions returns, sorted, every action of the policy's catalogue
// that the same decision rule allows for req's subject and resource.
// An action whose evaluation fails is left out (fail closed).
func (e *Engine) SearchActions(ctx context.Context, req Request) ([]string, *policy.Snapshot, error) {
	s, err := e.current()
	if err != nil {
		return nil, nil, err
	}
	var out []string
	for _, a := range s.Actions {
		req.Action = a
		if e.decide(ctx, s, req).Allow {
			out = append(out, a)
		}
	}
	return out, s, nil
}

// SearchSubjects returns, sorted, up to limit (0: no limit) user ids after
// the id `after` that the decision rule allows to perform req.Action on
// req.Resource, and whether more follow.
func (e *Engine) SearchSubjects(ctx context.Context, req Request, after string, limit int) ([]string, bool, *policy.Snapshot, error) {
	s, err := e.current()
	if err != nil {
		return nil, false, nil, err
	}
	if s.Subjects == nil {
		return nil, false, s, nil
	}
	ids, err := e.candidates(ctx, s, req)
	if err != nil {
		return nil, false, s, err
	}
	start := sort.SearchStrings(ids, after)
	if start < len(ids) && ids[start] == after && after != "" {
		start++
	}
	var out []string
	for _, id := range ids[start:] {
		req.Subject = Entity{Type: "user", ID: id}
		if !e.decide(ctx, s, req).Allow {
			continue
		}
		if limit > 0 && len(out) == limit {
			return out, true, s, nil
		}
		out = append(out, id)
	}
	return out, false, s, nil
}

func (e *Engine) candidates(ctx context.Context, s *policy.Snapshot, req Request) ([]string, error) {
	input, err := req.input()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	rs, err := s.Subjects.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return nil, &EvalError{Code: CodeEvaluation, Message: "listing subjects: " + err.Error()}
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil
	}
	arr, ok := rs[0].Expressions[0].Value.([]any)
	if !ok {
		return nil, &EvalError{Code: CodeInvalidResult, Message: fmt.Sprintf("%s returned %T, want a set of user ids", policy.SubjectsRule, rs[0].Expressions[0].Value)}
	}
	ids := make([]string, 0, len(arr))
	for _, x := range arr {
		if id, ok := x.(string); ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// Data evaluates the data document at ref (OPA's Data API). input may be
// nil; opts add tracers or metrics.
func (e *Engine) Data(ctx context.Context, ref ast.Ref, input ast.Value, opts ...rego.EvalOption) (any, bool, *policy.Snapshot, error) {
	s, err := e.current()
	if err != nil {
		return nil, false, nil, err
	}
	q, err := s.DataQuery(ctx, ref)
	if err != nil {
		return nil, false, s, &EvalError{Code: CodeEvaluation, Message: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	if input != nil {
		opts = append(opts, rego.EvalParsedInput(input))
	}
	rs, err := q.Eval(ctx, opts...)
	if err != nil {
		return nil, false, s, classify(ctx, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, false, s, nil
	}
	return rs[0].Expressions[0].Value, true, s, nil
}

// decide evaluates the decision rule; it never panics and never allows on error.
func (e *Engine) decide(ctx context.Context, s *policy.Snapshot, req Request) (d Decision) {
	defer func() {
		if r := recover(); r != nil {
			d = deny(&EvalError{Code: CodeEvaluation, Message: fmt.Sprintf("evaluation panicked: %v", r)}, "")
		}
	}()
	input, err := req.input()
	if err != nil {
		return deny(&EvalError{Code: CodeInvalidInput, Message: err.Error()}, "")
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	rs, err := s.Decision.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return deny(classify(ctx, err), "")
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return deny(&EvalError{Code: CodeInvalidResult, Message: policy.DecisionRule + " is undefined for this input"}, "")
	}
	return verdict(rs[0].Expressions[0].Value)
}

// verdict reads {"allow": bool, "reasons": [string]}; anything else denies.
func verdict(v any) Decision {
	obj, ok := v.(map[string]any)
	if !ok {
		return deny(&EvalError{Code: CodeInvalidResult, Message: fmt.Sprintf("%s returned %s, want an object with allow and reasons", policy.DecisionRule, kind(v))}, "")
	}
	allow, ok := obj["allow"].(bool)
	if !ok {
		return deny(&EvalError{Code: CodeInvalidResult, Message: fmt.Sprintf("%s.allow is %s, want a boolean", policy.DecisionRule, kind(obj["allow"]))}, "")
	}
	var reasons []string
	if arr, ok := obj["reasons"].([]any); ok {
		for _, r := range arr {
			if s, ok := r.(string); ok && s != "" {
				reasons = append(reasons, s)
			}
		}
	}
	if len(reasons) == 0 {
		if allow {
			reasons = []string{"allowed by policy (it gave no reason)"}
		} else {
			reasons = []string{"denied by policy (it gave no reason)"}
		}
	}
	return Decision{Allow: allow, Reasons: reasons}
}

func deny(err *EvalError, reason string) Decision {
	if reason == "" {
		reason = err.Message
	}
	return Decision{Reasons: []string{reason}, Err: err}
}

func classify(ctx context.Context, err error) *EvalError {
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return &EvalError{Code: CodeTimeout, Message: "decision timed out"}
		}
		return &EvalError{Code: CodeTimeout, Message: "decision cancelled: " + ctx.Err().Error()}
	}
	return &EvalError{Code: CodeEvaluation, Message: "evaluation failed: " + err.Error()}
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null/undefined"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
