package docstore

import (
	"context"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// Storage is an OPA store for a snapshot's data, for OPA's evaluator (the
// Data API, subject search, forward-auth routes, `pdp test`, and the
// decisions the vm leaves to OPA). It reads the data's AST until Compact
// gives it the same data as a Store; from then on a read builds the AST of
// just the document read (OPA's evaluator reads the longest constant
// prefix of a reference, e.g. /accounts/acme/users/bob, and caches it for
// the query). Both give the same values, so a query may see the switch
// between two reads. Transactions, policies and triggers are an empty
// in-memory store's. The data cannot be written: a snapshot never changes.
type Storage struct {
	storage.Store
	data atomic.Pointer[backing]
}

type backing struct {
	doc     ast.Value // before Compact
	compact *Store
}

// NewStorage is a Storage reading doc.
func NewStorage(doc ast.Value) *Storage {
	s := &Storage{Store: inmem.NewWithOpts(inmem.OptRoundTripOnWrite(false))}
	s.data.Store(&backing{doc: doc})
	return s
}

// NewCompactStorage is a Storage reading c.
func NewCompactStorage(c *Store) *Storage {
	s := &Storage{Store: inmem.NewWithOpts(inmem.OptRoundTripOnWrite(false))}
	s.data.Store(&backing{compact: c})
	return s
}

// Compact makes s read c, which must hold the same document, and let go
// of the AST.
func (s *Storage) Compact(c *Store) { s.data.Store(&backing{compact: c}) }

// AST is the document s reads while it reads an AST, nil once compacted.
func (s *Storage) AST() ast.Value { return s.data.Load().doc }

// Compacted is the Store s reads, nil while it reads the AST.
func (s *Storage) Compacted() *Store { return s.data.Load().compact }

// Read is the document at path.
func (s *Storage) Read(_ context.Context, _ storage.Transaction, path storage.Path) (any, error) {
	b := s.data.Load()
	if b.compact != nil {
		if r, ok := b.compact.Lookup(path); ok {
			return b.compact.Value(r), nil
		}
	} else if v, ok := lookupAST(b.doc, path); ok {
		return v, nil
	}
	return nil, &storage.Error{Code: storage.NotFoundErr, Message: path.String() + ": document does not exist"}
}

// lookupAST is Store.Lookup on an AST document.
func lookupAST(v ast.Value, path storage.Path) (ast.Value, bool) {
	for _, k := range path {
		switch x := v.(type) {
		case ast.Object:
			t := x.Get(ast.StringTerm(k))
			if t == nil {
				return nil, false
			}
			v = t.Value
		case *ast.Array:
			i, ok := ArrayIndex(k, x.Len())
			if !ok {
				return nil, false
			}
			v = x.Elem(i).Value
		default:
			return nil, false
		}
	}
	return v, v != nil
}

// Write refuses: a snapshot's data is read-only.
func (s *Storage) Write(context.Context, storage.Transaction, storage.PatchOp, storage.Path, any) error {
	return &storage.Error{Code: storage.InvalidPatchErr, Message: "the role data of a snapshot is read-only"}
}
