// Package vm evaluates a Rego query from its plan: the imperative IR that
// OPA's planner makes of a query and the policies (the first stage of OPA's
// Wasm compiler; package ir). It runs that plan in Go, on the same AST
// values OPA's own evaluator uses, with OPA's own built-in functions, so a
// decision is a walk over a few hundred statements instead of OPA's
// general top-down search. Rules that take only input and data are
// memoised per evaluation, as OPA's Wasm runtime does. Besides OPA's values
// it reads three of its own: views of role data held compact (view.go);
// records, objects of fixed string keys (record.go): the input's, the
// constant tables', the policy's object literals'; and setValues, the sets
// the plan builds (native.go). Their AST is built wherever OPA's own code
// would meet them.
//
// Compile refuses a plan it cannot run exactly as OPA would (a `with`
// statement, a dynamic call, a built-in that needs the clock, randomness,
// the network or a tracer): the caller then keeps OPA's evaluator.
package vm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/pdp-sidecar/pdp/internal/docstore"
)

// Program is a compiled plan, safe for concurrent evaluations.
type Program struct {
	// data and folded are WithData's: the data the program was readied
	// for, and the values of its data-only rules (by function index).
	data     *ast.Term
	folded   []memoEntry
	unfolded []string // the data-only rules WithData could not compute

	strings []*ast.Term // the plan's string constants
	numbers []*ast.Term // MakeNumberRefStmt's numbers, by string index (nil where none)
	funcs   []*function // by index
	code    []code      // the "eval" plan's blocks, compiled
	nlocals int         // the plan's frame size
}

type function struct {
	name    string // the plan's, e.g. g0.data.pdp.authz.allow
	index   int
	params  []ir.Local
	ret     ir.Local
	blocks  []*ir.Block
	code    []code // blocks, compiled
	nlocals int
	memo    bool // takes only input and data: its value is fixed for one evaluation
	// constant: a memo function whose value depends on neither input nor
	// data (a table like an action catalogue): computed once, at Compile,
	// and shared by every evaluation (which only reads it).
	constant bool
	value    *ast.Term
	// dataOnly: a memo function that reads data but not input (an index
	// over the role data, say): WithData computes it once for its data.
	dataOnly bool
	// pure: a function of arguments that reads neither input nor data, and
	// its values by argument, shared by every evaluation (see pure.go).
	pure *pureValues
}

// callee is what a CallStmt calls: a planned function or a built-in.
type callee struct {
	fn      *function
	builtin topdown.BuiltinFunc
	inline  func([]*ast.Term) (*ast.Term, bool) // a trivial built-in, called directly (inline.go)
	// viewAware: inline takes views of the data as they are (the others,
	// and OPA's built-ins, are given their AST).
	viewAware bool
	loc       *ast.Location // the call's place in the policy, for a built-in's error
}

// Compile readies the plan named "eval" (vm.Plan's) of p for evaluation.
// The Program takes p over: Compile rewrites its calls in place, so p must
// not be compiled again or used otherwise (ask Plan for another).
//
// Where the plan's evaluation fails (a conflict, a built-in's error), OPA's
// evaluator may still give a value: it stops at the first body or element
// that succeeds, where the plan evaluates them all. A caller that must
// answer exactly as OPA does evaluates such an input again with OPA.
func Compile(p *ir.Policy) (*Program, error) {
	if p.Static == nil || p.Plans == nil || p.Funcs == nil {
		return nil, errors.New("the plan is incomplete")
	}
	prog := &Program{}
	for _, s := range p.Static.Strings {
		prog.strings = append(prog.strings, ast.StringTerm(s.Value))
	}
	prog.numbers = make([]*ast.Term, len(p.Static.Strings))
	var files []string
	for _, f := range p.Static.Files {
		files = append(files, f.Value)
	}
	byName := map[string]*function{}
	for i, f := range p.Funcs.Funcs {
		fn := &function{name: f.Name, index: i, params: f.Params, ret: f.Return, blocks: f.Blocks}
		fn.memo = len(f.Params) == 2 && f.Params[0] == ir.Input && f.Params[1] == ir.Data
		prog.funcs = append(prog.funcs, fn)
		byName[f.Name] = fn
	}
	var plan *ir.Plan
	for _, pl := range p.Plans.Plans {
		if pl.Name == "eval" {
			plan = pl
		}
	}
	if plan == nil {
		return nil, errors.New(`the plan has no "eval" query`)
	}
	c := checker{prog: prog, byName: byName, files: files}
	for _, fn := range prog.funcs {
		c.max = int(fn.ret)
		for _, l := range fn.params {
			c.max = max(c.max, int(l))
		}
		c.blocks(fn.blocks)
		fn.nlocals = c.max + 1
	}
	c.max = int(ir.Data)
	c.blocks(plan.Blocks)
	prog.nlocals = c.max + 1
	if len(c.problems) > 0 {
		return nil, errors.New(strings.Join(c.problems, "; "))
	}
	if err := prog.compile(plan); err != nil {
		return nil, err
	}
	prog.foldConstants()
	return prog, nil
}

// callStmt is a CallStmt with its callee resolved, put in its place in
// the plan by Compile's checker (the plan is the Program's own from then on).
type callStmt struct {
	ir.CallStmt
	callee
}

// foldConstants computes, once, the value of every rule that reads
// neither input nor data (directly or through what it calls), so that an
// evaluation does not rebuild, say, a table of a hundred actions, and marks
// the rules that read data but not input, for WithData. A rule whose
// evaluation fails here (a conflict, a built-in's error) is left to fail
// where it is evaluated.
func (p *Program) foldConstants() {
	input := p.reading(ir.Input)
	data := p.reading(ir.Data)
	for _, fn := range p.funcs {
		if !fn.memo && len(fn.params) > 2 && !input[fn.index] && !data[fn.index] {
			fn.pure = &pureValues{}
		}
		if !fn.memo || input[fn.index] {
			continue
		}
		if data[fn.index] {
			fn.dataOnly = true
			continue
		}
		if v, ok, _ := p.fold(fn, nil); ok {
			if v != nil {
				v = freeze(v)
			}
			fn.value, fn.constant = v, true
		}
	}
}

// reading tells, by function index, which functions read local l (input
// or data), directly or through what they call.
func (p *Program) reading(l ir.Local) []bool {
	reads := make([]bool, len(p.funcs))
	calls := make([][]int, len(p.funcs))
	for _, fn := range p.funcs {
		if len(fn.params) < 2 || fn.params[0] != ir.Input || fn.params[1] != ir.Data {
			reads[fn.index] = true
			continue
		}
		walkStmts(fn.blocks, func(s ir.Stmt) {
			if cs, ok := s.(*callStmt); ok {
				if c := cs.callee; c.fn != nil { // its first two arguments are input and data
					calls[fn.index] = append(calls[fn.index], c.fn.index)
					for _, a := range cs.Args[2:] {
						if isLocal(a, l) {
							reads[fn.index] = true
						}
					}
					return
				}
			}
			if uses(s, l) {
				reads[fn.index] = true
			}
		})
	}
	for changed := true; changed; {
		changed = false
		for i, cs := range calls {
			for _, j := range cs {
				if !reads[i] && reads[j] {
					reads[i], changed = true, true
				}
			}
		}
	}
	return reads
}

// fold evaluates the memo function fn once, on data and no input, within
// foldSteps and foldTime; ok is false when that failed, and spent is true
// when it failed for want of steps or time (or panicked), or met a key
// only OPA's evaluator reads (ErrPathKey).
func (p *Program) fold(fn *function, data *ast.Term) (v *ast.Term, ok, spent bool) {
	st := getState(p, context.Background())
	defer putState(st)
	defer func() {
		if recover() != nil {
			v, ok, spent = nil, false, true
		}
	}()
	st.limit, st.folding = foldSteps, true
	st.deadline = time.Now().Add(foldTime) // built-ins' own work counts no steps
	st.folded = p.foldedFor(data)
	f := st.alloc(2)
	f[ir.Data] = data
	v, err := st.callFunc(f, fn, inputAndData)
	v = solid(v) // kept past this evaluation, whose views it may not hold
	// Out of time, a built-in such as numbers.range stops with an error of
	// its own: a failure past the deadline counts as out of time. A rule
	// that meets ErrPathKey is OPA's to compute, as a rule out of time is:
	// each evaluation would compute it whole only to meet the same key.
	spent = errors.Is(err, errFoldBudget) || errors.Is(err, ErrUnfolded) || errors.Is(err, ErrPathKey) || (err != nil && !time.Now().Before(st.deadline))
	return v, err == nil, spent
}

// WithData returns the program readied for data: the rules that read data
// but not input (indexes over the role data) computed once, now, for every
// evaluation on this same data term to read. Evaluations on any other data
// compute them as before.
//
// A rule whose computation ends in an error is left to each evaluation
// (which meets the same error, as OPA's evaluator would). A rule that takes
// more than foldSteps or foldTime (or panics, or meets ErrPathKey) is not
// computed again by each evaluation that needs it (the plan computes a rule's whole value:
// every decision would do that work and most would time out): such an
// evaluation ends at once with ErrUnfolded, and the engine asks OPA's
// evaluator, which computes only the part of the rule the decision reads.
// Unfolded names these rules.
func (p *Program) WithData(data *ast.Term) *Program {
	q := *p
	q.data, q.folded, q.unfolded = data, make([]memoEntry, len(p.funcs)), nil
	for _, fn := range p.funcs {
		if !fn.dataOnly {
			continue
		}
		// Rules folded before fn are read by its evaluation (q.folded).
		switch v, ok, spent := q.fold(fn, data); {
		case ok:
			q.folded[fn.index] = memoEntry{set: true, value: v}
		case spent:
			q.folded[fn.index] = memoEntry{failed: true}
			q.unfolded = append(q.unfolded, ruleName(fn.name))
		}
	}
	return &q
}

// Unfolded names the rules over data alone that WithData could not compute
// (see WithData), e.g. data.pdp.authz.accounts_owned_by_id.
func (p *Program) Unfolded() []string { return slices.Clone(p.unfolded) }

// ErrUnfolded ends an evaluation that needs a rule WithData could not
// compute.
var ErrUnfolded = errors.New("a rule over the data alone could not be computed when the snapshot was built (too long, it panicked, or it reads a key only OPA's evaluator reads): the vm leaves this evaluation to OPA's evaluator")

// ruleName is a plan function's rule: g0.data.p.r is data.p.r.
func ruleName(fn string) string {
	if g, rest, ok := strings.Cut(fn, "."); ok && len(g) > 1 && g[0] == 'g' && strings.Trim(g[1:], "0123456789") == "" {
		return rest
	}
	return fn
}

// foldedFor is what WithData computed, for an evaluation on data: nil
// unless data is the term it was computed for.
func (p *Program) foldedFor(data *ast.Term) []memoEntry {
	if data != nil && data == p.data {
		return p.folded
	}
	return nil
}

// foldSteps bounds the work spent on one constant (scan iterations and
// calls): a rule that takes longer is evaluated where it is used, under
// the evaluation's deadline.
const foldSteps = 1 << 20

// foldTime bounds the time spent on one rule at Compile or WithData (a
// built-in such as numbers.range can work long in one step). It is well
// above a decision's deadline: a rule over the data that takes longer
// than this would time out every decision that needs it anyway.
var foldTime = time.Second // a variable for tests

var inputAndData = []operand{{local: int(ir.Input)}, {local: int(ir.Data)}}

var errFoldBudget = errors.New("constant folding: step budget spent")

func isLocal(o ir.Operand, l ir.Local) bool {
	v, ok := o.Value.(ir.Local)
	return ok && v == l
}

// uses says whether s reads or writes local l (a call's arguments are
// looked at by reading).
func uses(s ir.Stmt, l ir.Local) bool {
	ops, locals, ok := refs(s)
	if !ok {
		return true // unknown: assume it does
	}
	for _, o := range ops {
		if isLocal(o, l) {
			return true
		}
	}
	return slices.Contains(locals, l)
}

// walkStmts calls f on every statement in bs, nested ones included.
func walkStmts(bs []*ir.Block, f func(ir.Stmt)) {
	for _, b := range bs {
		for _, s := range b.Stmts {
			f(s)
			switch s := s.(type) {
			case *ir.BlockStmt:
				walkStmts(s.Blocks, f)
			case *ir.NotStmt:
				walkStmts([]*ir.Block{s.Block}, f)
			case *ir.ScanStmt:
				walkStmts([]*ir.Block{s.Block}, f)
			}
		}
	}
}

// unsupportedBuiltins need what an evaluation here does not give them (the
// clock, a seed, caches, tracers, the runtime) or have effects; a policy
// calling one stays on OPA's evaluator. Non-deterministic built-ins
// (http.send, rand.intn, time.now_ns, ...) are refused by their flag.
var unsupportedBuiltinPrefixes = []string{"io.jwt.", "rego.metadata.", "opa.runtime", "trace", "internal.print", "print", "internal.test_case"}

// checker walks a plan: it resolves every call, sizes frames and lists
// what Compile cannot run.
type checker struct {
	prog     *Program
	byName   map[string]*function
	files    []string // the plan's file names, for built-ins' error locations
	max      int
	problems []string
}

func (c *checker) fail(format string, args ...any) {
	if len(c.problems) < 10 {
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	}
}

func (c *checker) blocks(bs []*ir.Block) {
	for _, b := range bs {
		c.block(b)
	}
}

func (c *checker) local(l ir.Local) { c.max = max(c.max, int(l)) }

func (c *checker) operand(o ir.Operand) {
	switch v := o.Value.(type) {
	case ir.Local:
		c.local(v)
	case ir.StringIndex:
		if int(v) < 0 || int(v) >= len(c.prog.strings) {
			c.fail("string constant %d out of range", v)
		}
	case ir.Bool:
	default:
		c.fail("operand %T", o.Value)
	}
}

func (c *checker) block(b *ir.Block) {
	if b == nil {
		c.fail("a nil block")
		return
	}
	for i, s := range b.Stmts {
		if cs, ok := s.(*ir.CallStmt); ok {
			b.Stmts[i] = c.call(cs)
			continue
		}
		c.stmt(s)
	}
}

func (c *checker) stmt(s ir.Stmt) {
	switch s := s.(type) {
	case *callStmt:
		c.fail("the plan was compiled before: ask Plan for a new one")
		return
	case *ir.BlockStmt:
		c.blocks(s.Blocks)
		return
	case *ir.NotStmt:
		c.block(s.Block)
		return
	case *ir.ScanStmt:
		c.block(s.Block)
	case *ir.MakeNumberRefStmt:
		c.number(s.Index)
	}
	ops, locals, ok := refs(s)
	if !ok {
		// WithStmt, CallDynamicStmt and whatever a later OPA adds.
		c.fail("statement %T is not supported", s)
		return
	}
	for _, o := range ops {
		c.operand(o)
	}
	for _, l := range locals {
		c.local(l)
	}
}

// number readies the number constant MakeNumberRefStmt makes of string i.
func (c *checker) number(i int) {
	if i < 0 || i >= len(c.prog.strings) {
		c.fail("number constant %d out of range", i)
		return
	}
	v := c.prog.strings[i].Value.(ast.String)
	n := ast.NumberTerm(json.Number(v))
	if _, ok := n.Value.(ast.Number).Int(); !ok {
		if _, ok := n.Value.(ast.Number).Float64(); !ok {
			c.fail("number constant %q is not a number", v)
			return
		}
	}
	c.prog.numbers[i] = n
}

// refs lists the operands and locals statement s reads or writes (not
// those of the blocks it holds); ok is false for a statement the vm does
// not run.
func refs(s ir.Stmt) (ops []ir.Operand, locals []ir.Local, ok bool) {
	switch s := s.(type) {
	case *ir.ReturnLocalStmt:
		return nil, []ir.Local{s.Source}, true
	case *ir.CallStmt:
		return s.Args, []ir.Local{s.Result}, true
	case *callStmt:
		return s.Args, []ir.Local{s.Result}, true
	case *ir.DotStmt:
		return []ir.Operand{s.Source, s.Key}, []ir.Local{s.Target}, true
	case *ir.LenStmt:
		return []ir.Operand{s.Source}, []ir.Local{s.Target}, true
	case *ir.ScanStmt:
		return nil, []ir.Local{s.Source, s.Key, s.Value}, true
	case *ir.AssignIntStmt:
		return nil, []ir.Local{s.Target}, true
	case *ir.AssignVarStmt:
		return []ir.Operand{s.Source}, []ir.Local{s.Target}, true
	case *ir.AssignVarOnceStmt:
		return []ir.Operand{s.Source}, []ir.Local{s.Target}, true
	case *ir.ResetLocalStmt:
		return nil, []ir.Local{s.Target}, true
	case *ir.MakeNullStmt:
		return nil, []ir.Local{s.Target}, true
	case *ir.MakeNumberIntStmt:
		return nil, []ir.Local{s.Target}, true
	case *ir.MakeNumberRefStmt:
		return nil, []ir.Local{s.Target}, true
	case *ir.MakeArrayStmt:
		return nil, []ir.Local{s.Target}, true
	case *ir.MakeObjectStmt:
		return nil, []ir.Local{s.Target}, true
	case *ir.MakeSetStmt:
		return nil, []ir.Local{s.Target}, true
	case *ir.EqualStmt:
		return []ir.Operand{s.A, s.B}, nil, true
	case *ir.NotEqualStmt:
		return []ir.Operand{s.A, s.B}, nil, true
	case *ir.IsArrayStmt:
		return []ir.Operand{s.Source}, nil, true
	case *ir.IsObjectStmt:
		return []ir.Operand{s.Source}, nil, true
	case *ir.IsSetStmt:
		return []ir.Operand{s.Source}, nil, true
	case *ir.IsDefinedStmt:
		return nil, []ir.Local{s.Source}, true
	case *ir.IsUndefinedStmt:
		return nil, []ir.Local{s.Source}, true
	case *ir.ArrayAppendStmt:
		return []ir.Operand{s.Value}, []ir.Local{s.Array}, true
	case *ir.ObjectInsertStmt:
		return []ir.Operand{s.Key, s.Value}, []ir.Local{s.Object}, true
	case *ir.ObjectInsertOnceStmt:
		return []ir.Operand{s.Key, s.Value}, []ir.Local{s.Object}, true
	case *ir.ObjectMergeStmt:
		return nil, []ir.Local{s.A, s.B, s.Target}, true
	case *ir.SetAddStmt:
		return []ir.Operand{s.Value}, []ir.Local{s.Set}, true
	case *ir.ResultSetAddStmt:
		return nil, []ir.Local{s.Value}, true
	case *ir.BlockStmt, *ir.BreakStmt, *ir.NotStmt, *ir.NopStmt:
		return nil, nil, true
	}
	return nil, nil, false
}

// call checks s and returns it with its callee resolved (a zero callee
// when it cannot be: Compile then fails).
func (c *checker) call(s *ir.CallStmt) *callStmt {
	out := &callStmt{CallStmt: *s}
	for _, a := range s.Args {
		c.operand(a)
	}
	c.local(s.Result)
	if fn, ok := c.byName[s.Func]; ok {
		if len(s.Args) != len(fn.params) {
			c.fail("call of %s with %d arguments, want %d", s.Func, len(s.Args), len(fn.params))
		}
		out.callee = callee{fn: fn}
		return out
	}
	decl := ast.BuiltinMap[s.Func]
	switch {
	case decl == nil:
		c.fail("built-in %s is not one of OPA's (a custom function stays on OPA's evaluator)", s.Func)
		return out
	case decl.Nondeterministic:
		c.fail("built-in %s is non-deterministic", s.Func)
		return out
	case decl.Relation:
		// topdown's gives each output to its iterator; the planner wants
		// them all in one array (Wasm's own walk does that).
		c.fail("built-in %s is a relation", s.Func)
		return out
	}
	for _, p := range unsupportedBuiltinPrefixes {
		if strings.HasPrefix(s.Func, p) {
			c.fail("built-in %s needs OPA's evaluator", s.Func)
			return out
		}
	}
	f := topdown.GetBuiltin(s.Func)
	if f == nil {
		c.fail("built-in %s has no implementation", s.Func)
		return out
	}
	var loc *ast.Location
	if i := s.Location.File; i >= 0 && i < len(c.files) {
		loc = &ast.Location{File: c.files[i], Row: s.Location.Row, Col: s.Location.Col}
	}
	out.callee = callee{builtin: f, loc: loc, inline: inline[s.Func], viewAware: viewAware[s.Func]}
	return out
}

// ErrDeadline is the error of an evaluation that passed its deadline.
var ErrDeadline = errors.New("evaluation deadline exceeded")

// Eval evaluates the plan on input (nil: undefined) and data, and returns
// its result, or nil when the query is undefined. The result is OPA's
// value, except that an object literal of the policy at its top (the
// decision's {"allow": ..., "reasons": ...}) is a *Record whose members
// are OPA's values: Get reads one, AST builds the object. An error is a conflict,
// a built-in's error, ctx's end or the deadline passing (ErrDeadline; a
// zero deadline is none): the evaluation decided nothing. A deadline is
// cheaper than a context with a timeout: it is checked every 256 steps.
func (p *Program) Eval(ctx context.Context, deadline time.Time, input, data *ast.Term) (*ast.Term, error) {
	st := getState(p, ctx)
	st.deadline = deadline
	st.folded = p.foldedFor(data)
	defer putState(st)
	f := st.alloc(p.nlocals)
	f[ir.Input], f[ir.Data] = input, data
	for _, c := range p.code {
		r, err := st.run(f, c)
		if err != nil {
			return nil, err
		}
		if r == ret {
			break
		}
	}
	st.free(f)
	if len(st.results) == 0 {
		return nil, nil
	}
	if len(st.results) > 1 {
		for _, r := range st.results[1:] {
			if compareTerms(r, st.results[0]) != 0 {
				return nil, conflict()
			}
		}
	}
	// The plan's result is {"result": value}, most often a literal's
	// record: only the value is made solid.
	switch r := st.results[0].Value.(type) {
	case *Record:
		v := r.get("result")
		if rec, ok := termValue[*Record](v); ok && rec.shallow() {
			return v, nil
		}
		return solid(v), nil
	case ast.Object:
		return r.Get(resultKey), nil
	}
	return nil, fmt.Errorf("the plan's result is %T, want an object", st.results[0].Value)
}

var resultKey = ast.StringTerm("result")

// emptySet is the value of every set term the plan made and added nothing
// to: never written to.
var emptySet ast.Value = ast.NewSet()

// Block outcomes besides k >= 0, "the block was left by a break out of
// it and k blocks around it" (an undefined statement is a break 0).
const (
	done = -1 // every statement ran
	ret  = -2 // a ReturnLocalStmt ran: the function returns
)

// scan runs s's block for every element of its source (none for a scalar):
// key and value for an array or object, the element twice for a set.
// Objects and sets are walked with the state's own callbacks and a stack
// of scans, not closures: a closure per scan was a tenth of a decision's
// allocations.
func (st *state) scan(f []*ast.Term, s *scanStmt) (int, error) {
	src := f[s.source]
	if src == nil {
		return done, nil
	}
	st.scans = append(st.scans, scanFrame{f: f, s: s, out: done})
	i := len(st.scans) - 1
	switch v := src.Value.(type) {
	case *view:
		st.scanView(i, v)
	case *Record:
		for j, x := range v.vals {
			if x != nil && st.visit(i, v.terms[j], x) {
				break
			}
		}
	case *setValue:
		for _, x := range v.elems {
			if st.visit(i, x, x) {
				break
			}
		}
	case *ast.Array:
		for j := range v.Len() {
			if st.visit(i, ast.InternedTerm(j), v.Elem(j)) {
				break
			}
		}
	case ast.Object:
		_ = v.Iter(st.visitObject)
	case ast.Set:
		_ = v.Iter(st.visitSet)
	}
	sc := st.scans[i]
	st.scans[i] = scanFrame{}
	st.scans = st.scans[:i]
	return sc.out, sc.err
}

// scanFrame is one scan in progress: its frame, statement and outcome.
type scanFrame struct {
	f   []*ast.Term
	s   *scanStmt
	out int
	err error
}

// visit runs scan i's block for one element; true: stop the scan.
func (st *state) visit(i int, k, v *ast.Term) bool {
	if st.steps++; st.steps&255 == 0 {
		if err := st.check(); err != nil {
			st.scans[i].err = err
			return true
		}
	}
	sc := st.scans[i]
	sc.f[sc.s.key], sc.f[sc.s.value] = k, v
	r, err := st.run(sc.f, sc.s.body)
	switch {
	case err != nil:
		st.scans[i].err = err
		return true
	case r == ret:
		st.scans[i].out = ret
		return true
	case r == 1: // out of the scan: on after it
		return true
	case r >= 2:
		st.scans[i].out = r - 2
		return true
	}
	return false // done or 0: the next element
}

var errStop = errors.New("stop")

// check ends an evaluation whose context ended or whose step limit (when
// it has one) is spent.
func (st *state) check() error {
	if st.limit > 0 && st.steps > st.limit {
		return errFoldBudget
	}
	if !st.deadline.IsZero() && time.Now().After(st.deadline) {
		return ErrDeadline
	}
	return st.ctx.Err()
}

// call calls a planned function or a built-in; nil means undefined.
// callBuiltin calls the built-in c on args (undefined when one is).
func (st *state) callBuiltin(f []*ast.Term, c *callee, operands []operand) (*ast.Term, error) {
	args := st.args[:0]
	for _, a := range operands {
		v := a.get(f)
		if v == nil {
			return nil, nil
		}
		args = append(args, v)
	}
	st.args = args
	if c.inline != nil {
		if !c.viewAware {
			solidAll(args)
		}
		if v, ok := c.inline(args); ok {
			return v, nil
		}
	}
	solidAll(args)
	st.out = nil
	st.bctx.Location = c.loc
	if err := c.builtin(st.bctx, args, st.collect); err != nil {
		return nil, err
	}
	// st.args keeps its arguments until the next call: the evaluation's
	// own terms, cleared by putState (clearing a few pointers after every
	// call was 1.5% of a decision, write barriers included).
	return st.out, nil
}

// callFunc calls the planned function fn on args (input and data first).
func (st *state) callFunc(f []*ast.Term, fn *function, args []operand) (*ast.Term, error) {
	if fn.constant {
		return fn.value, nil
	}
	if fn.dataOnly && st.folded != nil {
		switch m := st.folded[fn.index]; {
		case m.set:
			return m.value, nil
		case m.failed:
			return nil, ErrUnfolded
		}
	}
	if fn.memo {
		if m := st.memo[fn.index]; m.set {
			return m.value, nil
		}
	}
	if st.steps++; st.steps&255 == 0 {
		if err := st.check(); err != nil {
			return nil, err
		}
	}
	var pureArgs [4]*ast.Term
	var pureHash uint64
	keep := false
	if fn.pure != nil && !st.folding && len(args)-2 <= len(pureArgs) {
		as := pureArgs[:len(args)-2]
		for i, a := range args[2:] {
			as[i] = a.get(f)
		}
		if pureHash, keep = pureKey(as); keep {
			if v, ok := fn.pure.get(pureHash, as); ok {
				return v, nil
			}
		}
	}
	mark := len(st.dirty)
	g := st.alloc(fn.nlocals)
	for i, a := range args {
		g[fn.params[i]] = a.get(f) // may be undefined: input, for one
	}
	st.retval = nil
	var out *ast.Term
	for _, c := range fn.code {
		r, err := st.run(g, c)
		if err != nil {
			st.free(g)
			return nil, err
		}
		if r == ret {
			out = st.retval
			break
		}
		if r >= 1 { // out of the function's body: it ends
			out = g[fn.ret]
			break
		}
	}
	st.retval = nil
	st.free(g)
	if len(st.dirty) > mark {
		st.rehash(mark)
	}
	if fn.memo {
		st.memo[fn.index] = memoEntry{set: true, value: out}
		st.touched = append(st.touched, fn.index)
	}
	if keep {
		fn.pure.put(pureHash, pureArgs[:len(args)-2], out)
	}
	return out, nil
}

func termValue[T ast.Value](t *ast.Term) (T, bool) {
	var zero T
	if t == nil {
		return zero, false
	}
	v, ok := t.Value.(T)
	return v, ok
}

// dot is src[key]: an object's value, an array's element, a set's member
// (itself); undefined (nil) for anything else.
func dot(src, key *ast.Term) *ast.Term {
	switch v := src.Value.(type) {
	case ast.Object:
		return v.Get(key)
	case *ast.Array:
		if i, ok := elemIndex(key, v.Len()); ok {
			return v.Elem(i)
		}
	case ast.Set:
		if v.Contains(key) {
			return key
		}
	}
	return nil
}

// ErrPathKey is the vm's error for a key that OPA's evaluator may read as
// a step of its store's paths: a string that reads as an index ("1") into
// an array, or a number whose text is a key of an object (1 for "1").
// OPA's evaluator reads a reference into the data (data.list["1"],
// data.obj[1]) through its store, whose paths are strings, and finds the
// member; it gives undefined for the same value reached through a
// variable, or for a value that is not data, as the plan does everywhere.
// The vm cannot tell those apart, so it leaves the evaluation to OPA's
// evaluator.
var ErrPathKey = errors.New(`a key of another type than its collection's (array["1"], object[1] for "1"): OPA's evaluator may read it as a step of a path into the data, so the vm leaves this evaluation to it`)

// pathKey is whether OPA's store would find key in src as a path step
// where the plan finds nothing: a string index into an array
// (docstore.ArrayIndex: "1", "+1", "01"), or a number naming an object's
// key by its text.
func pathKey(src, key ast.Value) bool {
	switch k := key.(type) {
	case ast.String:
		var n int
		switch v := src.(type) {
		case *view:
			if v.s.Kind(v.r) != docstore.Array {
				return false
			}
			n = v.s.Len(v.r)
		case *ast.Array:
			n = v.Len()
		default:
			return false
		}
		_, ok := docstore.ArrayIndex(string(k), n)
		return ok
	case ast.Number:
		switch v := src.(type) {
		case *view:
			_, ok := v.s.Get(v.r, k.String()) // false when not an object
			return ok
		case *Record:
			return v.get(k.String()) != nil
		case ast.Object:
			return v.Get(ast.StringTerm(k.String())) != nil
		}
	}
	return false
}

// elemIndex is key as the index of an element of an array of n: an
// integer number in range.
func elemIndex(key *ast.Term, n int) (int, bool) {
	num, ok := key.Value.(ast.Number)
	if !ok {
		return 0, false
	}
	i, ok := num.Int()
	return i, ok && i >= 0 && i < n
}

func length(v ast.Value) (int, bool) {
	switch v := v.(type) {
	case *view:
		return v.s.Len(v.r), true // only objects and arrays are views
	case *Record:
		return v.len(), true
	case *setValue:
		return len(v.elems), true
	case *ast.Array:
		return v.Len(), true
	case ast.Object:
		return v.Len(), true
	case ast.Set:
		return v.Len(), true
	case ast.String:
		return len([]rune(string(v))), true
	}
	return 0, false
}

func conflict() error {
	return &topdown.Error{Code: topdown.ConflictErr, Message: "complete rules must not produce multiple outputs"}
}

// rehash gives the objects recorded in st.dirty since mark (by
// objectInsert, while folding) their hash again, once each, in the order
// of their last record: a nested index (p[a][b] contains c) records the
// inner object before the outer one that holds it, every time, so the
// outer one is rehashed after all of its inner ones. Inserting a member an
// object holds makes it recompute its hash from its members.
func (st *state) rehash(mark int) {
	dirty := st.dirty[mark:]
	last := make(map[ast.Object]int, len(dirty))
	for i, o := range dirty {
		last[o] = i
	}
	for i, o := range dirty {
		if last[o] != i {
			continue
		}
		var k0, v0 *ast.Term
		o.Until(func(k, v *ast.Term) bool {
			k0, v0 = k, v
			return true
		})
		if k0 != nil {
			o.Insert(k0, v0)
		}
	}
	clear(dirty)
	st.dirty = st.dirty[:mark]
}

func objectConflict() error {
	return &topdown.Error{Code: topdown.ConflictErr, Message: "object keys must be unique"}
}
