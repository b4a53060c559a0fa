package vm

import (
	"context"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/pdp-sidecar/pdp/internal/docstore"
)

// state is one evaluation's: its frames, memoised rules and built-in
// scratch. States are pooled: an evaluation allocates little of its own.
type state struct {
	prog    *Program
	ctx     context.Context
	stack   []*ast.Term // frames are carved from it, last in first out
	memo    []memoEntry // by function index
	folded  []memoEntry // the Program's data-only rules, when evaluating on its data
	touched []int       // memo entries to clear after the evaluation
	results []*ast.Term
	retval  *ast.Term
	steps   int
	limit   int // steps allowed (0: no limit but the context's)
	// folding: a rule is being computed once for a snapshot (fold), and
	// objects whose members changed in place are rehashed when their
	// function returns (dirty), not at every re-insert (see objectInsert).
	folding  bool
	dirty    []ast.Object // in order of the skipped re-inserts (a run of one object recorded once)
	deadline time.Time    // zero: none

	bctx    topdown.BuiltinContext
	args    []*ast.Term
	out     *ast.Term
	collect func(*ast.Term) error

	// views and viewTerms: the slab node hands views of the data out from
	// (nviews used); they live for one evaluation.
	views     []view
	viewTerms []ast.Term
	nviews    int

	// scalars: the strings node made, by node (a direct-mapped cache),
	// for this evaluation.
	scalars [16]scalarTerm

	scans       []scanFrame // scans in progress, innermost last
	visitObject func(k, v *ast.Term) error
	visitSet    func(x *ast.Term) error
}

type scalarTerm struct {
	s *docstore.Store
	r docstore.Ref
	t *ast.Term
}

type memoEntry struct {
	set   bool
	value *ast.Term // nil: undefined
	// failed: WithData could not compute this rule over data (not set).
	failed bool
}

var states sync.Pool

func getState(p *Program, ctx context.Context) *state {
	st, _ := states.Get().(*state)
	if st == nil {
		st = &state{}
		st.collect = func(t *ast.Term) error {
			st.out = t
			return nil
		}
		st.visitObject = func(k, v *ast.Term) error {
			if st.visit(len(st.scans)-1, k, v) {
				return errStop
			}
			return nil
		}
		st.visitSet = func(x *ast.Term) error {
			if st.visit(len(st.scans)-1, x, x) {
				return errStop
			}
			return nil
		}
	}
	st.prog, st.ctx = p, ctx
	if cap(st.memo) < len(p.funcs) {
		st.memo = make([]memoEntry, len(p.funcs))
	}
	st.memo = st.memo[:len(p.funcs)]
	st.bctx = topdown.BuiltinContext{Context: ctx, Cancel: stateCancel{st}}
	return st
}

// stateCancel tells long-running built-ins (numbers.range, concat,
// regex.replace, ...) that the evaluation's deadline passed or its
// context ended.
type stateCancel struct{ st *state }

func (stateCancel) Cancel() {}

func (c stateCancel) Cancelled() bool {
	st := c.st
	return (!st.deadline.IsZero() && time.Now().After(st.deadline)) || (st.ctx != nil && st.ctx.Err() != nil)
}

func putState(st *state) {
	for _, i := range st.touched {
		st.memo[i] = memoEntry{}
	}
	st.touched = st.touched[:0]
	// Cleared to their capacity, not their length: what a pooled state
	// keeps past the length (a finished scan's source, an earlier call's
	// third argument) would keep a snapshot's data alive after a reload,
	// until two collections had emptied the pool.
	clear(st.dirty[:cap(st.dirty)]) // left by a failed fold
	st.dirty = st.dirty[:0]
	st.folding = false
	st.releaseViews()
	clear(st.scalars[:]) // nor its store, through a cached string's node
	clear(st.scans[:cap(st.scans)])
	st.scans = st.scans[:0]
	clear(st.results[:cap(st.results)])
	st.results = st.results[:0]
	clear(st.args[:cap(st.args)])
	st.args = st.args[:0]
	clear(st.stack) // frames left by a failed evaluation; popped frames were cleared by free
	st.stack = st.stack[:0]
	st.prog, st.ctx, st.retval, st.out, st.steps, st.limit, st.deadline, st.folded = nil, nil, nil, nil, 0, 0, time.Time{}, nil
	st.bctx = topdown.BuiltinContext{}
	if cap(st.stack) > 1<<16 { // one odd evaluation must not pin a large stack
		st.stack = nil
	}
	if len(st.views) > 1<<12 { // nor a large slab (a scan over every account)
		st.views, st.viewTerms = nil, nil
	}
	states.Put(st)
}

// alloc returns a cleared frame of n locals on top of the stack.
func (st *state) alloc(n int) []*ast.Term {
	if len(st.stack)+n > cap(st.stack) {
		// A new stack: the frames below keep the old one, which stays
		// theirs; free pops only frames of the current one.
		st.stack = make([]*ast.Term, 0, max(2*cap(st.stack), n, 256))
	}
	top := len(st.stack)
	st.stack = st.stack[:top+n]
	return st.stack[top : top+n : top+n]
}

// free clears f and pops it when it is the top frame of the stack.
func (st *state) free(f []*ast.Term) {
	clear(f)
	n := len(f)
	if n > 0 && len(st.stack) >= n && &st.stack[len(st.stack)-n] == &f[0] {
		st.stack = st.stack[:len(st.stack)-n]
	}
}
