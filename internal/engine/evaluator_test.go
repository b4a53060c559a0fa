package engine

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestEvaluatorFallsBack: a policy package vm cannot run (here a `with`)
// is decided by OPA's evaluator, and EvaluatorState says so and why; one
// it runs is decided by it, unless the engine was told to use topdown.
func TestEvaluatorFallsBack(t *testing.T) {
	withPolicy := `package pdp.authz
owner := input.resource.properties.owner
decision := {"allow": allow, "reasons": ["checked with a with"]}
default allow := false
allow if {
	o := owner with input.resource.properties.owner as input.subject.id
	o == input.resource.properties.owner
}
`
	for _, tc := range []struct {
		name, rego string
		ev         Evaluator
		serving    Evaluator
		refused    string
	}{
		{"vm runs the owner policy", ownerPolicy, VM, VM, ""},
		{"topdown when told", ownerPolicy, Topdown, Topdown, ""},
		{"a with falls back", withPolicy, VM, Topdown, "WithStmt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(time.Second, 0, tc.ev)
			if st := e.EvaluatorState(); st.Serving != "" || st.Configured != tc.ev {
				t.Fatalf("before a snapshot: %+v", st)
			}
			e.Swap(snapshotOf(t, tc.rego))
			st := e.EvaluatorState()
			if st.Configured != tc.ev || st.Serving != tc.serving || (tc.refused == "") != (st.Refused == "") || !strings.Contains(st.Refused, tc.refused) {
				t.Fatalf("state %+v, want %s serving, refused containing %q", st, tc.serving, tc.refused)
			}
			ctx := context.Background()
			for _, c := range []struct {
				subject, owner string
				allow          bool
			}{{"bob", "bob", true}, {"bob", "alice", false}} {
				d, _, err := e.Evaluate(ctx, ownerRequest(c.subject, c.owner))
				if err != nil || d.Err != nil || d.Allow != c.allow {
					t.Errorf("%s on %s's: %+v %v, want allow %v", c.subject, c.owner, d, err, c.allow)
				}
			}
		})
	}
}
