package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pdp-sidecar/pdp/internal/engine"
	"github.com/pdp-sidecar/pdp/internal/policy"
)

// FuzzVMAgreesWithTopdown decides arbitrary requests on the repository's
// policies and shipped data with both evaluators: package vm and OPA's
// own. They must agree on the decision, every reason and the error code.
func FuzzVMAgreesWithTopdown(f *testing.F) {
	for _, s := range []string{
		`{"subject":{"type":"user","id":"dave"},"action":{"name":"document.edit"},"resource":{"type":"document","id":"doc-42","properties":{"account":"acme","workspace":"sales","owner":"carol","collaborators":{"dave":"edit"}}}}`,
		`{"subject":{"type":"user","id":"alice"},"action":{"name":"account.transfer_ownership"},"resource":{"type":"account","id":"acme","properties":{"target_user":"bob"}}}`,
		`{"subject":{"type":"user","id":"bob"},"action":{"name":"log.view"},"resource":{"type":"log","id":"l1","properties":{"account":"acme","user":"alice"}}}`,
		`{"subject":{"type":"user","id":"carol"},"action":{"name":"document.approve"},"resource":{"type":"document","id":"d","properties":{"account":"acme","workspace":"sales","owner":"carol","approvers":["carol",1]}}}`,
		`{"subject":{"type":"user","id":"erin"},"action":{"name":"workspace.change_user_role"},"resource":{"type":"workspace","id":"sales","properties":{"account":"acme","target_user":"alice"}}}`,
		`{"subject":{"type":"group","id":""},"action":{"name":"nope"},"resource":{"type":"document","id":"x","properties":[1]}}`,
		`{"subject":{"type":"user","id":"dave"},"action":{"name":"document.create"},"resource":{"type":"document","id":"n","properties":{"account":"acme","workspace":"sales","source":{"x":null}}}}`,
	} {
		f.Add([]byte(s))
	}
	root := filepath.Join("..", "..")
	snap, err := policy.Build(context.Background(), policy.Sources{
		Policies: os.DirFS(filepath.Join(root, "policies")), Data: os.DirFS(filepath.Join(root, "data"))})
	if err != nil {
		f.Fatal(err)
	}
	if snap.DecisionVM == nil {
		f.Fatalf("package vm refused the repository's policies: %s", snap.VMRefused)
	}
	vmEng, tdEng := engine.New(time.Second, 0, engine.VM), engine.New(time.Second, 0, engine.Topdown)
	vmEng.Swap(snap)
	tdEng.Swap(snap)
	f.Fuzz(func(t *testing.T, body []byte) {
		req, ok := fuzzRequest(body)
		if !ok {
			return
		}
		ctx := context.Background()
		a, _, errA := vmEng.Evaluate(ctx, req)
		b, _, errB := tdEng.Evaluate(ctx, req)
		if errA != nil || errB != nil {
			t.Fatalf("%v, %v", errA, errB)
		}
		codeA, codeB := "", ""
		if a.Err != nil {
			codeA = a.Err.Code
		}
		if b.Err != nil {
			codeB = b.Err.Code
		}
		if a.Allow != b.Allow || !slices.Equal(a.Reasons, b.Reasons) || codeA != codeB {
			t.Fatalf("%s:\n vm      %v %q %s\n topdown %v %q %s", body, a.Allow, a.Reasons, codeA, b.Allow, b.Reasons, codeB)
		}
	})
}

// fuzzRequest reads an AuthZEN-shaped request leniently: whatever is not
// where a request has it is left empty.
func fuzzRequest(body []byte) (engine.Request, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var in struct {
		Subject  map[string]any `json:"subject"`
		Action   map[string]any `json:"action"`
		Resource map[string]any `json:"resource"`
		Context  map[string]any `json:"context"`
	}
	if err := dec.Decode(&in); err != nil {
		return engine.Request{}, false
	}
	ent := func(m map[string]any) engine.Entity {
		e := engine.Entity{}
		e.Type, _ = m["type"].(string)
		e.ID, _ = m["id"].(string)
		if p, ok := m["properties"].(map[string]any); ok {
			e.Properties = p
		}
		return e
	}
	name, _ := in.Action["name"].(string)
	props, _ := in.Action["properties"].(map[string]any)
	return engine.Request{Subject: ent(in.Subject), Action: name, ActionProperties: props, Resource: ent(in.Resource), Context: in.Context}, true
}
