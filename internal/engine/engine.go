// Package engine answers decisions on the current policy snapshot. It holds
// the snapshot behind an atomic pointer: a request loads it once and uses
// only that, so a batch is decided on one revision and the hot path takes no
// lock. It knows nothing of HTTP.
package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/pdp-sidecar/pdp/internal/decisioncache"
	"github.com/pdp-sidecar/pdp/internal/policy"
	"github.com/pdp-sidecar/pdp/internal/vm"
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
// returned allow == true; every failure is a deny with Err set. Reasons
// may be shared with the decision cache: read it, never modify it.
type Decision struct {
	Allow   bool
	Reasons []string
	Err     *EvalError
	Cached  bool // answered from the decision cache (same revision, same complete input)
}

// Evaluator names what evaluates the decision rule.
type Evaluator string

// The evaluators: package vm runs the decision rule's plan, and OPA's own
// (top-down) evaluator serves whatever vm refuses and every other query.
const (
	VM      Evaluator = "vm"
	Topdown Evaluator = "topdown"
)

// Engine evaluates requests against the current snapshot.
type Engine struct {
	cur       atomic.Pointer[loaded]
	timeout   time.Duration
	cacheSize int
	evaluator Evaluator
	hits      atomic.Uint64 // over every snapshot, for counters that never go down
	misses    atomic.Uint64
	routeHits atomic.Uint64 // forward-auth route table answers from the route cache
	leftToOPA atomic.Uint64 // decisions the vm began and OPA's evaluator answered
}

// loaded is a snapshot and the decision cache that lives and dies with it,
// so a cached decision is always one of the snapshot that serves.
type loaded struct {
	snap   *policy.Snapshot
	cache  *decisioncache.Cache[Decision] // nil: caching off
	routes *decisioncache.Cache[routed]   // forward-auth route table answers; nil: off
}

// New returns an engine with no snapshot; decisions fail with ErrNotReady
// until Swap is called. timeout bounds each single evaluation; cacheSize
// bounds the decision cache (entries; 0 turns it off); ev chooses the
// decision rule's evaluator (VM falls back to Topdown for a policy that
// package vm cannot run).
func New(timeout time.Duration, cacheSize int, ev Evaluator) *Engine {
	return &Engine{timeout: timeout, cacheSize: cacheSize, evaluator: ev}
}

// EvaluatorState says which evaluator decides on the current snapshot.
type EvaluatorState struct {
	Configured Evaluator
	Serving    Evaluator // "" before the first snapshot
	// Refused says why package vm does not run the current policy (when
	// VM is configured and Topdown serves).
	Refused string
	// Unfolded names the rules over data alone that the vm could not
	// compute at snapshot build (vm.Program.Unfolded): decisions that need
	// one are left to OPA's evaluator.
	Unfolded []string
	// LeftToOPA counts the decisions the vm began and left to OPA's
	// evaluator (a conflict or a built-in's error in a body OPA may not
	// reach, an unfolded rule, a key only OPA reads: see evaluate), over
	// every snapshot. Each costs a vm evaluation and an OPA one.
	LeftToOPA uint64
}

// EvaluatorState reads which evaluator decides, and why.
func (e *Engine) EvaluatorState() EvaluatorState {
	st := EvaluatorState{Configured: e.evaluator, LeftToOPA: e.leftToOPA.Load()}
	if l := e.cur.Load(); l != nil {
		st.Serving = Topdown
		if e.useVM(l.snap) {
			st.Serving = VM
			prog, _ := l.snap.VM()
			st.Unfolded = prog.Unfolded()
		} else if e.evaluator == VM {
			st.Refused = l.snap.VMRefused
		}
	}
	return st
}

func (e *Engine) useVM(s *policy.Snapshot) bool {
	return e.evaluator == VM && s.DecisionVM != nil
}

// Swap installs s, with an empty decision cache, and returns the snapshot
// it replaced (nil at first). A snapshot whose policies call
// non-deterministic built-ins gets no cache.
func (e *Engine) Swap(s *policy.Snapshot) *policy.Snapshot {
	l := &loaded{snap: s}
	if len(s.Nondeterministic) == 0 {
		l.cache = decisioncache.New[Decision](e.cacheSize)
		if s.Routes != nil {
			l.routes = decisioncache.New[routed](min(e.cacheSize, maxCachedRoutes))
		}
	}
	if old := e.cur.Swap(l); old != nil {
		return old.snap
	}
	return nil
}

// Snapshot returns the current snapshot, or nil before the first Swap.
func (e *Engine) Snapshot() *policy.Snapshot {
	if l := e.cur.Load(); l != nil {
		return l.snap
	}
	return nil
}

// CacheStats describes the decision cache.
type CacheStats struct {
	Enabled bool
	// Disabled says why the cache is off (when it is).
	Disabled string
	// Hits and Misses count lookups since start, over every snapshot.
	Hits, Misses uint64
	// Entries and Capacity are the current snapshot's cache.
	Entries, Capacity int
	// RouteHits counts forward-auth route table answers from the route
	// cache since start; RouteEntries is the current snapshot's count.
	RouteHits    uint64
	RouteEntries int
}

// CacheStats reads the decision cache's state.
func (e *Engine) CacheStats() CacheStats {
	st := CacheStats{Hits: e.hits.Load(), Misses: e.misses.Load(), RouteHits: e.routeHits.Load()}
	l := e.cur.Load()
	switch {
	case e.cacheSize <= 0:
		st.Disabled = "turned off (--decision-cache 0)"
	case l == nil:
		st.Disabled = "no snapshot loaded"
	case l.cache == nil:
		st.Disabled = "the policies call non-deterministic built-ins: " + strings.Join(l.snap.Nondeterministic, ", ")
	default:
		st.Enabled = true
		cs := l.cache.Stats()
		st.Entries, st.Capacity = cs.Entries, cs.Capacity
		st.RouteEntries = l.routes.Stats().Entries
	}
	return st
}

func (e *Engine) current() (*loaded, error) {
	l := e.cur.Load()
	if l == nil {
		return nil, ErrNotReady
	}
	return l, nil
}

// Evaluate decides one request.
func (e *Engine) Evaluate(ctx context.Context, req Request) (Decision, *policy.Snapshot, error) {
	l, err := e.current()
	if err != nil {
		return Decision{}, nil, err
	}
	return e.decide(ctx, l, req), l.snap, nil
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
	l, err := e.current()
	if err != nil {
		return nil, nil, err
	}
	out := make([]Decision, 0, len(items))
	for _, it := range items {
		var d Decision
		if it.Invalid != nil {
			d = deny(it.Invalid, it.Invalid.Message)
		} else {
			d = e.decide(ctx, l, it.Request)
		}
		out = append(out, d)
		if (sem == DenyOnFirstDeny && !d.Allow) || (sem == PermitOnFirstPermit && d.Allow) {
			break
		}
	}
	return out, l.snap, nil
}

// SearchActions returns, sorted, every action of the policy's catalogue
// that the same decision rule allows for req's subject and resource.
// An action whose evaluation fails is left out (fail closed).
func (e *Engine) SearchActions(ctx context.Context, req Request) ([]string, *policy.Snapshot, error) {
	l, err := e.current()
	if err != nil {
		return nil, nil, err
	}
	var out []string
	for _, a := range l.snap.Actions {
		if ctx.Err() != nil {
			return nil, l.snap, unfinished(ctx)
		}
		req.Action = a
		if e.decide(ctx, l, req).Allow {
			out = append(out, a)
		}
	}
	if ctx.Err() != nil { // the last decisions may have failed for it
		return nil, l.snap, unfinished(ctx)
	}
	return out, l.snap, nil
}

// SearchSubjects returns, sorted, up to limit (0: no limit) user ids after
// the id `after` that the decision rule allows to perform req.Action on
// req.Resource, and whether more follow.
func (e *Engine) SearchSubjects(ctx context.Context, req Request, after string, limit int) ([]string, bool, *policy.Snapshot, error) {
	l, err := e.current()
	if err != nil {
		return nil, false, nil, err
	}
	s := l.snap
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
		if ctx.Err() != nil {
			return nil, false, s, unfinished(ctx)
		}
		req.Subject = Entity{Type: "user", ID: id}
		if !e.decide(ctx, l, req).Allow {
			continue
		}
		if limit > 0 && len(out) == limit {
			return out, true, s, nil
		}
		out = append(out, id)
	}
	if ctx.Err() != nil {
		return nil, false, s, unfinished(ctx)
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
	l, err := e.current()
	if err != nil {
		return nil, false, nil, err
	}
	s := l.snap
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

// maxCachedKey is the largest key (the encoded input, in bytes) whose
// decision is cached: it bounds the cache's memory to about
// capacity × maxCachedKey however large requests are (typical keys are a
// few hundred bytes).
const maxCachedKey = 2048

// maxCachedRoutes bounds the route cache: distinct paths (resource ids)
// are many, but a route answer is cheap to keep and dear to compute.
const maxCachedRoutes = 10000

// decide answers from the snapshot's decision cache, or evaluates the
// decision rule and caches a verdict the policy gave (never a failure).
func (e *Engine) decide(ctx context.Context, l *loaded, req Request) Decision {
	if ctx.Err() != nil { // the request's deadline passed (or its client left): decide nothing more
		return deny(classify(ctx, ctx.Err()), "")
	}
	if l.cache == nil {
		return e.evaluate(ctx, l.snap, req)
	}
	buf := keyBuf()
	key, ok := appendKey(*buf, &req)
	defer releaseKeyBuf(buf, key)
	if !ok || len(key) > maxCachedKey {
		return e.evaluate(ctx, l.snap, req)
	}
	if d, hit := l.cache.Get(key); hit {
		e.hits.Add(1)
		d.Cached = true
		return d
	}
	e.misses.Add(1)
	d := e.evaluate(ctx, l.snap, req)
	if d.Err == nil {
		d.Reasons = slices.Clip(d.Reasons) // shared from now on: no append may write into it
		l.cache.Put(key, d)
	}
	return d
}

// evaluate evaluates the decision rule; it never panics and never allows on error.
func (e *Engine) evaluate(ctx context.Context, s *policy.Snapshot, req Request) (d Decision) {
	defer func() {
		if r := recover(); r != nil {
			d = deny(&EvalError{Code: CodeEvaluation, Message: fmt.Sprintf("evaluation panicked: %v", r)}, "")
		}
	}()
	deadline := time.Now().Add(e.timeout)
	if e.useVM(s) {
		if d, ok := e.evaluateVM(ctx, s, req, deadline); ok {
			return d
		}
		e.leftToOPA.Add(1)
		// The plan failed (a conflict, a built-in's error) where OPA's
		// evaluator, which stops at the first body that succeeds, may
		// still decide, or it needs a rule over the data the vm could not
		// compute at snapshot build (vm.ErrUnfolded), or it met a key that
		// OPA's evaluator reads as a step of a path into the data, such as
		// "1" into an array (vm.ErrPathKey): OPA's evaluator answers, in
		// the time left (see vm.Compile, vm.Program.WithData).
	}
	input, err := req.input()
	if err != nil {
		return deny(&EvalError{Code: CodeInvalidInput, Message: err.Error()}, "")
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	rs, err := s.Decision.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return deny(classify(ctx, err), "")
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return deny(undefinedDecision(), "")
	}
	v, err := ast.InterfaceToValue(rs[0].Expressions[0].Value)
	if err != nil {
		return deny(&EvalError{Code: CodeInvalidResult, Message: fmt.Sprintf("%s returned a value pdp cannot read: %v", policy.DecisionRule, err)}, "")
	}
	return verdict(v)
}

// evaluateVM decides req with the snapshot's vm, on a pooled input. ok is
// false when the plan failed in a way OPA's evaluator may still decide.
func (e *Engine) evaluateVM(ctx context.Context, s *policy.Snapshot, req Request, deadline time.Time) (d Decision, ok bool) {
	buf := inputPool.Get().(*inputBuf)
	input, err := buf.fill(req)
	if err != nil {
		inputPool.Put(buf)
		return deny(&EvalError{Code: CodeInvalidInput, Message: err.Error()}, ""), true
	}
	// On a panic (recovered by evaluate) the buffer is dropped, not reused.
	prog, data := s.VM()
	v, err := prog.Eval(ctx, deadline, input, data)
	switch {
	case errors.Is(err, vm.ErrDeadline) || (err != nil && !time.Now().Before(deadline)):
		d, ok = deny(&EvalError{Code: CodeTimeout, Message: "decision timed out"}, ""), true
	case err != nil && ctx.Err() != nil:
		d, ok = deny(classify(ctx, err), ""), true
	case err == nil && v == nil:
		d, ok = deny(undefinedDecision(), ""), true
	case err == nil:
		d, ok = verdict(v.Value), true // Go values: nothing of the input
	}
	inputPool.Put(buf)
	return d, ok
}

func undefinedDecision() *EvalError {
	return &EvalError{Code: CodeInvalidResult, Message: policy.DecisionRule + " is undefined for this input"}
}

var (
	allowKey   = ast.StringTerm("allow")
	reasonsKey = ast.StringTerm("reasons")
)

// verdict reads {"allow": bool, "reasons": [string]} (a set of reasons as
// OPA's API gives it: sorted), an OPA object or the vm's record of one;
// anything else denies.
func verdict(v ast.Value) Decision {
	var get func(key *ast.Term) *ast.Term
	switch obj := v.(type) {
	case ast.Object:
		get = obj.Get
	case *vm.Record:
		get = func(key *ast.Term) *ast.Term { return obj.Get(string(key.Value.(ast.String))) }
	default:
		return deny(&EvalError{Code: CodeInvalidResult, Message: fmt.Sprintf("%s returned %s, want an object with allow and reasons", policy.DecisionRule, kindAST(v))}, "")
	}
	var allowV ast.Value
	if t := get(allowKey); t != nil {
		allowV = t.Value
	}
	allow, ok := allowV.(ast.Boolean)
	if !ok {
		return deny(&EvalError{Code: CodeInvalidResult, Message: fmt.Sprintf("%s.allow is %s, want a boolean", policy.DecisionRule, kindAST(allowV))}, "")
	}
	var reasons []string
	add := func(t *ast.Term) {
		if s, ok := t.Value.(ast.String); ok && s != "" {
			reasons = append(reasons, string(s))
		}
	}
	if t := get(reasonsKey); t != nil {
		switch r := t.Value.(type) {
		case *ast.Array:
			reasons = make([]string, 0, r.Len())
			r.Foreach(add)
		case ast.Set:
			r.Sorted().Foreach(add)
		}
	}
	if len(reasons) == 0 {
		if allow {
			reasons = []string{"allowed by policy (it gave no reason)"}
		} else {
			reasons = []string{"denied by policy (it gave no reason)"}
		}
	}
	return Decision{Allow: bool(allow), Reasons: reasons}
}

func kindAST(v ast.Value) string {
	switch v.(type) {
	case nil, ast.Null:
		return "null/undefined"
	case ast.Boolean:
		return "a boolean"
	case ast.String:
		return "a string"
	case ast.Number:
		return "a number"
	case *ast.Array, ast.Set: // OPA's API gives a set as an array
		return "an array"
	case ast.Object:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func deny(err *EvalError, reason string) Decision {
	if reason == "" {
		reason = err.Message
	}
	return Decision{Reasons: []string{reason}, Err: err}
}

// unfinished is the error of a search the request's deadline (or the
// client going away) cut short: its results would be incomplete.
func unfinished(ctx context.Context) *EvalError {
	return &EvalError{Code: CodeTimeout, Message: "search did not finish: " + ctx.Err().Error()}
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

// kind names what a Go value from OPA's API is, as kindAST does.
func kind(v any) string {
	av, err := ast.InterfaceToValue(v)
	if err != nil {
		return fmt.Sprintf("%T", v)
	}
	return kindAST(av)
}
