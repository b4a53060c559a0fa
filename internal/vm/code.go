package vm

import (
	"errors"
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"

	"github.com/pdp-sidecar/pdp/internal/docstore"
)

// code is a block of the plan compiled to closures, one per statement, with
// the statement's kind decided and its operands resolved (a local's index
// or a constant term) once, at Compile: an evaluation then makes one
// indirect call per statement instead of a type switch and an operand
// switch for each (7–18% off a decision when measured).
type code []instr

// instr runs one statement in frame f. It returns next to go on with the
// block, or the block's outcome: done, ret, or k >= 0 (left by a break out
// of it and k blocks around it; an undefined statement is a break 0).
type instr func(st *state, f []*ast.Term) (int, error)

const next = -3

// run runs c in frame f and returns the block's outcome.
func (st *state) run(f []*ast.Term, c code) (int, error) {
	for _, in := range c {
		if r, err := in(st, f); r != next || err != nil {
			return r, err
		}
	}
	return done, nil
}

// operand is a resolved ir.Operand: a constant term, or a local's index.
type operand struct {
	c     *ast.Term
	local int
}

func (o operand) get(f []*ast.Term) *ast.Term {
	if o.c != nil {
		return o.c
	}
	return f[o.local]
}

func (p *Program) operand(o ir.Operand) operand {
	switch v := o.Value.(type) {
	case ir.Local:
		return operand{local: int(v)}
	case ir.StringIndex:
		return operand{c: p.strings[v]}
	case ir.Bool:
		return operand{c: ast.InternedTerm(bool(v))}
	}
	panic(fmt.Sprintf("operand %T", o.Value)) // the checker refused it
}

func (p *Program) operands(os []ir.Operand) []operand {
	out := make([]operand, len(os))
	for i, o := range os {
		out[i] = p.operand(o)
	}
	return out
}

// compile compiles the checked plan: every function's blocks and the
// query's. A statement the checker let through but compileStmt does not
// know (a bug) is an error, not a panic.
func (p *Program) compile(plan *ir.Plan) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("compiling the plan: %v", r)
		}
	}()
	for _, fn := range p.funcs {
		fn.code = p.compileBlocks(fn.blocks)
	}
	p.code = p.compileBlocks(plan.Blocks)
	return nil
}

func (p *Program) compileBlocks(bs []*ir.Block) []code {
	out := make([]code, len(bs))
	for i, b := range bs {
		out[i] = p.compileBlock(b)
	}
	return out
}

func (p *Program) compileBlock(b *ir.Block) code {
	out := make(code, 0, len(b.Stmts))
	for i := 0; i < len(b.Stmts); i++ {
		s := b.Stmts[i]
		if _, ok := s.(*ir.NopStmt); ok {
			continue
		}
		if i > 0 && sameObjectInsert(b.Stmts[i-1], s) {
			continue
		}
		if in, n := p.compileLiteral(b.Stmts[i:]); n > 0 {
			out = append(out, in)
			i += n - 1
			continue
		}
		out = append(out, p.compileStmt(s))
	}
	return out
}

// compileLiteral compiles an object or array literal: a MakeObjectStmt
// and the ObjectInsertStmts of distinct constant string keys into it that
// follow it at once, or a MakeArrayStmt and the ArrayAppendStmts to it
// that follow it at once, as one instruction that builds the value whole
// (n: the statements it stands for; 0 when stmts starts with none). OPA's
// object grows its key slice, its map and an element per insert, and its
// array copies itself and grows its hashes per append: {"kind": k,
// "perm": p, "grants": g} made ten allocations one insert at a time and
// makes five whole; a built-in's arguments [a, b], seven and four.
func (p *Program) compileLiteral(stmts []ir.Stmt) (instr, int) {
	switch s := stmts[0].(type) {
	case *ir.MakeObjectStmt:
		target := s.Target
		var keys []*ast.Term
		var vals []operand
		for _, next := range stmts[1:] {
			ins, ok := next.(*ir.ObjectInsertStmt)
			if !ok || ins.Object != target || isLocal(ins.Value, target) {
				break
			}
			k, ok := ins.Key.Value.(ir.StringIndex)
			if !ok || slices.ContainsFunc(keys, p.strings[k].Equal) {
				break
			}
			keys, vals = append(keys, p.strings[k]), append(vals, p.operand(ins.Value))
		}
		if len(keys) == 0 {
			return nil, 0
		}
		local, lit := int(target), newLiteral(keys, vals)
		return func(_ *state, f []*ast.Term) (int, error) {
			t, r := lit.record()
			for i, o := range lit.vals {
				v := o.get(f)
				if v == nil {
					return 0, errors.New("object insert into a non-object or of an undefined value")
				}
				r.vals[i] = v
			}
			f[local] = t
			return next, nil
		}, 1 + len(keys)
	case *ir.MakeArrayStmt:
		target := s.Target
		var vals []operand
		for _, next := range stmts[1:] {
			app, ok := next.(*ir.ArrayAppendStmt)
			if !ok || app.Array != target || isLocal(app.Value, target) {
				break
			}
			vals = append(vals, p.operand(app.Value))
		}
		if len(vals) == 0 {
			return nil, 0
		}
		local, capacity := int(target), max(int(s.Capacity), len(vals))
		return func(_ *state, f []*ast.Term) (int, error) {
			elems := make([]*ast.Term, len(vals), capacity)
			for i, o := range vals {
				v := solid(o.get(f))
				if v == nil {
					return 0, errors.New("array append to a non-array or of an undefined value")
				}
				elems[i] = v
			}
			f[local] = ast.NewTerm(ast.NewArray(elems...))
			return next, nil
		}, 1 + len(vals)
	}
	return nil, 0
}

// sameObjectInsert tells whether s inserts what prev, the statement just
// before it, inserted: OPA's planner emits such a pair for every element of
// a multi-value rule (p[k] contains v). The second changes nothing, but
// OPA's object rehashes all its members on every insert of a key it holds,
// so running it made building an index over n keys cost n² (past the fold
// budget at 10,000 accounts).
func sameObjectInsert(prev, s ir.Stmt) bool {
	a, ok1 := prev.(*ir.ObjectInsertStmt)
	b, ok2 := s.(*ir.ObjectInsertStmt)
	return ok1 && ok2 && a.Object == b.Object && a.Key == b.Key && a.Value == b.Value
}

// compileStmt compiles a statement the checker accepted.
func (p *Program) compileStmt(s ir.Stmt) instr {
	switch s := s.(type) {
	case *callStmt:
		args, res := p.operands(s.Args), int(s.Result)
		if fn := s.callee.fn; fn != nil {
			return func(st *state, f []*ast.Term) (int, error) {
				v, err := st.callFunc(f, fn, args)
				if err != nil || v == nil {
					return 0, err
				}
				f[res] = v
				return next, nil
			}
		}
		c := s.callee
		return func(st *state, f []*ast.Term) (int, error) {
			v, err := st.callBuiltin(f, &c, args)
			if err != nil || v == nil {
				return 0, err
			}
			f[res] = v
			return next, nil
		}
	case *ir.DotStmt:
		src, key, target := p.operand(s.Source), p.operand(s.Key), int(s.Target)
		return func(st *state, f []*ast.Term) (int, error) {
			src, key := src.get(f), key.get(f)
			if src == nil || key == nil {
				return 0, nil
			}
			var v *ast.Term
			switch sv := src.Value.(type) {
			case *Record:
				if k, ok := key.Value.(ast.String); ok {
					v = sv.get(string(k))
				}
			case *view:
				v = st.dotView(sv, solid(key))
			case *setValue:
				if sv.contains(key) {
					v = key
				}
			default:
				v = dot(src, solid(key))
			}
			if v == nil {
				if pathKey(src.Value, key.Value) {
					return 0, ErrPathKey
				}
				return 0, nil
			}
			f[target] = v
			return next, nil
		}
	case *ir.AssignVarStmt:
		src, target := p.operand(s.Source), int(s.Target)
		return func(_ *state, f []*ast.Term) (int, error) {
			v := src.get(f)
			if v == nil {
				return 0, nil
			}
			f[target] = v
			return next, nil
		}
	case *ir.AssignVarOnceStmt:
		src, target := p.operand(s.Source), int(s.Target)
		return func(_ *state, f []*ast.Term) (int, error) {
			v := src.get(f)
			if v == nil {
				return 0, nil
			}
			if cur := f[target]; cur != nil {
				if compareTerms(cur, v) != 0 {
					return 0, conflict()
				}
				return next, nil
			}
			f[target] = v
			return next, nil
		}
	case *ir.ObjectInsertStmt:
		return p.objectInsert(s.Object, s.Key, s.Value, false)
	case *ir.ObjectInsertOnceStmt:
		return p.objectInsert(s.Object, s.Key, s.Value, true)
	case *ir.SetAddStmt:
		set, val := int(s.Set), p.operand(s.Value)
		return func(st *state, f []*ast.Term) (int, error) {
			t, v := f[set], val.get(f)
			if t == nil || v == nil {
				return 0, errors.New("set add to a non-set or of an undefined value")
			}
			if _, isView := v.Value.(*view); isView {
				v = solid(v) // a view lives for this evaluation only
			}
			if t.Value == emptySet {
				// Its own set, from its first member (aliases of the term
				// see it).
				if !st.folding {
					s := newSetValue(1)
					s.elems = append(s.elems, v)
					t.Value = s
					return next, nil
				}
				// While folding (an index over the data, built once per
				// snapshot), OPA's set at once: grown in place in the
				// object the plan re-inserts it into (objectInsert), not
				// made solid again at each insert.
				t.Value = ast.NewSet()
			}
			if s, ok := t.Value.(*setValue); ok {
				if len(s.elems) < setMax {
					s.add(v)
					return next, nil
				}
				if s.contains(v) {
					return next, nil
				}
				t.Value = s.ast().Value // grown past setMax: OPA's from now on
			}
			s, ok := t.Value.(ast.Set)
			if !ok {
				return 0, errors.New("set add to a non-set or of an undefined value")
			}
			s.Add(solid(v))
			return next, nil
		}
	case *ir.NotEqualStmt:
		a, b := p.operand(s.A), p.operand(s.B)
		if v, ok := s.B.Value.(ir.Bool); ok && !bool(v) {
			// x != false, the plan's test of a rule's truth (a third of
			// a decision's comparisons): only false itself equals false.
			return func(_ *state, f []*ast.Term) (int, error) {
				a := a.get(f)
				if a == nil {
					return 0, nil
				}
				if b, ok := a.Value.(ast.Boolean); ok && !bool(b) {
					return 0, nil
				}
				return next, nil
			}
		}
		return func(_ *state, f []*ast.Term) (int, error) {
			a, b := a.get(f), b.get(f)
			if a == nil || b == nil || compareTerms(a, b) == 0 {
				return 0, nil
			}
			return next, nil
		}
	case *ir.EqualStmt:
		a, b := p.operand(s.A), p.operand(s.B)
		return func(_ *state, f []*ast.Term) (int, error) {
			a, b := a.get(f), b.get(f)
			if a == nil || b == nil || compareTerms(a, b) != 0 {
				return 0, nil
			}
			return next, nil
		}
	case *ir.MakeObjectStmt:
		target := int(s.Target)
		return func(_ *state, f []*ast.Term) (int, error) {
			f[target] = ast.NewTerm(ast.NewObject())
			return next, nil
		}
	case *ir.MakeSetStmt:
		// Many sets a decision makes stay empty (no grant, no problem):
		// they share one empty set until SetAddStmt gives the term a
		// setValue of its own (aliases of the term see it).
		target := int(s.Target)
		return func(_ *state, f []*ast.Term) (int, error) {
			f[target] = &ast.Term{Value: emptySet}
			return next, nil
		}
	case *ir.MakeArrayStmt:
		target, capacity := int(s.Target), max(int(s.Capacity), 0)
		return func(_ *state, f []*ast.Term) (int, error) {
			f[target] = ast.NewTerm(ast.NewArray(make([]*ast.Term, 0, capacity)...))
			return next, nil
		}
	case *ir.ArrayAppendStmt:
		array, val := int(s.Array), p.operand(s.Value)
		return func(_ *state, f []*ast.Term) (int, error) {
			arr, ok := termValue[*ast.Array](f[array])
			v := solid(val.get(f))
			if !ok || v == nil {
				return 0, errors.New("array append to a non-array or of an undefined value")
			}
			f[array].Value = arr.Append(v) // in place, as OPA's Wasm runtime appends
			return next, nil
		}
	case *ir.ObjectMergeStmt:
		a, b, target := int(s.A), int(s.B), int(s.Target)
		return func(_ *state, f []*ast.Term) (int, error) {
			a, aok := termValue[ast.Object](solid(f[a]))
			b, bok := termValue[ast.Object](solid(f[b]))
			if !aok || !bok {
				return 0, objectConflict()
			}
			m, ok := a.Merge(b)
			if !ok {
				return 0, objectConflict()
			}
			f[target] = ast.NewTerm(m)
			return next, nil
		}
	case *ir.ResetLocalStmt:
		target := int(s.Target)
		return func(_ *state, f []*ast.Term) (int, error) {
			f[target] = nil
			return next, nil
		}
	case *ir.IsDefinedStmt:
		src := int(s.Source)
		return func(_ *state, f []*ast.Term) (int, error) {
			if f[src] == nil {
				return 0, nil
			}
			return next, nil
		}
	case *ir.IsUndefinedStmt:
		src := int(s.Source)
		return func(_ *state, f []*ast.Term) (int, error) {
			if f[src] != nil {
				return 0, nil
			}
			return next, nil
		}
	case *ir.IsArrayStmt:
		return isContainerStmt[*ast.Array](p.operand(s.Source), docstore.Array)
	case *ir.IsObjectStmt:
		return isContainerStmt[ast.Object](p.operand(s.Source), docstore.Object)
	case *ir.IsSetStmt:
		src := p.operand(s.Source)
		return func(_ *state, f []*ast.Term) (int, error) {
			if !isSet(src.get(f)) {
				return 0, nil
			}
			return next, nil
		}
	case *ir.LenStmt:
		src, target := p.operand(s.Source), int(s.Target)
		return func(_ *state, f []*ast.Term) (int, error) {
			v := src.get(f)
			if v == nil {
				return 0, nil
			}
			n, ok := length(v.Value)
			if !ok {
				return 0, nil
			}
			f[target] = ast.InternedTerm(n)
			return next, nil
		}
	case *ir.MakeNumberRefStmt:
		return assign(int(s.Target), p.numbers[s.Index])
	case *ir.MakeNumberIntStmt:
		return assign(int(s.Target), ast.InternedTerm(int(s.Value)))
	case *ir.AssignIntStmt:
		return assign(int(s.Target), ast.InternedTerm(int(s.Value)))
	case *ir.MakeNullStmt:
		return assign(int(s.Target), ast.InternedNullTerm)
	case *ir.ReturnLocalStmt:
		src := int(s.Source)
		return func(st *state, f []*ast.Term) (int, error) {
			st.retval = f[src]
			return ret, nil
		}
	case *ir.ResultSetAddStmt:
		val := int(s.Value)
		return func(st *state, f []*ast.Term) (int, error) {
			if v := f[val]; v != nil {
				st.results = append(st.results, v) // made solid by Eval
			}
			return next, nil
		}
	case *ir.BreakStmt:
		index := int(s.Index)
		return func(*state, []*ast.Term) (int, error) { return index, nil }
	case *ir.BlockStmt:
		blocks := p.compileBlocks(s.Blocks)
		return func(st *state, f []*ast.Term) (int, error) {
			for _, b := range blocks {
				r, err := st.run(f, b)
				switch {
				case err != nil:
					return 0, err
				case r == ret:
					return ret, nil
				case r >= 1:
					return r - 1, nil
				}
			}
			return next, nil
		}
	case *ir.NotStmt:
		block := p.compileBlock(s.Block)
		return func(st *state, f []*ast.Term) (int, error) {
			r, err := st.run(f, block)
			switch {
			case err != nil:
				return 0, err
			case r == done:
				return 0, nil // the negated block held: the not fails
			case r == ret:
				return ret, nil
			case r >= 1:
				return r - 1, nil
			}
			return next, nil
		}
	case *ir.ScanStmt:
		sc := &scanStmt{source: int(s.Source), key: int(s.Key), value: int(s.Value), body: p.compileBlock(s.Block)}
		return func(st *state, f []*ast.Term) (int, error) {
			r, err := st.scan(f, sc)
			if err != nil || r != done {
				return r, err
			}
			return next, nil
		}
	}
	panic(fmt.Sprintf("statement %T", s)) // the checker refused it
}

// objectInsert is ObjectInsertStmt, or ObjectInsertOnceStmt (once: a key
// already there with another value is a conflict).
func (p *Program) objectInsert(object ir.Local, key, value ir.Operand, once bool) instr {
	obj, k, val := int(object), p.operand(key), p.operand(value)
	return func(st *state, f []*ast.Term) (int, error) {
		if t := f[obj]; t != nil {
			if r, ok := t.Value.(*Record); ok && r.literal {
				// A literal record inserted into after it was made (the
				// planner made it whole, then adds a key): OPA's object
				// from now on, a copy (aliases of the term see it).
				t.Value = r.object()
			}
		}
		o, _ := termValue[ast.Object](f[obj])
		k, v := solid(k.get(f)), solid(val.get(f))
		if o == nil || k == nil || v == nil {
			return 0, errors.New("object insert into a non-object or of an undefined value")
		}
		if once {
			if cur := o.Get(k); cur != nil {
				if ast.Compare(cur, v) != 0 {
					return 0, objectConflict()
				}
				return next, nil
			}
		} else if st.folding && o.Get(k) == v {
			// The planner re-inserts a set (or object) it has just grown in
			// place, for every element of a multi-value rule; OPA's object
			// then rehashes all its members, so building an index over n
			// keys whose keys recur cost n². While folding, the object is
			// rehashed once, when its function returns (rehash), before
			// anything can read its hash: the rule's function only builds
			// and returns it.
			if n := len(st.dirty); n == 0 || st.dirty[n-1] != o {
				st.dirty = append(st.dirty, o)
			}
			return next, nil
		}
		o.Insert(k, v)
		return next, nil
	}
}

// scanStmt is a compiled ScanStmt.
type scanStmt struct {
	source, key, value int
	body               code
}

func assign(target int, v *ast.Term) instr {
	return func(_ *state, f []*ast.Term) (int, error) {
		f[target] = v
		return next, nil
	}
}

// isContainerStmt is a type test for objects or arrays, which may be
// views of the data (of kind k).
func isContainerStmt[T ast.Value](src operand, k docstore.Kind) instr {
	return func(_ *state, f []*ast.Term) (int, error) {
		if !isContainerTerm[T](src.get(f), k) {
			return 0, nil
		}
		return next, nil
	}
}

// isSet is whether t is a set: OPA's or a setValue.
func isSet(t *ast.Term) bool {
	if t == nil {
		return false
	}
	switch t.Value.(type) {
	case ast.Set, *setValue:
		return true
	}
	return false
}
