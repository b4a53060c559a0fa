package docstore

import (
	"context"

	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// NewStorage is an OPA store whose data is doc, for OPA's evaluator (the
// Data API, subject search, forward-auth routes, `pdp test`, and decisions
// the vm leaves to OPA): a read builds the AST of just the document read
// (OPA's evaluator reads the longest constant prefix of a reference, e.g.
// /accounts/acme/users/bob, and caches it for the query). Transactions,
// policies and triggers are an empty in-memory store's. The data cannot be
// written: a snapshot never changes.
func NewStorage(doc *Store) storage.Store {
	return &store{Store: inmem.NewWithOpts(inmem.OptRoundTripOnWrite(false)), doc: doc}
}

type store struct {
	storage.Store
	doc *Store
}

func (s *store) Read(_ context.Context, _ storage.Transaction, path storage.Path) (any, error) {
	r, ok := s.doc.Lookup(path)
	if !ok {
		return nil, &storage.Error{Code: storage.NotFoundErr, Message: path.String() + ": document does not exist"}
	}
	return s.doc.Value(r), nil
}

func (s *store) Write(context.Context, storage.Transaction, storage.PatchOp, storage.Path, any) error {
	return &storage.Error{Code: storage.InvalidPatchErr, Message: "the role data of a snapshot is read-only"}
}
