package docstore

import (
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// AST is node r as OPA's AST, built to be held for long (the role data
// OPA's evaluator reads, when a snapshot keeps its AST): every string and
// number shares one copy of s's text, a short string or key (stored once
// in s) is one term wherever it occurs, and terms are allocated in
// blocks. Value, by contrast, builds a document of its own for each read.
// AST values are never modified, so sharing terms is safe.
func (s *Store) AST(r Ref) ast.Value {
	a := astBuilder{s: s, held: true, text: string(s.text), shared: make([]sharedTerm, 1<<16)}
	return a.term(r).Value
}

// astBuilder builds the AST of a Store's nodes: for AST when held (the
// text, shared and slab below), else for Value (each string a copy, each
// term allocated on its own, nothing shared).
type astBuilder struct {
	s    *Store
	held bool
	text string // s.text, copied once
	// shared: short strings' terms by where they are in text, a cache
	// (a string whose slot another took gets a term of its own: a map of
	// every string cost more than the rest of AST).
	shared []sharedTerm
	slab   []ast.Term
}

type sharedTerm struct {
	at uint64 // offset and length in text; 0: empty (no string at 0 of length 0 is shared)
	t  *ast.Term
}

func (a *astBuilder) newTerm(v ast.Value) *ast.Term {
	if !a.held {
		return ast.NewTerm(v)
	}
	if len(a.slab) == 0 {
		a.slab = make([]ast.Term, 256)
	}
	t := &a.slab[0]
	a.slab = a.slab[1:]
	t.Value = v
	return t
}

// textAt is the string at off, n of s's text.
func (a *astBuilder) textAt(off, n uint32) string {
	if !a.held {
		return strings.Clone(a.s.str(off, n))
	}
	return a.text[off : off+n]
}

// str is the term of a string of s's text.
func (a *astBuilder) str(off, n uint32) *ast.Term {
	if n == 0 {
		return ast.InternedEmptyString
	}
	if !a.held || n > shortLen {
		return a.newTerm(ast.String(a.textAt(off, n)))
	}
	at := uint64(off)<<32 | uint64(n)
	slot := &a.shared[(at*0x9E3779B97F4A7C15)>>48]
	if slot.at != at {
		*slot = sharedTerm{at: at, t: a.newTerm(ast.String(a.text[off : off+n]))}
	}
	return slot.t
}

func (a *astBuilder) term(r Ref) *ast.Term {
	s := a.s
	n := &s.cells[r]
	switch n.kind {
	case Null:
		return ast.InternedNullTerm
	case Boolean:
		return ast.InternedTerm(n.n == 1)
	case Number:
		return a.newTerm(ast.Number(a.textAt(n.off, n.n)))
	case String:
		return a.str(n.off, n.n)
	case Array:
		elems := make([]*ast.Term, n.n)
		for i := range elems {
			elems[i] = a.term(Ref(n.off) + Ref(i))
		}
		return a.newTerm(ast.NewArray(elems...))
	default:
		kv := make([][2]*ast.Term, n.n)
		for i := range kv {
			m := &s.cells[int(n.off)+i]
			kv[i] = [2]*ast.Term{a.str(m.keyOff, m.keyLen), a.term(Ref(n.off) + Ref(i))}
		}
		return a.newTerm(ast.NewObject(kv...))
	}
}
