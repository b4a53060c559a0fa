package docstore

import (
	"context"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// Storage is an OPA store for a snapshot's data, for OPA's evaluator (the
// Data API, subject search, forward-auth routes, `pdp test`, and the
// decisions the vm leaves to OPA). It reads either the data's AST or the
// same data as a Store; from a Store, a read builds the AST of just the
// document read (OPA's evaluator reads the longest constant prefix of a
// reference, e.g. /accounts/acme/users/bob, and caches it for the query).
// Both give the same values. Transactions, policies and triggers are an
// empty in-memory store's. The data cannot be written: a snapshot never
// changes.
type Storage struct {
	storage.Store
	doc     ast.Value // nil when compact is set
	compact *Store
}

// NewStorage is a Storage reading doc.
func NewStorage(doc ast.Value) *Storage {
	return &Storage{Store: inmem.NewWithOpts(inmem.OptRoundTripOnWrite(false)), doc: doc}
}

// NewCompactStorage is a Storage reading c.
func NewCompactStorage(c *Store) *Storage {
	return &Storage{Store: inmem.NewWithOpts(inmem.OptRoundTripOnWrite(false)), compact: c}
}

// Compacted is the Store s reads, nil when it reads an AST.
func (s *Storage) Compacted() *Store { return s.compact }

// Read is the document at path.
func (s *Storage) Read(_ context.Context, _ storage.Transaction, path storage.Path) (any, error) {
	if s.compact != nil {
		if r, ok := s.compact.Lookup(path); ok {
			return s.compact.Value(r), nil
		}
	} else if v, ok := lookupAST(s.doc, path); ok {
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
