// Package policy builds immutable snapshots: it reads a policies tree and a
// role data tree, validates the data, compiles the Rego strictly, prepares
// the queries the sidecar answers, and computes the revision. It is pure:
// no file watching, no HTTP.
package policy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/pdp-sidecar/pdp/internal/docstore"
	"github.com/pdp-sidecar/pdp/internal/roledata"
	"github.com/pdp-sidecar/pdp/internal/vm"
)

// The rules of package pdp.authz that the sidecar evaluates. Only Decision
// is required; the others switch on the search endpoints and data validation.
const (
	DecisionRule             = "data.pdp.authz.decision"
	ActionsRule              = "data.pdp.authz.actions"
	SubjectsRule             = "data.pdp.authz.subjects"
	WorkspacePermissionsRule = "data.pdp.authz.workspace_permissions"
	AccountPermissionsRule   = "data.pdp.authz.account_permissions"
	BuiltinRolesRule         = "data.pdp.authz.builtin_roles"
	// RoutesRule maps a proxied HTTP request to an action and resource for
	// /v1/forward-auth (package pdp.routes).
	RoutesRule = "data.pdp.routes.route"
)

// Sources names the two trees a snapshot is built from.
type Sources struct {
	Policies fs.FS
	Data     fs.FS
}

// Stats counts what the role data holds.
type Stats struct {
	Accounts   int `json:"accounts"`
	Users      int `json:"users"`
	Workspaces int `json:"workspaces"`
	RoleGroups int `json:"role_groups"`
}

// Snapshot is one compiled, validated state of policies + data. It never
// changes after Build; the engine swaps whole snapshots. All methods are safe
// for concurrent use.
type Snapshot struct {
	Revision    string
	LoadedAt    time.Time
	PolicyFiles []string // served policies (tests excluded)
	TestFiles   []string // *_test.rego beside them
	DataFiles   []string
	Stats       Stats

	Compiler *ast.Compiler
	Store    storage.Store
	Decision rego.PreparedEvalQuery
	// DecisionVM is the decision rule compiled from OPA's plan (package
	// vm), nil when vm.Compile refused it (VMRefused says why). VM gives
	// it readied for the data.
	DecisionVM *vm.Program
	VMRefused  string
	// Actions is the sorted action catalogue (empty when the policy has none).
	Actions []string
	// Subjects lists candidate users for subject search (nil when undefined).
	Subjects *rego.PreparedEvalQuery
	// Routes maps proxied requests for forward-auth (nil when undefined).
	Routes *rego.PreparedEvalQuery
	// Nondeterministic lists the calls of non-deterministic built-ins
	// (time.now_ns, http.send, rand.intn, ...) in the served policies, as
	// "file:row name". When it is not empty, the same input may get a
	// different decision later, so decisions must not be cached.
	Nondeterministic []string

	// The role data, a compact store (docstore) or OPA's AST, held by
	// storage, which OPA's evaluator reads; the vm reads what vm holds.
	// Both forms hold the same document and give the same answers.
	storage *docstore.Storage
	vm      *vmData // nil when the vm does not decide

	modules  map[string]*ast.Module // parsed policies, for RunTests
	tests    map[string]*ast.Module // parsed *_test.rego, for RunTests
	dataRefs dataQueryCache
}

// Build reads both trees and returns a new snapshot, or an error naming the
// file (and line or JSON path) of every problem found.
func Build(ctx context.Context, src Sources) (*Snapshot, error) {
	policyFiles, dataFiles, err := Read(src)
	if err != nil {
		return nil, err
	}
	return BuildFiles(ctx, policyFiles, dataFiles)
}

// Read reads the policy files (*.rego) and the role data files of src, what
// Build reads.
func Read(src Sources) (policyFiles, dataFiles []File, err error) {
	l, err := list(src, false)
	if err != nil {
		return nil, nil, err
	}
	return l.Read()
}

// Listing is the files of a Sources, found but not read yet: their sizes
// let a caller ready the heap before reading them (internal/app).
type Listing struct {
	src                    Sources
	policyFiles, dataFiles []File // paths only
	dataBytes              uint64
}

// List finds the policy files and the role data files of src, and the
// data files' size.
func List(src Sources) (Listing, error) { return list(src, true) }

func list(src Sources, sized bool) (Listing, error) {
	l := Listing{src: src}
	var err error
	if l.policyFiles, _, err = listTree(src.Policies, isRego, false); err != nil {
		return Listing{}, fmt.Errorf("read policies: %w", err)
	}
	if l.dataFiles, l.dataBytes, err = listTree(src.Data, isData, sized); err != nil {
		return Listing{}, fmt.Errorf("read data: %w", err)
	}
	return l, nil
}

// DataBytes is the size of the role data files when they were listed.
func (l Listing) DataBytes() uint64 { return l.dataBytes }

// Read reads the files listed (each call reads them afresh).
func (l Listing) Read() (policyFiles, dataFiles []File, err error) {
	policyFiles, dataFiles = slices.Clone(l.policyFiles), slices.Clone(l.dataFiles)
	if err := readFiles(l.src.Policies, policyFiles); err != nil {
		return nil, nil, fmt.Errorf("read policies: %w", err)
	}
	if err := readFiles(l.src.Data, dataFiles); err != nil {
		return nil, nil, fmt.Errorf("read data: %w", err)
	}
	return policyFiles, dataFiles, nil
}

// BuildFiles is Build on files already read.
func BuildFiles(ctx context.Context, policyFiles, dataFiles []File) (*Snapshot, error) {
	return buildFiles(ctx, policyFiles, dataFiles, true, "")
}

// Rebuild is what a reload builds: nil, with no error, when the files'
// revision is serving (the revision of the snapshot that serves), so
// unchanged files are read and hashed but not built again; otherwise a
// snapshot of them, as Build makes it, or with keepAST as
// BuildFilesUncompacted does.
func Rebuild(ctx context.Context, src Sources, serving string, keepAST bool) (*Snapshot, error) {
	policyFiles, dataFiles, err := Read(src)
	if err != nil {
		return nil, err
	}
	rev := revision(policyFiles, dataFiles)
	if rev == serving {
		return nil, nil
	}
	return buildFiles(ctx, policyFiles, dataFiles, !keepAST, rev)
}

// BuildFilesUncompacted is BuildFiles with the role data held as OPA's
// AST, which OPA's evaluator reads faster than a compact store: for
// --evaluator topdown (a snapshot the vm does not run holds its AST
// either way).
func BuildFilesUncompacted(ctx context.Context, policyFiles, dataFiles []File) (*Snapshot, error) {
	return buildFiles(ctx, policyFiles, dataFiles, false, "")
}

// buildFiles builds a snapshot whose role data is a compact store (when
// compact and the vm runs the decision rule) or OPA's AST. rev is the
// files' revision when the caller has it, "" to hash them here.
func buildFiles(ctx context.Context, policyFiles, dataFiles []File, compact bool, rev string) (*Snapshot, error) {
	loadedAt := time.Now().UTC()
	// The data files are decoded, and the revision hashed, while the
	// policies compile (on one core): with much role data, decoding is most
	// of a build. Policy errors are still reported first.
	var (
		wg      sync.WaitGroup
		doc     *docstore.Store
		dataErr error
	)
	wg.Go(func() { doc, dataErr = loadData(dataFiles) })
	if rev == "" {
		wg.Go(func() { rev = revision(policyFiles, dataFiles) })
	}
	s, err := compilePolicies(policyFiles)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	if dataErr != nil {
		return nil, dataErr
	}
	s.Revision, s.LoadedAt = rev, loadedAt
	s.DataFiles = Paths(dataFiles)
	compiler := s.Compiler
	if accounts, ok := doc.Get(doc.Root(), "accounts"); ok {
		empty := inmem.NewWithOpts(inmem.OptRoundTripOnWrite(false))
		if err := validateAccounts(ctx, compiler, empty, doc, accounts, dataFiles); err != nil {
			return nil, err
		}
		s.Stats = countStats(doc, accounts)
	}
	if shared := sharedPath(compiler, doc); shared != "" {
		// OPA's planner visits such a node's rules and data in another
		// order than OPA's evaluator (an array built over it differs), and
		// merges them differently where both define a key.
		s.VMRefused = fmt.Sprintf("data and policies share data.%s: the vm runs only policies whose packages hold no data", shared)
	} else {
		s.DecisionVM, s.VMRefused = compileVM(ctx, compiler, DecisionRule)
	}
	// The data is decoded into a compact store, which the vm reads. OPA's
	// evaluator reads the data's AST faster: when it decides every request
	// (the vm refused the policy, or !compact: --evaluator topdown), the
	// snapshot holds the AST instead. On a compact store, OPA reads a
	// whole account per decision, and every account for an ownership
	// transfer (1.0 against 0.27 ms a decision at 100k users).
	var data *ast.Term
	if compact && s.DecisionVM != nil {
		s.storage = docstore.NewCompactStorage(doc)
		data = vm.DataTerm(doc)
	} else {
		tree := doc.AST(doc.Root())
		s.storage = docstore.NewStorage(tree)
		data = ast.NewTerm(tree)
	}
	s.Store = s.storage
	if s.Decision, err = s.prepare(ctx, DecisionRule); err != nil {
		return nil, err
	}
	if s.DecisionVM != nil {
		// Rules over the data alone (indexes) computed once, here.
		s.vm = &vmData{prog: s.DecisionVM.WithData(data), data: data}
	}
	for _, opt := range []struct {
		rule string
		dst  **rego.PreparedEvalQuery
	}{{SubjectsRule, &s.Subjects}, {RoutesRule, &s.Routes}} {
		if !s.hasRule(opt.rule) {
			continue
		}
		q, err := s.prepare(ctx, opt.rule)
		if err != nil {
			return nil, err
		}
		*opt.dst = &q
	}
	if s.hasRule(ActionsRule) {
		v, err := evalOnce(ctx, compiler, s.Store, ActionsRule)
		if err != nil {
			return nil, err
		}
		if s.Actions, err = stringSet(v); err != nil {
			return nil, fmt.Errorf("%s: %w", ActionsRule, err)
		}
	}
	return s, nil
}

// vmData is what the vm evaluates a decision with: the program readied
// for the data (its rules over the data alone computed), and the data.
type vmData struct {
	prog *vm.Program
	data *ast.Term
}

// VM is the decision's program readied for the data, and the data to
// evaluate it on; nil when the vm does not decide (VMRefused).
func (s *Snapshot) VM() (*vm.Program, *ast.Term) {
	d := s.vm
	if d == nil {
		return nil, nil
	}
	return d.prog, d.data
}

// CompactBytes is the size of the compact store the role data is held
// in, 0 when it is held as OPA's AST.
func (s *Snapshot) CompactBytes() int {
	if c := s.storage.Compacted(); c != nil {
		return c.Bytes()
	}
	return 0
}

// sharedPath is the first top-level key of data that policies' packages
// also use ("" when none does).
func sharedPath(c *ast.Compiler, doc *docstore.Store) string {
	root := c.RuleTree
	if n := root.Child(ast.DefaultRootDocument.Value); n != nil {
		root = n
	}
	for _, k := range root.Sorted {
		if s, ok := k.(ast.String); ok {
			if _, ok := doc.Get(doc.Root(), string(s)); ok {
				return string(s)
			}
		}
	}
	return ""
}

// compileVM compiles query's plan for package vm, or says why it cannot
// run there (the query is then evaluated by OPA's evaluator only).
func compileVM(ctx context.Context, c *ast.Compiler, query string) (*vm.Program, string) {
	plan, err := vm.Plan(ctx, c, query)
	if err != nil {
		return nil, err.Error()
	}
	prog, err := vm.Compile(plan)
	if err != nil {
		return nil, err.Error()
	}
	return prog, ""
}

// compilePolicies parses and strictly compiles the policies into a new
// snapshot that has no data yet.
func compilePolicies(policyFiles []File) (*Snapshot, error) {
	s := &Snapshot{tests: map[string]*ast.Module{}}
	modules := map[string]*ast.Module{}
	// Parsing is a third of compiling a policy set of this size: on
	// every core (the data, decoded beside, may take them all anyway).
	parsed := make([]*ast.Module, len(policyFiles))
	failed := make([]error, len(policyFiles))
	parallelWith(len(policyFiles), func() struct{} { return struct{}{} }, func(_ struct{}, i int) {
		f := policyFiles[i]
		parsed[i], failed[i] = ast.ParseModuleWithOpts(f.Path, string(f.Raw), ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true})
	})
	var errs []error
	for i, f := range policyFiles {
		m, err := parsed[i], failed[i]
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if isTestRego(f.Path) {
			s.tests[f.Path] = m
			s.TestFiles = append(s.TestFiles, f.Path)
		} else {
			modules[f.Path] = m
			s.PolicyFiles = append(s.PolicyFiles, f.Path)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(modules) == 0 {
		return nil, errors.New("no policies: the policies directory holds no *.rego file (besides tests)")
	}
	compiler := ast.NewCompiler().WithStrict(true)
	if compiler.Compile(modules); compiler.Failed() {
		return nil, compiler.Errors
	}
	if len(compiler.GetRules(ast.MustParseRef(DecisionRule))) == 0 {
		return nil, fmt.Errorf("policies define no %s rule: it is the entrypoint every decision evaluates", DecisionRule)
	}
	s.Compiler = compiler
	s.modules = modules
	s.Nondeterministic = nondeterministicCalls(compiler)
	return s, nil
}

func (s *Snapshot) hasRule(ref string) bool {
	return len(s.Compiler.GetRules(ast.MustParseRef(ref))) > 0
}

// prepare readies a query against this snapshot's compiler and store.
func (s *Snapshot) prepare(ctx context.Context, query string) (rego.PreparedEvalQuery, error) {
	q, err := rego.New(
		rego.Query(query),
		rego.Compiler(s.Compiler),
		rego.Store(s.Store),
		rego.StrictBuiltinErrors(true),
	).PrepareForEval(ctx)
	if err != nil {
		return q, fmt.Errorf("prepare %s: %w", query, err)
	}
	return q, nil
}

func evalOnce(ctx context.Context, c *ast.Compiler, store storage.Store, query string) (any, error) {
	rs, err := rego.New(rego.Query(query), rego.Compiler(c), rego.Store(store), rego.StrictBuiltinErrors(true)).Eval(ctx)
	if err != nil {
		return nil, fmt.Errorf("evaluate %s: %w", query, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil
	}
	return rs[0].Expressions[0].Value, nil
}

// loadData decodes every data file straight into a Store of its own (in
// parallel: decoding is most of a large build) and joins them, placed and
// merged in file order, into one document.
func loadData(files []File) (*docstore.Store, error) {
	decoded := make([]*docstore.Store, len(files))
	failed := make([]error, len(files))
	parallelWith(len(files), docstore.NewDecoder, func(dec *docstore.Decoder, i int) {
		decoded[i], failed[i] = decodeData(dec, files[i])
	})
	doc := docstore.Tree{}
	owners := map[string]string{}
	var errs []error
	for i, f := range files {
		if failed[i] != nil {
			errs = append(errs, failed[i])
			continue
		}
		root := docstore.Sub{S: decoded[i], R: decoded[i].Root()}
		if err := mergeData(doc, dataPath(f.Path), root, f.Path, owners); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s, err := docstore.Join(doc)
	if err != nil {
		return nil, fmt.Errorf("role data: %w", err)
	}
	return s, nil
}

// parallelWith calls f(state, 0..n-1) on up to GOMAXPROCS goroutines, each
// with its own state from newState.
func parallelWith[S any](n int, newState func() S, f func(state S, i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		state := newState()
		for i := range n {
			f(state, i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			state := newState()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(state, i)
			}
		})
	}
	wg.Wait()
}

// validateAccounts checks data.accounts against spec/data.md, with the
// permission catalogue read from the policy (the matrix lives only in Rego).
func validateAccounts(ctx context.Context, c *ast.Compiler, empty storage.Store, doc *docstore.Store, accounts docstore.Ref, files []File) error {
	var cat roledata.Catalogue
	for _, r := range []struct {
		rule string
		dst  *map[string]bool
	}{
		{WorkspacePermissionsRule, &cat.WorkspacePermissions},
		{AccountPermissionsRule, &cat.AccountPermissions},
		{BuiltinRolesRule, &cat.BuiltinRoles},
	} {
		v, err := evalOnce(ctx, c, empty, r.rule)
		if err != nil {
			return err
		}
		if v == nil {
			return fmt.Errorf("data holds accounts but the policies define no %s to validate them against", r.rule)
		}
		ids, err := stringSet(v)
		if err != nil {
			return fmt.Errorf("%s: %w", r.rule, err)
		}
		*r.dst = make(map[string]bool, len(ids))
		for _, id := range ids {
			(*r.dst)[id] = true
		}
	}
	// An account's file is the first, in file order, placed at data.accounts
	// or at or below data.accounts.<id>.
	whole := -1 // first file placed at data.accounts itself
	first := map[string]int{}
	for i, f := range files {
		keys := dataPath(f.Path)
		switch {
		case len(keys) == 0 || keys[0] != "accounts":
		case len(keys) == 1:
			if whole < 0 {
				whole = i
			}
		default:
			if _, ok := first[keys[1]]; !ok {
				first[keys[1]] = i
			}
		}
	}
	fileOf := func(account string) string {
		i, ok := first[account]
		if !ok || (whole >= 0 && whole < i) {
			i = whole
		}
		if i < 0 {
			return "accounts"
		}
		return files[i].Path
	}
	return roledata.ValidateStore(doc, accounts, fileOf, cat)
}

func countStats(doc *docstore.Store, accounts docstore.Ref) Stats {
	var st Stats
	if doc.Kind(accounts) != docstore.Object {
		return st
	}
	size := func(acct docstore.Ref, key string) int {
		if v, ok := doc.Get(acct, key); ok && doc.Kind(v) == docstore.Object {
			return doc.Len(v)
		}
		return 0
	}
	for i := range doc.Len(accounts) {
		st.Accounts++
		if _, acct := doc.Member(accounts, i); doc.Kind(acct) == docstore.Object {
			st.Users += size(acct, "users")
			st.Workspaces += size(acct, "workspaces")
			st.RoleGroups += size(acct, "role_groups")
		}
	}
	return st
}

// stringSet turns a Rego set or array of strings (as returned by Eval) into a sorted slice.
func stringSet(v any) ([]string, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("want a set of strings, got %T", v)
	}
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("want a set of strings, found %T", x)
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out, nil
}

// RevisionOf is the revision a snapshot built from src now would have,
// computed one file at a time: it holds no more than one file's bytes, so
// checking whether the files changed leaves no garbage the size of the
// data behind.
func RevisionOf(src Sources) (string, error) {
	l, err := list(src, false)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	var buf bytes.Buffer
	for _, tree := range []struct {
		prefix string
		fsys   fs.FS
		files  []File
	}{{"policies/", src.Policies, l.policyFiles}, {"data/", src.Data, l.dataFiles}} {
		for _, f := range tree.files {
			buf.Reset()
			if err := readInto(&buf, tree.fsys, f.Path); err != nil {
				return "", err
			}
			writeRevision(h, tree.prefix, f.Path, buf.Bytes())
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func readInto(buf *bytes.Buffer, fsys fs.FS, name string) error {
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = buf.ReadFrom(f)
	return err
}

// revision is sha256 over the sorted paths and contents of every file read.
func revision(policyFiles, dataFiles []File) string {
	h := sha256.New()
	for _, set := range []struct {
		prefix string
		files  []File
	}{{"policies/", policyFiles}, {"data/", dataFiles}} {
		for _, f := range set.files {
			writeRevision(h, set.prefix, f.Path, f.Raw)
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// writeRevision adds one file to a revision's hash.
func writeRevision(h hash.Hash, prefix, path string, raw []byte) {
	fmt.Fprintf(h, "%s%s\x00%d\x00", prefix, path, len(raw))
	h.Write(raw)
}

// dataQueryCache holds prepared queries for /v1/data paths. It is bounded so
// that clients asking for many distinct paths cannot grow it without limit;
// past the bound queries are prepared per request. It lives and dies with
// its snapshot, so it never needs invalidating.
type dataQueryCache struct {
	mu sync.Mutex
	m  map[string]*rego.PreparedEvalQuery
}

const maxCachedDataQueries = 1024

// DataQuery returns the prepared query for ref (a data reference).
func (s *Snapshot) DataQuery(ctx context.Context, ref ast.Ref) (*rego.PreparedEvalQuery, error) {
	key := ref.String()
	s.dataRefs.mu.Lock()
	q, ok := s.dataRefs.m[key]
	s.dataRefs.mu.Unlock()
	if ok {
		return q, nil
	}
	pq, err := rego.New(
		rego.ParsedQuery(ast.NewBody(ast.NewExpr(ast.NewTerm(ref)))),
		rego.Compiler(s.Compiler),
		rego.Store(s.Store),
		rego.StrictBuiltinErrors(true),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, err
	}
	s.dataRefs.mu.Lock()
	defer s.dataRefs.mu.Unlock()
	if s.dataRefs.m == nil {
		s.dataRefs.m = map[string]*rego.PreparedEvalQuery{}
	}
	if len(s.dataRefs.m) < maxCachedDataQueries {
		s.dataRefs.m[key] = &pq
	}
	return &pq, nil
}

// nondeterministicCalls finds the uses of built-ins whose result can
// change for the same input: those OPA marks as non-deterministic, plus
// alsoNondeterministic. A built-in counts when called and when named as a
// `with` replacement (`f(x) with f as rand.intn`). Sorted, "file:row name".
func nondeterministicCalls(c *ast.Compiler) []string {
	var out []string
	note := func(op ast.Ref, loc *ast.Location) {
		name := op.String()
		b, ok := ast.BuiltinMap[name]
		if !ok || (!b.Nondeterministic && !alsoNondeterministic[name]) {
			return
		}
		at := "?"
		if loc != nil {
			at = fmt.Sprintf("%s:%d", loc.File, loc.Row)
		}
		out = append(out, at+" "+name)
	}
	for _, m := range c.Modules {
		ast.NewGenericVisitor(func(x any) bool {
			switch x := x.(type) {
			case *ast.Expr:
				if x.IsCall() {
					note(x.Operator(), x.Location)
				}
				for _, w := range x.With {
					if ref, ok := w.Value.Value.(ast.Ref); ok {
						note(ref, w.Location)
					}
				}
			case *ast.Term:
				if call, ok := x.Value.(ast.Call); ok && len(call) > 0 {
					if op, ok := call[0].Value.(ast.Ref); ok {
						note(op, x.Location)
					}
				}
			}
			return false
		}).Walk(m)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// alsoNondeterministic are built-ins OPA does not mark as non-deterministic
// that still depend on the clock: certificate chains are verified as of
// "now", so a cached verdict would outlive the certificate.
var alsoNondeterministic = map[string]bool{
	"crypto.x509.parse_and_verify_certificates":              true,
	"crypto.x509.parse_and_verify_certificates_with_options": true,
}
