package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/pdp-sidecar/pdp/internal/engine"
	"github.com/pdp-sidecar/pdp/internal/policy"
)

// fuzzRouter serves the AuthZEN todo interop policy: small and stable.
func fuzzRouter(tb testing.TB) http.Handler {
	tb.Helper()
	dir := filepath.Join("..", "..", "test", "interop", "authzen-todo")
	snap, err := policy.Build(context.Background(), policy.Sources{
		Policies: os.DirFS(filepath.Join(dir, "policies")), Data: os.DirFS(filepath.Join(dir, "data"))})
	if err != nil {
		tb.Fatal(err)
	}
	eng := engine.New(time.Second, 64, engine.VM)
	eng.Swap(snap)
	return New(Deps{Engine: eng, Log: zap.NewNop(), BodyLimit: 1 << 16, MaxBatch: 50, Started: time.Now()})
}

// checkAnswer asserts the contract every answer keeps, whatever the input:
// never a 5xx, always a JSON body, a boolean decision on 200 and an error
// object otherwise.
func checkAnswer(t *testing.T, body []byte, rec *httptest.ResponseRecorder, batch bool) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.Bytes())
	}
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("answer is not a JSON object for %q: %s", body, rec.Body.Bytes())
	}
	if rec.Code != http.StatusOK {
		e, _ := out["error"].(map[string]any)
		if e == nil || e["code"] == "" || e["message"] == "" {
			t.Fatalf("error answer without code/message: %s", rec.Body.Bytes())
		}
		return
	}
	if items, ok := out["evaluations"].([]any); batch && ok {
		for _, it := range items {
			m, _ := it.(map[string]any)
			if _, ok := m["decision"].(bool); !ok {
				t.Fatalf("batch item without boolean decision: %s", rec.Body.Bytes())
			}
		}
		return
	}
	if _, ok := out["decision"].(bool); !ok {
		t.Fatalf("200 without boolean decision: %s", rec.Body.Bytes())
	}
}

func FuzzEvaluation(f *testing.F) {
	for _, s := range []string{
		`{"subject":{"type":"user","id":"rick@the-citadel.com"},"action":{"name":"can_read_todos"},"resource":{"type":"todo","id":"1"}}`,
		`{"subject":{"type":"user","id":"x","properties":{"a":[1,2,{"b":null}]}},"action":{"name":"can_delete_todo","properties":{}},"resource":{"type":"todo","id":"1","properties":{"ownerID":"x"}},"context":{"ip":"1.2.3.4"}}`,
		`{"subject":"alice"}`, `[]`, `null`, `1e999`, `{"subject":{"type":"user","id":"\ud800"}}`, `{"a":1,"a":2}`,
	} {
		f.Add([]byte(s))
	}
	h := fuzzRouter(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/access/v1/evaluation", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		checkAnswer(t, body, rec, false)
	})
}

func FuzzEvaluations(f *testing.F) {
	for _, s := range []string{
		`{"subject":{"type":"user","id":"rick@the-citadel.com"},"action":{"name":"can_read_todos"},"evaluations":[{"resource":{"type":"todo","id":"1"}},{"resource":{"type":"todo"}}]}`,
		`{"evaluations":[{},null,1,"x",[]],"options":{"evaluations_semantic":"deny_on_first_deny","include_context":true}}`,
		`{"evaluations":{}}`, `{"options":{"evaluations_semantic":7}}`,
	} {
		f.Add([]byte(s))
	}
	h := fuzzRouter(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/access/v1/evaluations", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		checkAnswer(t, body, rec, true)
	})
}

func FuzzForwardAuthHeaders(f *testing.F) {
	for _, s := range [][2]string{
		{"GET", "/accounts/acme/workspaces/sales/documents/d1?x=1"},
		{"get", "/a/../b"}, {"POST", "//evil.example/x"}, {"PUT", "/a%2fb"}, {"", ""}, {"G\x00T", "/\x00"},
		{"DELETE", "http://host/path"}, {"GET", "/a/./b"}, {"PATCH", "/%zz"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, method, uri string) {
		m, p, err := parseOriginal(method, uri)
		if err != nil {
			return
		}
		if m == "" || p == "" || p[0] != '/' || strings.Contains(p, "//") {
			t.Fatalf("parseOriginal(%q, %q) = %q, %q", method, uri, m, p)
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("parseOriginal(%q, %q) let through dot segment in %q", method, uri, p)
			}
		}
	})
}
