package policy

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestReport is the outcome of the *_test.rego tests found beside the policies.
type TestReport struct {
	Passed  int
	Skipped int
	Failed  []string // "package.test_name: why", sorted
}

// OK reports whether no test failed.
func (r TestReport) OK() bool { return len(r.Failed) == 0 }

// Err returns nil when every test passed, or an error naming the failures.
func (r TestReport) Err() error {
	if r.OK() {
		return nil
	}
	return fmt.Errorf("%d Rego test(s) failed: %s", len(r.Failed), strings.Join(r.Failed, "; "))
}

// RunTests runs the snapshot's *_test.rego tests against its policies and
// data, as `opa test` would, with builtin errors raised.
func (s *Snapshot) RunTests(ctx context.Context, timeout time.Duration) (TestReport, error) {
	var rep TestReport
	if len(s.tests) == 0 {
		return rep, nil
	}
	all := make(map[string]*ast.Module, len(s.modules)+len(s.tests))
	for k, m := range s.modules {
		all[k] = m.Copy()
	}
	for k, m := range s.tests {
		all[k] = m.Copy()
	}
	txn, err := s.Store.NewTransaction(ctx)
	if err != nil {
		return rep, err
	}
	defer s.Store.Abort(ctx, txn)
	runner := tester.NewRunner().
		SetCompiler(ast.NewCompiler().WithStrict(true)).
		SetStore(s.Store).
		SetModules(all).
		RaiseBuiltinErrors(true).
		SetTimeout(timeout).
		CapturePrintOutput(true)
	ch, err := runner.RunTests(ctx, txn)
	if err != nil {
		return rep, fmt.Errorf("compile policies with tests: %w", err)
	}
	for r := range ch {
		name := strings.TrimPrefix(r.Package, "data.") + "." + r.Name
		switch {
		case r.Skip:
			rep.Skipped++
		case r.Error != nil:
			rep.Failed = append(rep.Failed, fmt.Sprintf("%s: error: %v", name, r.Error))
		case r.Fail:
			rep.Failed = append(rep.Failed, name+": failed")
		default:
			rep.Passed++
		}
	}
	sort.Strings(rep.Failed)
	return rep, nil
}
