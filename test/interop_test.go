package test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/pdp-sidecar/pdp/internal/pdptest"
)

// authzenSuite returns the path of an AuthZEN interop suite file, or skips
// the test with a clear message when the shared conformance data is absent.
func authzenSuite(t *testing.T, name string) string {
	t.Helper()
	p := os.Getenv("PDP_AUTHZEN_SUITE")
	if p == "" {
		p = filepath.Join(pdptest.RepoRoot(), "..", "shared", "conformance", "authzen", name)
	}
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("AuthZEN interop suite not found at %s (set PDP_AUTHZEN_SUITE to its path); skipping", p)
	}
	return p
}

// TestAuthZENTodoInterop runs every case of the public AuthZEN "Todo"
// interop suite (Authorization API 1.0, draft 02) against the real sidecar
// serving test/interop/authzen-todo.
func TestAuthZENTodoInterop(t *testing.T) {
	path := authzenSuite(t, "authzen-todo-backend__test__decisions-authorization-api-1_0-02.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var suite struct {
		Evaluation []struct {
			Request  json.RawMessage `json:"request"`
			Expected bool            `json:"expected"`
		} `json:"evaluation"`
		Evaluations []struct {
			Request  json.RawMessage `json:"request"`
			Expected []any           `json:"expected"`
		} `json:"evaluations"`
	}
	if err := json.Unmarshal(raw, &suite); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	if len(suite.Evaluation) == 0 || len(suite.Evaluations) == 0 {
		t.Fatalf("%s holds %d single and %d batch cases; want both", path, len(suite.Evaluation), len(suite.Evaluations))
	}

	cfg := pdptest.Config(t)
	dir := filepath.Join(pdptest.RepoRoot(), "test", "interop", "authzen-todo")
	cfg.Policies, cfg.Data = filepath.Join(dir, "policies"), filepath.Join(dir, "data")
	srv := pdptest.Start(t, cfg)

	passed := 0
	for i, c := range suite.Evaluation {
		resp := srv.Post(t, "/access/v1/evaluation", []byte(c.Request))
		if resp.Status != 200 {
			t.Errorf("evaluation case %d: status %d: %s", i, resp.Status, resp.Body)
			continue
		}
		got := resp.JSON(t)["decision"]
		if got != c.Expected {
			t.Errorf("evaluation case %d: %s\n  decision %v, want %v (%s)", i, c.Request, got, c.Expected, resp.Body)
			continue
		}
		passed++
	}
	for i, c := range suite.Evaluations {
		resp := srv.Post(t, "/access/v1/evaluations", []byte(c.Request))
		if resp.Status != 200 {
			t.Errorf("evaluations case %d: status %d: %s", i, resp.Status, resp.Body)
			continue
		}
		got := resp.JSON(t)["evaluations"]
		if !reflect.DeepEqual(got, c.Expected) {
			t.Errorf("evaluations case %d: %s\n  got %v, want exactly %v", i, c.Request, got, c.Expected)
			continue
		}
		passed++
	}
	t.Logf("AuthZEN todo interop: %d/%d cases passed (%d single, %d batch)", passed,
		len(suite.Evaluation)+len(suite.Evaluations), len(suite.Evaluation), len(suite.Evaluations))
}
