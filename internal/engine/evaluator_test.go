package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pdp-sidecar/pdp/internal/policy"
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

// TestVMFailureAskedAgainOfOPA: where the plan fails (it evaluates every
// body; OPA stops at the first that succeeds), OPA's evaluator decides:
// the same answer as with --evaluator topdown, never an error OPA would
// not give. An error OPA gives too stays an error.
func TestVMFailureAskedAgainOfOPA(t *testing.T) {
	rego := `package pdp.authz
default allow := false
allow if input.resource.properties.ok
allow if to_number(input.resource.properties.n) > 0
decision := {"allow": allow, "reasons": ["checked"]}
`
	for _, ev := range []Evaluator{VM, Topdown} {
		e := New(time.Second, 0, ev)
		e.Swap(snapshotOf(t, rego))
		if st := e.EvaluatorState(); st.Serving != ev {
			t.Fatalf("%s: state %+v", ev, st)
		}
		for _, c := range []struct {
			props map[string]any
			allow bool
			code  string
		}{
			{map[string]any{"ok": true, "n": "x"}, true, ""},                   // the plan fails on to_number("x"); OPA stops at the first body
			{map[string]any{"ok": false, "n": "x"}, false, "evaluation_error"}, // OPA fails too
			{map[string]any{"ok": false, "n": "2"}, true, ""},
		} {
			req := Request{Subject: Entity{Type: "user", ID: "u"}, Action: "a", Resource: Entity{Type: "t", ID: "1", Properties: c.props}}
			d, _, err := e.Evaluate(context.Background(), req)
			code := ""
			if d.Err != nil {
				code = d.Err.Code
			}
			if err != nil || d.Allow != c.allow || code != c.code {
				t.Errorf("%s %v: %+v %v, want allow %v, error %q", ev, c.props, d, err, c.allow, c.code)
			}
		}
	}
}

// TestVMRefusesDataInPolicyPackages: when data and policies share a path,
// OPA's planner would order and merge that node unlike OPA's evaluator, so
// the snapshot keeps OPA's evaluator.
func TestVMRefusesDataInPolicyPackages(t *testing.T) {
	s, err := policy.BuildFiles(context.Background(),
		[]policy.File{{Path: "p.rego", Raw: []byte(`package pdp.authz
decision := {"allow": true, "reasons": [sprintf("%v", [data.pdp.extra])]}
`)}},
		[]policy.File{{Path: "pdp/extra/data.json", Raw: []byte(`{"x": 1}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if s.DecisionVM != nil || !strings.Contains(s.VMRefused, "data.pdp") {
		t.Fatalf("vm %v, refused %q; want refused naming data.pdp", s.DecisionVM != nil, s.VMRefused)
	}
	// OPA's evaluator decides every request: the data stays its AST.
	if s.CompactBytes() != 0 {
		t.Fatalf("compact store of %d bytes; want the AST", s.CompactBytes())
	}
	e := New(time.Second, 0, VM)
	e.Swap(s)
	d, _, err := e.Evaluate(context.Background(), ownerRequest("bob", "bob"))
	if err != nil || !d.Allow || len(d.Reasons) != 1 || d.Reasons[0] != `{"x": 1}` {
		t.Fatalf("%+v %v", d, err)
	}
}

// TestPathKeyLeftToOPA: OPA's evaluator reads data.limits["1"] and
// data.m[1] through its store, as the member ("1"), where the plan gives
// undefined (vm.ErrPathKey). The vm leaves such a decision to OPA's
// evaluator, so both evaluators decide alike; a key that names no member
// is undefined in both, and stays on the vm. A rule over the data alone
// that meets such a key is left unfolded, for OPA's evaluator to compute.
func TestPathKeyLeftToOPA(t *testing.T) {
	s, err := policy.BuildFiles(context.Background(),
		[]policy.File{{Path: "p.rego", Raw: []byte(`package pdp.authz
default allow := false
allow if data.limits[input.resource.id] == 20
allow if data.nested.l[input.resource.id]["0"] == 3
allow if data.m[to_number(input.resource.id)] == "one"
allow if {
	input.resource.id == "1"
	first == 10
}
first := data.limits["0"] # over the data alone: left unfolded, to OPA
decision := {"allow": allow, "reasons": ["checked"]}
`)}},
		[]policy.File{{Path: "data.json", Raw: []byte(`{"limits": [10, 20, 30], "nested": {"l": [[1], [3]]}, "m": {"1.5": "one"}}`)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []Evaluator{VM, Topdown} {
		e := New(time.Second, 0, ev)
		e.Swap(s)
		if st := e.EvaluatorState(); ev == VM && !slices.Equal(st.Unfolded, []string{"data.pdp.authz.first"}) {
			t.Errorf("evaluator state %+v: want data.pdp.authz.first unfolded", st)
		}
		for id, allow := range map[string]bool{"1": true, "+1": true, "01": true, "1.5": true, "0": false, "2": false, "7": false, "-1": false} {
			d, _, err := e.Evaluate(context.Background(), Request{Subject: Entity{Type: "user", ID: "u"}, Action: "a", Resource: Entity{Type: "t", ID: id}})
			if err != nil || d.Err != nil || d.Allow != allow {
				t.Errorf("%s: resource %q: %+v %v, want allow %v", ev, id, d, err, allow)
			}
		}
		// Counted: keys OPA reads went to it; a key naming nothing did not.
		left := e.EvaluatorState().LeftToOPA
		if _, _, err := e.Evaluate(context.Background(), Request{Subject: Entity{Type: "user", ID: "u"}, Action: "a", Resource: Entity{Type: "t", ID: "7"}}); err != nil {
			t.Fatal(err)
		}
		if after := e.EvaluatorState().LeftToOPA; (ev == VM) != (left > 0) || after != left {
			t.Errorf("%s: %d decisions left to OPA, then %d after one that needs no key OPA reads", ev, left, after)
		}
	}
}

// TestUnfoldedIndexLeftToOPA: an index over the data that the vm cannot
// compute within its budget at snapshot build (here each item costs a
// large numbers.range) is not computed again by every decision that needs
// it, which would time out: such a decision is left to OPA's evaluator,
// which evaluates the index only for the key it reads, and decides.
// Decisions that do not need the index stay on the vm. (Takes the vm's
// one-second fold budget.)
func TestUnfoldedIndexLeftToOPA(t *testing.T) {
	if testing.Short() {
		t.Skip("spends the vm's one-second fold budget")
	}
	var data strings.Builder
	data.WriteString(`{"items": {`)
	for i := range 500 {
		if i > 0 {
			data.WriteString(",")
		}
		fmt.Fprintf(&data, `"k%d": {"v": "v%d", "n": 200000}`, i, i)
	}
	data.WriteString("}}")
	s, err := policy.BuildFiles(context.Background(),
		[]policy.File{{Path: "p.rego", Raw: []byte(`package pdp.authz
by_value[v] contains k if {
	some k, item in data.items
	v := item.v
	count(numbers.range(1, item.n)) > 0
}
default allow := false
allow if "k7" in by_value[input.resource.id]
allow if input.resource.id == "open"
decision := {"allow": allow, "reasons": ["checked"]}
`)}},
		[]policy.File{{Path: "data.json", Raw: []byte(data.String())}})
	if err != nil {
		t.Fatal(err)
	}
	e := New(10*time.Second, 0, VM)
	e.Swap(s)
	if st := e.EvaluatorState(); st.Serving != VM || !slices.Equal(st.Unfolded, []string{"data.pdp.authz.by_value"}) {
		t.Fatalf("evaluator state %+v: want the vm serving, data.pdp.authz.by_value unfolded", st)
	}
	for _, c := range []struct {
		resource string
		allow    bool
	}{{"open", true}, {"v7", true}, {"v8", false}} {
		req := Request{Subject: Entity{Type: "user", ID: "u"}, Action: "a", Resource: Entity{Type: "t", ID: c.resource}}
		start := time.Now()
		d, _, err := e.Evaluate(context.Background(), req)
		if err != nil || d.Err != nil || d.Allow != c.allow {
			t.Errorf("resource %s: %+v %v after %s, want allow %v", c.resource, d, err, time.Since(start), c.allow)
		}
	}
}

// TestDecisionShapes: the vm hands the engine the decision as its own
// record when the policy writes it as an object literal, and as OPA's
// value otherwise; every shape reads as OPA's evaluator's answer does
// (reasons as a set are sorted; a decision that is not an object, or
// whose allow is not a boolean, denies with invalid_result).
func TestDecisionShapes(t *testing.T) {
	for _, c := range []struct {
		name, decision string
		allow          bool
		reasons        []string
		code           string
	}{
		{"literal", `decision := {"allow": input.subject.id == "u", "reasons": [input.action.name]}`, true, []string{"a"}, ""},
		{"literal of a set of reasons", `decision := {"allow": true, "reasons": {r | some r in ["z", input.action.name, "m"]}}`, true, []string{"a", "m", "z"}, ""},
		{"constant", `decision := {"allow": false, "reasons": ["fixed"]}`, false, []string{"fixed"}, ""},
		{"built by a built-in", `decision := object.union({"allow": true}, {"reasons": [input.resource.id]})`, true, []string{"1"}, ""},
		{"an object of one member more", `decision := {"allow": true, "reasons": ["r"], "extra": {input.subject.id}}`, true, []string{"r"}, ""},
		{"allow not a boolean", `decision := {"allow": {input.subject.id}, "reasons": []}`, false, nil, CodeInvalidResult},
		{"not an object", `decision := {input.subject.id}`, false, nil, CodeInvalidResult},
	} {
		for _, ev := range []Evaluator{VM, Topdown} {
			e := New(time.Second, 0, ev)
			e.Swap(snapshotOf(t, "package pdp.authz\n"+c.decision+"\n"))
			req := Request{Subject: Entity{Type: "user", ID: "u"}, Action: "a", Resource: Entity{Type: "t", ID: "1"}}
			d, _, err := e.Evaluate(context.Background(), req)
			if err != nil {
				t.Fatalf("%s, %s: %v", c.name, ev, err)
			}
			code := ""
			if d.Err != nil {
				code = d.Err.Code
			}
			if d.Allow != c.allow || code != c.code || (c.code == "" && !slices.Equal(d.Reasons, c.reasons)) {
				t.Errorf("%s, %s: %+v, want allow %v, reasons %q, error %q", c.name, ev, d, c.allow, c.reasons, c.code)
			}
		}
	}
}
