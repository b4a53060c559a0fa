package docstore

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// TestStorageReadsAsOPAsStore reads the same paths from OPA's in-memory
// store, from a Storage on the AST and from one on the same data compact.
func TestStorageReadsAsOPAsStore(t *testing.T) {
	ctx := context.Background()
	doc := ast.MustParseTerm(`{"accounts": {"acme": {"owner": "bob", "users": {"bob": {"email": "b@x"}}, "tags": ["a", {"k": 1.50}], "n": null, "on": true}}}`).Value.(ast.Object)
	opa := inmem.NewFromASTObject(doc)
	c, err := Build(doc)
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{"/", "/accounts", "/accounts/acme/users/bob", "/accounts/acme/users/bob/email", "/accounts/acme/tags/1/k",
		"/accounts/acme/tags/+1", "/accounts/acme/tags/1.0", "/accounts/acme/tags/2", "/accounts/acme/tags/-1", "/accounts/acme/tags/x",
		"/accounts/acme/n", "/accounts/acme/on", "/accounts/globex", "/accounts/acme/owner/x", "/nothing"}
	for _, compacted := range []bool{false, true} {
		s := NewStorage(doc)
		if compacted {
			s = NewCompactStorage(c)
		}
		txn, err := s.NewTransaction(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			path, ok := storage.ParsePath(p)
			if !ok {
				t.Fatalf("path %s", p)
			}
			want, wantErr := storage.ReadOne(ctx, opa, path)
			got, err := s.Read(ctx, txn, path)
			if storage.IsNotFound(wantErr) != storage.IsNotFound(err) || (wantErr == nil) != (err == nil) {
				t.Errorf("compacted %v: %s: error %v, OPA's store: %v", compacted, p, err, wantErr)
				continue
			}
			if err != nil {
				continue
			}
			if ast.Compare(got.(ast.Value), want.(ast.Value)) != 0 {
				t.Errorf("compacted %v: %s = %v, OPA's store: %v", compacted, p, got, want)
			}
		}
		if err := s.Write(ctx, txn, storage.AddOp, storage.MustParsePath("/accounts/x"), map[string]any{}); err == nil {
			t.Error("Write: no error")
		}
		s.Abort(ctx, txn)
	}
}

// TestStorageServesQueries runs a query that reads data through a
// compact Storage.
func TestStorageServesQueries(t *testing.T) {
	doc := ast.MustParseTerm(`{"accounts": {"acme": {"users": {"bob": {}, "carol": {}}}}}`).Value.(ast.Object)
	c, err := Build(doc)
	if err != nil {
		t.Fatal(err)
	}
	s := NewCompactStorage(c)
	rs, err := rego.New(rego.Query(`x := {u | some u, _ in data.accounts[a].users; a == "acme"}`), rego.Store(s)).Eval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := rs[0].Bindings["x"]; len(got.([]any)) != 2 {
		t.Errorf("x = %v", got)
	}
}
