package engine

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

var (
	subjectKey    = ast.InternedTerm("subject")
	actionKey     = ast.InternedTerm("action")
	resourceKey   = ast.InternedTerm("resource")
	contextKey    = ast.InternedTerm("context")
	nameKey       = ast.InternedTerm("name")
	typeKey       = ast.InternedTerm("type")
	idKey         = ast.InternedTerm("id")
	propertiesKey = ast.InternedTerm("properties")
)

// referenceInput builds r's input document with NewObject alone, as the
// engine built it before inputs were pooled: what refilled documents are
// held to.
func referenceInput(r Request) (ast.Value, error) {
	subject, err := referenceEntity(r.Subject)
	if err != nil {
		return nil, fmt.Errorf("subject.properties: %w", err)
	}
	resource, err := referenceEntity(r.Resource)
	if err != nil {
		return nil, fmt.Errorf("resource.properties: %w", err)
	}
	name := [2]*ast.Term{nameKey, ast.StringTerm(r.Action)}
	var action ast.Object
	if r.ActionProperties == nil {
		action = ast.NewObject(name)
	} else {
		v, err := toAST(r.ActionProperties)
		if err != nil {
			return nil, fmt.Errorf("action.properties: %w", err)
		}
		action = ast.NewObject(name, [2]*ast.Term{propertiesKey, ast.NewTerm(v)})
	}
	ctxVal := emptyObject
	if r.Context != nil {
		if ctxVal, err = toAST(r.Context); err != nil {
			return nil, fmt.Errorf("context: %w", err)
		}
	}
	return ast.NewObject(
		[2]*ast.Term{subjectKey, ast.NewTerm(subject)},
		[2]*ast.Term{actionKey, ast.NewTerm(action)},
		[2]*ast.Term{resourceKey, ast.NewTerm(resource)},
		[2]*ast.Term{contextKey, ast.NewTerm(ctxVal)},
	), nil
}

func referenceEntity(e Entity) (ast.Value, error) {
	kv := [][2]*ast.Term{{typeKey, ast.StringTerm(e.Type)}, {idKey, ast.StringTerm(e.ID)}}
	if e.Properties != nil {
		v, err := toAST(e.Properties)
		if err != nil {
			return nil, err
		}
		kv = append(kv, [2]*ast.Term{propertiesKey, ast.NewTerm(v)})
	}
	return ast.NewObject(kv...), nil
}

// TestInputBufMatchesInput: a pooled input, refilled request after request
// in shapes that alternate (with and without properties, action properties
// and context), is each time the same document as one built with NewObject
// alone (referenceInput), and so is Request.input's: the same value, hash,
// groundness and text. A stale hash would make
// OPA's sets and object comparisons disagree about inputs that are equal.
func TestInputBufMatchesInput(t *testing.T) {
	props := func(s string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	reqs := []Request{
		{Subject: Entity{Type: "user", ID: "alice"}, Action: "document.view", Resource: Entity{Type: "document", ID: "d1", Properties: props(`{"account":"a1","workspace":"w1","owner":"bob"}`)}},
		{Subject: Entity{Type: "user", ID: "bob"}, Action: "account.billing.view", Resource: Entity{Type: "account", ID: "a1"}},
		{Subject: Entity{Type: "user", ID: "carol", Properties: props(`{"department":"sales","level":3}`)}, Action: "workspace.view", Resource: Entity{Type: "workspace", ID: "w2", Properties: props(`{"account":"a2"}`)}, Context: props(`{"ip":"10.0.0.1","time":1.5e3}`)},
		{Subject: Entity{Type: "user", ID: ""}, Action: "", Resource: Entity{Type: "", ID: ""}},
		{Subject: Entity{Type: "user", ID: "dave"}, Action: "document.share", ActionProperties: props(`{"level":"edit","to":["x","y"]}`), Resource: Entity{Type: "document", ID: "d2", Properties: props(`{}`)}},
		{Subject: Entity{Type: "service", ID: "ci"}, Action: "document.view", Resource: Entity{Type: "document", ID: "d3", Properties: props(`{"collaborators":{"ci":"view"},"approvers":[null,true,"ci"]}`)}, Context: props(`{}`)},
		{Subject: Entity{Type: "user", ID: "alice"}, Action: "document.view", Resource: Entity{Type: "document", ID: "d1", Properties: props(`{"account":"a1","workspace":"w1","owner":"bob"}`)}},
		// The same keys in the subject's, the resource's and the action's
		// properties and the context: each its own object.
		{Subject: Entity{Type: "user", ID: "erin", Properties: props(`{"account":"s","owner":"x"}`)}, Action: "document.view", ActionProperties: props(`{"owner":"z","account":"a"}`), Resource: Entity{Type: "document", ID: "d4", Properties: props(`{"owner":"y","account":"r"}`)}, Context: props(`{"account":"c","owner":"w"}`)},
	}
	// More key sets than a buffer keeps shapes for (maxShapes), then the
	// first ones again: the rest are made afresh, the kept ones refilled.
	for i := range maxShapes + 3 {
		reqs = append(reqs, Request{Subject: Entity{Type: "user", ID: "frank"}, Action: "document.view", Resource: Entity{Type: "document", ID: "d5", Properties: props(fmt.Sprintf(`{"account":"a%d","k%d":{"n":%d},"z":[%d]}`, i, i, i, i))}})
	}
	many := map[string]any{}
	for i := range maxShapeKeys + 1 {
		many[fmt.Sprintf("k%02d", i)] = fmt.Sprint(i)
	}
	reqs = append(reqs, Request{Subject: Entity{Type: "user", ID: "gina"}, Action: "document.view", Resource: Entity{Type: "document", ID: "d6", Properties: many}})
	reqs = append(reqs, reqs[:3]...)
	buf := newInputBuf()
	for round := range 3 {
		for i, r := range reqs {
			want, err := referenceInput(r)
			if err != nil {
				t.Fatal(err)
			}
			fresh, err := r.input()
			if err != nil {
				t.Fatalf("request %d: input: %v", i, err)
			}
			if ast.Compare(fresh, want) != 0 || fresh.Hash() != want.Hash() {
				t.Fatalf("request %d: input() = %v (hash %d), want %v (hash %d)", i, fresh, fresh.Hash(), want, want.Hash())
			}
			filled, err := buf.fill(r)
			if err != nil {
				t.Fatalf("request %d: fill: %v", i, err)
			}
			if filled != buf.rootTerm {
				t.Fatalf("request %d: fill gave another term than the buffer's root record", i)
			}
			// The vm reads the records; wherever OPA's code meets them it
			// is given their AST, which must be the reference document.
			got := buf.root.AST()
			if ast.Compare(got.Value, want) != 0 || got.Value.String() != want.String() {
				t.Fatalf("round %d, request %d: pooled input\n%v\nwant\n%v", round, i, got.Value, want)
			}
			if got.Value.Hash() != want.Hash() {
				t.Errorf("round %d, request %d: hash %d, want %d (a stale hash)", round, i, got.Value.Hash(), want.Hash())
			}
			for _, path := range []string{"subject", "action", "resource", "context"} {
				g, w := got.Value.(ast.Object).Get(ast.StringTerm(path)), want.(ast.Object).Get(ast.StringTerm(path))
				if g.Value.Hash() != w.Value.Hash() || g.IsGround() != w.IsGround() {
					t.Errorf("round %d, request %d: input.%s hash %d ground %v, want %d %v", round, i, path, g.Value.Hash(), g.IsGround(), w.Value.Hash(), w.IsGround())
				}
			}
			if !got.IsGround() {
				t.Errorf("round %d, request %d: pooled input not ground", round, i)
			}
			set := ast.NewSet(ast.NewTerm(want))
			if !set.Contains(got) {
				t.Errorf("round %d, request %d: a set holding the fresh input does not find the pooled one", round, i)
			}
		}
	}
}

// TestInputBufRefusesWhatInputRefuses: a property value the AST cannot hold
// is an error from fill as from input, and the buffer stays usable.
func TestInputBufRefusesWhatInputRefuses(t *testing.T) {
	bad := Request{Subject: Entity{Type: "user", ID: "a"}, Action: "x", Resource: Entity{Type: "t", ID: "r", Properties: map[string]any{"f": func() {}}}}
	if _, err := referenceInput(bad); err == nil {
		t.Fatal("referenceInput accepted a function as a property value")
	}
	if _, err := bad.input(); err == nil {
		t.Fatal("input accepted a function as a property value")
	}
	buf := newInputBuf()
	if _, err := buf.fill(bad); err == nil {
		t.Fatal("fill accepted a function as a property value")
	}
	good := Request{Subject: Entity{Type: "user", ID: "a"}, Action: "x", Resource: Entity{Type: "t", ID: "r", Properties: map[string]any{"f": "ok"}}}
	if _, err := buf.fill(good); err != nil {
		t.Fatal(err)
	}
	got := buf.root.AST()
	want, _ := referenceInput(good)
	if ast.Compare(got.Value, want) != 0 || got.Value.Hash() != want.Hash() {
		t.Fatalf("after a refused request: %v (hash %d), want %v (hash %d)", got.Value, got.Value.Hash(), want, want.Hash())
	}
}
