package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/types"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/pdp-sidecar/pdp/internal/config"
	"github.com/pdp-sidecar/pdp/internal/pdptest"
)

// The fail-closed fixtures (test/testdata/failclosed) call pdptest.panic to
// force a panic inside an evaluation: no Rego builtin panics on purpose.
func init() {
	rego.RegisterBuiltin1(&rego.Function{Name: "pdptest.panic", Decl: types.NewFunction(types.Args(types.A), types.B)},
		func(rego.BuiltinContext, *ast.Term) (*ast.Term, error) {
			panic("pdptest.panic: a builtin panicked on purpose")
		})
}

// errorLogs is what the sidecar logged at Error or above.
func errorLogs(srv *pdptest.Server) []observer.LoggedEntry {
	return srv.Logs.Filter(func(e observer.LoggedEntry) bool { return e.Level >= zapcore.ErrorLevel }).All()
}

// errorOf decodes the contract's {"error": {"code", "message"}} body.
func errorOf(t *testing.T, resp pdptest.Response) (code, message string) {
	t.Helper()
	var e struct {
		Error *struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(resp.Body, &e); err != nil || e.Error == nil {
		t.Fatalf("status %d: not an error body: %.300s", resp.Status, resp.Body)
	}
	return e.Error.Code, e.Error.Message
}

// stillServes checks the sidecar is healthy and logged nothing at Error.
func stillServes(t *testing.T, srv *pdptest.Server) {
	t.Helper()
	if h := srv.Get(t, "/health"); h.Status != 200 {
		t.Fatalf("/health: %d %s", h.Status, h.Body)
	}
	for _, e := range errorLogs(srv) {
		t.Errorf("logged at %s: %s %v", e.Level, e.Message, e.ContextMap())
	}
}

const validEval = `{"subject":{"type":"user","id":"dave"},"action":{"name":"document.view"},` +
	`"resource":{"type":"document","id":"doc-1","properties":{"account":"acme","workspace":"sales","owner":"dave"}}}`

// padTo pads a JSON object with white space before its closing brace to
// exactly n bytes.
func padTo(obj string, n int) string {
	return obj[:len(obj)-1] + strings.Repeat(" ", n-len(obj)) + "}"
}

func deepArrays(n int) string  { return strings.Repeat("[", n) + strings.Repeat("]", n) }
func deepObjects(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }

// batchOf is a batch body with n empty items.
func batchOf(n int) string {
	return `{"subject":{"type":"user","id":"dave"},"action":{"name":"document.view"},"resource":{"type":"document","id":"d"},"evaluations":[` +
		strings.TrimSuffix(strings.Repeat("{},", n), ",") + "]}"
}

// TestHardeningMalformedInput sends malformed requests to a sidecar with
// the default limits (1 MiB bodies, 1,000 batch items) and the shipped
// model. Each gets its 4xx with the offending field named, nothing is
// logged at Error, and the sidecar keeps serving.
func TestHardeningMalformedInput(t *testing.T) {
	cfg := pdptest.Config(t)
	if def := config.Default(); cfg.BodyLimit != def.BodyLimit || cfg.MaxBatch != def.MaxBatch || def.BodyLimit != 1<<20 || def.MaxBatch != 1000 {
		t.Fatalf("limits %d/%d, want the defaults 1 MiB/1000", cfg.BodyLimit, cfg.MaxBatch)
	}
	srv := pdptest.Start(t, cfg)
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}
	const (
		eval  = "/access/v1/evaluation"
		batch = "/access/v1/evaluations"
		fwd   = "/v1/forward-auth"
	)
	nginx := func(method, uri string) []string {
		return []string{"X-Original-Method", method, "X-Original-URI", uri, "X-User", "alice"}
	}
	cases := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		code, message            string
	}{
		// Size and depth, at the default limits.
		{"10,000-deep arrays", "POST", eval, `{"context":` + deepArrays(10000) + `}`, nil, 400, "invalid_request", "nested deeper than 64 levels in context"},
		{"10,000-deep objects", "POST", eval, `{"resource":{"properties":` + deepObjects(10000) + `}}`, nil, 400, "invalid_request", "nested deeper than 64 levels in resource.properties.a"},
		{"10,000-deep batch item", "POST", batch, `{"evaluations":[{"context":` + deepArrays(10000) + `}]}`, nil, 400, "invalid_request", "nested deeper than 64 levels in evaluations[0].context"},
		{"10,000-deep Data API input", "POST", "/v1/data/pdp/authz/decision", `{"input":` + deepObjects(10000) + `}`, nil, 400, "invalid_request", "nested deeper than 64 levels in input.a"},
		{"10,000-deep search", "POST", "/access/v1/search/action", deepArrays(10000), nil, 400, "invalid_request", "nested deeper than 64"},
		{"1 MiB + 1 evaluation", "POST", eval, padTo(validEval, 1<<20+1), nil, 413, "request_too_large", "1048576-byte limit"},
		{"1 MiB + 1 batch", "POST", batch, padTo(validEval, 1<<20+1), nil, 413, "request_too_large", "1048576-byte limit"},
		{"1 MiB + 1 Data API", "POST", "/v1/data/pdp/authz/decision", padTo(`{"input":`+validEval+`}`, 1<<20+1), nil, 413, "request_too_large", "1048576-byte limit"},
		{"100,000 batch items", "POST", batch, batchOf(100000), nil, 400, "invalid_request", "evaluations has 100000 items, more than the limit of 1000 (--max-batch)"},
		{"1,001 batch items", "POST", batch, batchOf(1001), nil, 400, "invalid_request", "evaluations has 1001 items, more than the limit of 1000"},
		{"exponent too large", "POST", eval, `{"subject":{"type":"user","id":"dave"},"resource":{"properties":{"account":1e999999999}}}`, nil, 400, "invalid_request", "resource.properties.account: invalid number: number too big"},
		{"exponent too small", "POST", eval, `{"context":{"n":-1e-400000}}`, nil, 400, "invalid_request", "context.n: invalid number"},
		{"exponent too large in a batch item", "POST", batch, `{"evaluations":[{},{"context":{"n":[1,2,1E400000]}}]}`, nil, 400, "invalid_request", "evaluations[1].context.n[2]: invalid number"},
		{"exponent too large in Data API input", "POST", "/v1/data/pdp/authz/decision", `{"input":{"x":1e999999999}}`, nil, 400, "invalid_request", "input.x: invalid number"},
		{"top-level exponent too large", "POST", "/v1/data/pdp/authz/decision", `1e999999999`, nil, 400, "invalid_request", "request body: invalid number"},
		{"number of 65 characters", "POST", eval, `{"context":{"n":` + strings.Repeat("9", 65) + `}}`, nil, 400, "invalid_request", "number longer than 64 characters in context.n"},
		// Encoding.
		{"invalid UTF-8 in a key", "POST", eval, "{\"subj\xffect\":{}}", nil, 400, "invalid_request", "not valid UTF-8"},
		{"overlong UTF-8", "POST", eval, "{\"subject\":{\"type\":\"user\",\"id\":\"\xc0\xaf\"}}", nil, 400, "invalid_request", "not valid UTF-8"},
		{"UTF-8 byte order mark", "POST", eval, "\xef\xbb\xbf" + validEval, nil, 400, "invalid_request", "not valid JSON"},
		{"raw NUL in a string", "POST", eval, "{\"subject\":{\"type\":\"user\",\"id\":\"a\x00b\"}}", nil, 400, "invalid_request", "control character in string in subject.id"},
		{"random bytes", "POST", eval, string(random), nil, 400, "invalid_request", "request body is not valid"},
		{"random bytes to the batch", "POST", batch, string(random), nil, 400, "invalid_request", "request body is not valid"},
		{"invalid UTF-8 Data API input", "POST", "/v1/data/pdp/authz/decision", "{\"input\":\"\xfe\"}", nil, 400, "invalid_request", "not valid UTF-8"},
		{"duplicate top-level member", "POST", eval, `{"subject":{"type":"user","id":"dave"},"subject":{"type":"user","id":"root"}}`, nil, 400, "invalid_request", `duplicate key "subject"`},
		{"duplicate key in a batch item", "POST", batch, `{"evaluations":[{"action":{"name":"a","name":"b"}}]}`, nil, 400, "invalid_request", `duplicate key "name" in evaluations[0].action`},
		{"duplicate Data API input key", "POST", "/v1/data/pdp/authz/decision", `{"input":{"x":1,"x":2}}`, nil, 400, "invalid_request", `duplicate key "x" in input`},
		{"form content type", "POST", eval, validEval, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", "application/x-www-form-urlencoded"},
		{"unparsable content type", "POST", batch, validEval, []string{"Content-Type", "application/json; ;;"}, 415, "unsupported_media_type", "send application/json"},
		// Shapes on the other endpoints.
		{"batch body a number", "POST", batch, `42`, nil, 400, "invalid_request", "request body must be an object, got a number"},
		{"search body a string", "POST", "/access/v1/search/subject", `"alice"`, nil, 400, "invalid_request", "request body must be an object, got a string"},
		{"evaluations a string", "POST", batch, `{"evaluations":"all"}`, nil, 400, "invalid_request", "evaluations must be an array, got a string"},
		{"evaluations_semantic a number", "POST", batch, `{"evaluations":[],"options":{"evaluations_semantic":7}}`, nil, 400, "invalid_request", "options.evaluations_semantic 7 is not one of"},
		{"evaluations_semantic wrong case", "POST", batch, `{"evaluations":[],"options":{"evaluations_semantic":"DENY_ON_FIRST_DENY"}}`, nil, 400, "invalid_request", "options.evaluations_semantic"},
		{"options an array", "POST", batch, `{"evaluations":[],"options":[]}`, nil, 400, "invalid_request", "options must be an object, got an array"},
		{"include_context a string", "POST", batch, `{"evaluations":[],"options":{"include_context":"yes"}}`, nil, 400, "invalid_request", "options.include_context must be a boolean"},
		{"search without action", "POST", "/access/v1/search/subject", `{"subject":{"type":"user"},"resource":{"type":"document","id":"d"}}`, nil, 400, "invalid_request", "action is required"},
		{"search without resource", "POST", "/access/v1/search/action", `{"subject":{"type":"user","id":"dave"}}`, nil, 400, "invalid_request", "resource is required"},
		{"page.limit a huge number", "POST", "/access/v1/search/action", `{"subject":{"type":"user","id":"dave"},"resource":{"type":"document","id":"d"},"page":{"limit":1e999}}`, nil, 400, "invalid_request", "page.limit must be a non-negative integer"},
		{"page.token a number", "POST", "/access/v1/search/action", `{"subject":{"type":"user","id":"dave"},"resource":{"type":"document","id":"d"},"page":{"token":5}}`, nil, 400, "invalid_request", "page.token must be a string"},
		// The Data API path.
		{"%2e%2e traversal", "GET", "/v1/data/%2e%2e/%2e%2e/etc/passwd", "", nil, 400, "invalid_request", `invalid path segment ".."`},
		{"..%2f traversal", "GET", "/v1/data/pdp/..%2f..%2fsecret", "", nil, 400, "invalid_request", `invalid path segment ".."`},
		{"POST traversal", "POST", "/v1/data/pdp/authz/../../x", `{}`, nil, 400, "invalid_request", `invalid path segment ".."`},
		{"single dot", "GET", "/v1/data/pdp/./authz", "", nil, 400, "invalid_request", `invalid path segment "."`},
		{"NUL in the path", "GET", "/v1/data/pdp%00x", "", nil, 400, "invalid_request", "invalid path segment"},
		{"quote in the path", "GET", "/v1/data/pdp%22%5D", "", nil, 400, "invalid_request", "invalid path segment"},
		// Forward-auth: 4xx (never 200) when the original request is not usable.
		{"forward-auth without the original request", "GET", fwd, "", []string{"X-User", "alice"}, 400, "invalid_request", "X-Original-URI"},
		{"forward-auth absolute URI", "GET", fwd, "", nginx("GET", "http://evil.example/accounts/acme/billing"), 400, "invalid_request", "not an origin-form request URI"},
		{"forward-auth encoded dot segment", "GET", fwd, "", nginx("GET", "/accounts/acme/%2e%2e/acme/billing"), 400, "invalid_request", "dot segment"},
		{"forward-auth encoded slash", "GET", fwd, "", nginx("GET", "/accounts/acme%2fbilling"), 400, "invalid_request", "encoded slash"},
		{"forward-auth asterisk", "OPTIONS", fwd, "", nginx("OPTIONS", "*"), 400, "invalid_request", "not an origin-form"},
		{"forward-auth bad method", "GET", fwd, "", nginx("G:T", "/accounts/acme/billing"), 400, "invalid_request", "is not an HTTP method"},
		{"forward-auth without identity", "GET", fwd, "", []string{"X-Original-Method", "GET", "X-Original-URI", "/accounts/acme/billing", "X-User", "  "}, 401, "unauthorized", "X-User"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			resp := srv.Do(t, tc.method, tc.path, body, tc.headers...)
			if resp.Status != tc.status {
				t.Fatalf("status %d, want %d: %.300s", resp.Status, tc.status, resp.Body)
			}
			if code, msg := errorOf(t, resp); code != tc.code || !strings.Contains(msg, tc.message) {
				t.Errorf("error {%s %.200q}, want code %q and a message containing %q", code, msg, tc.code, tc.message)
			}
			if strings.HasPrefix(tc.path, fwd) && resp.Header.Get("X-Pdp-Reason") == "" {
				t.Errorf("forward-auth %d without X-Pdp-Reason", resp.Status)
			}
			stillServes(t, srv)
		})
	}

	// A chunked body (no Content-Length) is cut off at the limit too.
	t.Run("1 MiB + 1 chunked", func(t *testing.T) {
		body := io.MultiReader(strings.NewReader(padTo(validEval, 1<<20+1)))
		req, err := http.NewRequest("POST", srv.URL+eval, body)
		check(t, err)
		req.Header.Set("Content-Type", "application/json")
		if req.ContentLength != 0 {
			t.Fatalf("the request would not be chunked (length %d)", req.ContentLength)
		}
		resp, err := srv.Client.Do(req)
		check(t, err)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 413 || !bytes.Contains(raw, []byte("1048576-byte limit")) {
			t.Fatalf("status %d: %s", resp.StatusCode, raw)
		}
		stillServes(t, srv)
	})

	// Batch items are refused one by one: the others are still decided.
	t.Run("malformed batch items", func(t *testing.T) {
		resp := srv.Post(t, batch, `{"subject":{"type":"user","id":"dave"},"action":{"name":"document.view"},`+
			`"resource":{"type":"document","id":"doc-1","properties":{"account":"acme","workspace":"sales","owner":"dave"}},"evaluations":[`+
			`{},1,"x",[],true,null,{"subject":{"type":"user","id":5}},{"resource":{"type":"document","id":"d","properties":[]}},`+
			`{"context":7},{"action":{"name":""}},{"subject":"alice"},{"action":{"name":123}}]}`)
		var got struct {
			Evaluations []struct {
				Decision bool
				Context  *struct {
					Error *struct{ Code, Message string }
				}
			}
		}
		if err := json.Unmarshal(resp.Body, &got); err != nil || resp.Status != 200 {
			t.Fatalf("%d %s", resp.Status, resp.Body)
		}
		want := []string{"", // the defaults: dave views his own document
			"evaluations[1] must be an object, got a number", "evaluations[2] must be an object, got a string",
			"evaluations[3] must be an object, got an array", "evaluations[4] must be an object, got a boolean",
			"evaluations[5] must be an object, got null", "evaluations[6].subject.id must be a string, got a number",
			"evaluations[7].resource.properties must be an object, got an array", "evaluations[8].context must be an object, got a number",
			"evaluations[9].action.name must not be empty", "evaluations[10].subject must be an object, got a string",
			"evaluations[11].action.name must be a string, got a number"}
		if len(got.Evaluations) != len(want) {
			t.Fatalf("%d items, want %d: %s", len(got.Evaluations), len(want), resp.Body)
		}
		for i, e := range got.Evaluations {
			switch {
			case want[i] == "" && (!e.Decision || e.Context != nil):
				t.Errorf("item %d: %+v, want a plain allow", i, e)
			case want[i] != "" && (e.Decision || e.Context == nil || e.Context.Error == nil ||
				e.Context.Error.Code != "invalid_request" || e.Context.Error.Message != want[i]):
				t.Errorf("item %d: %s, want a deny with error %q", i, mustJSON(e), want[i])
			}
		}
		stillServes(t, srv)
	})

	// Odd but well-formed input is decided (a deny here), never a 5xx.
	odd := []struct{ name, path, body string }{
		{"large numbers OPA can hold", eval, `{"subject":{"type":"user","id":"dave"},"action":{"name":"document.view"},` +
			`"resource":{"type":"document","id":"d","properties":{"account":1e300,"workspace":-1e-300,"owner":123456789012345678901234567890}},` +
			`"context":{"n":1E+25000,"m":-0.0}}`},
		{"lone surrogates and NUL escapes", eval, `{"subject":{"type":"user","id":"\ud800da\u0000ve"},"action":{"name":"document.view\udfff"},"resource":{"type":"document","id":"\u0000"}}`},
		{"100 KB id", eval, `{"subject":{"type":"user","id":"` + strings.Repeat("d", 100_000) + `"},"action":{"name":"document.view"},"resource":{"type":"document","id":"d"}}`},
		{"properties of every type", eval, `{"subject":{"type":"user","id":"dave","properties":{"a":[1,"b",null,true,{}]}},"action":{"name":"document.view","properties":{"x":{}}},` +
			`"resource":{"type":"document","id":"d","properties":{"account":["acme"],"workspace":{"sales":true},"owner":null,"collaborators":"dave=edit"}}}`},
	}
	for _, tc := range odd {
		t.Run(tc.name, func(t *testing.T) {
			resp := srv.Post(t, tc.path, tc.body)
			if resp.Status != 200 {
				t.Fatalf("status %d: %.300s", resp.Status, resp.Body)
			}
			m := resp.JSON(t)
			if r, ok := m["result"].(map[string]any); ok {
				m = map[string]any{"decision": r["allow"]}
			}
			if m["decision"] != false {
				t.Errorf("decision %v: %.300s", m["decision"], resp.Body)
			}
			stillServes(t, srv)
		})
	}

	// The limits themselves are inclusive: exactly 1 MiB and exactly 1,000 items are served.
	t.Run("exactly at the limits", func(t *testing.T) {
		if resp := srv.Post(t, eval, padTo(validEval, 1<<20)); resp.Status != 200 || resp.JSON(t)["decision"] != true {
			t.Errorf("1 MiB body: %d %.300s", resp.Status, resp.Body)
		}
		resp := srv.Post(t, batch, strings.Replace(batchOf(1000), `"id":"d"}`, `"id":"doc-1","properties":{"account":"acme","workspace":"sales","owner":"dave"}}`, 1))
		var got struct{ Evaluations []map[string]any }
		if err := json.Unmarshal(resp.Body, &got); err != nil || resp.Status != 200 || len(got.Evaluations) != 1000 {
			t.Fatalf("1,000 items: %d %.300s", resp.Status, resp.Body)
		}
		for i, e := range got.Evaluations {
			if e["decision"] != true {
				t.Fatalf("item %d: %v", i, e)
			}
		}
		stillServes(t, srv)
	})

	// Below HTTP: oversized headers and bytes that are not HTTP at all.
	t.Run("oversized header", func(t *testing.T) {
		resp := srv.Post(t, eval, validEval, "X-Padding", strings.Repeat("p", 100<<10))
		if resp.Status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status %d, want 431", resp.Status)
		}
		stillServes(t, srv)
	})
	t.Run("not HTTP", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(srv.URL, "http://"), 5*time.Second)
		check(t, err)
		defer conn.Close()
		check(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
		_, _ = conn.Write(append(random[:512:512], "\r\n\r\n"...))
		reply, _ := io.ReadAll(conn)
		if !bytes.HasPrefix(reply, []byte("HTTP/1.1 400")) {
			t.Errorf("reply %.100q, want a 400", reply)
		}
		stillServes(t, srv)
	})
}

// failClosedConfig serves the fail-closed fixtures with a short decision timeout.
func failClosedConfig(t *testing.T) config.Config {
	cfg := pdptest.Config(t)
	dir := filepath.Join(pdptest.RepoRoot(), "test", "testdata", "failclosed")
	cfg.Policies, cfg.Data = filepath.Join(dir, "policies"), filepath.Join(dir, "data")
	cfg.DecisionTimeout = 50 * time.Millisecond
	return cfg
}

// failCase is a decision of the fail-closed fixtures that must deny: code
// is the error it carries ("" for a plain deny), reason part of its reason.
type failCase struct{ action, code, reason string }

var failCases = []failCase{
	{"deny_without_reasons", "", "denied by policy (it gave no reason)"},
	{"reasons_not_strings", "", "denied by policy (it gave no reason)"},
	{"allow_string", "invalid_result", "data.pdp.authz.decision.allow is a string, want a boolean"},
	{"allow_number", "invalid_result", "data.pdp.authz.decision.allow is a number, want a boolean"},
	{"allow_null", "invalid_result", "data.pdp.authz.decision.allow is null/undefined, want a boolean"},
	{"allow_array", "invalid_result", "data.pdp.authz.decision.allow is an array, want a boolean"},
	{"allow_missing", "invalid_result", "data.pdp.authz.decision.allow is null/undefined, want a boolean"},
	{"bare_true", "invalid_result", "data.pdp.authz.decision returned a boolean, want an object"},
	{"string_decision", "invalid_result", "data.pdp.authz.decision returned a string, want an object"},
	{"array_decision", "invalid_result", "data.pdp.authz.decision returned an array, want an object"},
	{"to_number", "evaluation_error", "to_number"},
	{"divide_by_zero", "evaluation_error", "divide by zero"},
	{"negated_error", "evaluation_error", "to_number"},
	{"conflict", "evaluation_error", "eval_conflict_error"},
	{"timeout", "timeout", "decision timed out"},
	{"panic", "evaluation_error", "evaluation panicked"},
	{"undefined", "invalid_result", "data.pdp.authz.decision is undefined for this input"},
}

func failReq(action string) map[string]any {
	return map[string]any{
		"subject":  map[string]any{"type": "user", "id": "alice"},
		"action":   map[string]any{"name": action},
		"resource": map[string]any{"type": "thing", "id": "x"},
	}
}

// TestFailClosedEvaluation forces every kind of failure with test policies:
// each is a deny with a reason, and an error in context.error when the
// policy failed rather than denied.
func TestFailClosedEvaluation(t *testing.T) {
	for _, ev := range []string{"vm", "topdown"} {
		t.Run(ev, func(t *testing.T) {
			cfg := failClosedConfig(t)
			cfg.Evaluator = ev
			failClosedEvaluation(t, pdptest.Start(t, cfg))
		})
	}
}

func failClosedEvaluation(t *testing.T, srv *pdptest.Server) {
	if d := srv.Post(t, "/access/v1/evaluation", failReq("ok")).JSON(t); d["decision"] != true {
		t.Fatalf("the fixtures' one allow: %v", d)
	}
	for _, tc := range failCases {
		t.Run(tc.action, func(t *testing.T) {
			start := time.Now()
			resp := srv.Post(t, "/access/v1/evaluation", failReq(tc.action))
			took := time.Since(start)
			if resp.Status != 200 {
				t.Fatalf("status %d: %s", resp.Status, resp.Body)
			}
			var got struct {
				Decision *bool `json:"decision"`
				Context  struct {
					Reasons []string `json:"reasons"`
					Error   *struct{ Code, Message string }
				} `json:"context"`
			}
			check(t, json.Unmarshal(resp.Body, &got))
			if got.Decision == nil || *got.Decision {
				t.Fatalf("not a deny: %s", resp.Body)
			}
			if len(got.Context.Reasons) == 0 || !strings.Contains(strings.Join(got.Context.Reasons, "; "), tc.reason) {
				t.Errorf("reasons %q, want one containing %q", got.Context.Reasons, tc.reason)
			}
			switch {
			case tc.code == "" && got.Context.Error != nil:
				t.Errorf("a plain deny carries an error: %+v", got.Context.Error)
			case tc.code != "" && (got.Context.Error == nil || got.Context.Error.Code != tc.code || !strings.Contains(got.Context.Error.Message, tc.reason)):
				t.Errorf("context.error %s, want code %q with %q", mustJSON(got.Context.Error), tc.code, tc.reason)
			}
			if tc.action == "timeout" && took > 5*time.Second {
				t.Errorf("a 50ms decision timeout answered after %s", took)
			}
		})
	}
	// None of that hurt the sidecar.
	if d := srv.Post(t, "/access/v1/evaluation", failReq("ok")).JSON(t); d["decision"] != true {
		t.Fatalf("after the failures: %v", d)
	}
	stillServes(t, srv)
}

// TestFailClosedBatch: in a batch each failure is an error item, the
// short-circuit semantics treat it as a deny, and the other items are
// still decided.
func TestFailClosedBatch(t *testing.T) {
	srv := pdptest.Start(t, failClosedConfig(t))
	type item struct {
		Decision bool `json:"decision"`
		Context  *struct {
			Reasons []string
			Error   *struct{ Code, Message string }
		} `json:"context"`
	}
	run := func(t *testing.T, actions []string, options map[string]any) []item {
		t.Helper()
		items := make([]any, len(actions))
		for i, a := range actions {
			items[i] = map[string]any{"action": map[string]any{"name": a}}
		}
		body := failReq("ok")
		body["evaluations"] = items
		body["options"] = options
		resp := srv.Post(t, "/access/v1/evaluations", body)
		var got struct{ Evaluations []item }
		if err := json.Unmarshal(resp.Body, &got); err != nil || resp.Status != 200 {
			t.Fatalf("%d %s", resp.Status, resp.Body)
		}
		return got.Evaluations
	}
	actions := []string{"ok"}
	for _, c := range failCases {
		actions = append(actions, c.action)
	}
	actions = append(actions, "ok")

	t.Run("execute_all", func(t *testing.T) {
		got := run(t, actions, map[string]any{})
		if len(got) != len(actions) || !got[0].Decision || got[0].Context != nil || !got[len(got)-1].Decision {
			t.Fatalf("%s", mustJSON(got))
		}
		for i, c := range failCases {
			it := got[i+1]
			switch {
			case it.Decision:
				t.Errorf("%s: allowed", c.action)
			case c.code == "" && it.Context != nil:
				t.Errorf("%s: a plain deny carries context %s without include_context", c.action, mustJSON(it.Context))
			case c.code != "" && (it.Context == nil || it.Context.Error == nil || it.Context.Error.Code != c.code || !strings.Contains(it.Context.Error.Message, c.reason)):
				t.Errorf("%s: %s, want error %q with %q", c.action, mustJSON(it), c.code, c.reason)
			}
		}
	})
	t.Run("include_context", func(t *testing.T) {
		for i, it := range run(t, actions, map[string]any{"include_context": true}) {
			if it.Context == nil || len(it.Context.Reasons) == 0 || it.Decision != (actions[i] == "ok") {
				t.Errorf("%s: %s", actions[i], mustJSON(it))
			}
		}
	})
	t.Run("deny_on_first_deny", func(t *testing.T) {
		got := run(t, []string{"ok", "conflict", "ok"}, map[string]any{"evaluations_semantic": "deny_on_first_deny"})
		if len(got) != 2 || !got[0].Decision || got[1].Decision || got[1].Context == nil || got[1].Context.Error == nil {
			t.Errorf("%s", mustJSON(got))
		}
	})
	t.Run("permit_on_first_permit", func(t *testing.T) {
		tried := []string{"allow_string", "bare_true", "negated_error", "timeout", "panic", "ok", "ok"}
		got := run(t, tried, map[string]any{"evaluations_semantic": "permit_on_first_permit"})
		if len(got) != 6 || !got[5].Decision {
			t.Fatalf("%s", mustJSON(got))
		}
		for i, it := range got[:5] {
			if it.Decision || it.Context == nil || it.Context.Error == nil {
				t.Errorf("%s counted as a permit: %s", tried[i], mustJSON(it))
			}
		}
	})
	stillServes(t, srv)
}

// TestFailClosedForwardAuth: when the route table or the decision fails,
// forward-auth answers 500 (the proxy's own fail-closed setting applies),
// never 200.
func TestFailClosedForwardAuth(t *testing.T) {
	srv := pdptest.Start(t, failClosedConfig(t))
	cases := []struct {
		path   string
		status int
		reason string
	}{
		{"/ok", 200, ""},
		{"/nowhere", 403, "no route matches GET /nowhere"},
		{"/route/error", 500, "to_number"},
		{"/route/malformed", 500, "data.pdp.routes.route: returned a string, want an object"},
		{"/route/no-action", 500, "action is null/undefined, want a non-empty string"},
		{"/route/no-id", 500, "resource.type and resource.id must be non-empty strings"},
		{"/route/conflict", 500, "eval_conflict_error"},
		{"/route/timeout", 500, "timed out"},
		{"/route/panic", 500, ""}, // answered by the recovery middleware: no X-Pdp-Reason
	}
	for _, c := range failCases {
		status := 500 // the decision failed: cannot decide
		if c.code == "" {
			status = 403 // a plain deny
		}
		cases = append(cases, struct {
			path   string
			status int
			reason string
		}{"/decide/" + c.action, status, c.reason})
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			for _, style := range [][]string{
				{"X-Original-Method", "GET", "X-Original-URI", tc.path},
				{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", tc.path + "?q=1"},
			} {
				resp := srv.Get(t, "/v1/forward-auth", append(style, "X-User", "alice")...)
				reason := resp.Header.Get("X-Pdp-Reason")
				if resp.Status != tc.status || !strings.Contains(reason, tc.reason) {
					t.Errorf("%s: status %d reason %q, want %d with %q", style[0], resp.Status, reason, tc.status, tc.reason)
				}
			}
		})
	}
	// Only the panic reached the recovery middleware, which logged it.
	for _, e := range errorLogs(srv) {
		if e.Message != "handler panicked" || !strings.Contains(fmt.Sprint(e.ContextMap()["panic"]), "pdptest.panic") {
			t.Errorf("logged at %s: %s %v", e.Level, e.Message, e.ContextMap())
		}
	}
	if h := srv.Get(t, "/health"); h.Status != 200 {
		t.Errorf("/health: %d", h.Status)
	}
	if r := srv.Get(t, "/v1/forward-auth", "X-Original-Method", "GET", "X-Original-URI", "/ok", "X-User", "alice"); r.Status != 200 {
		t.Errorf("after the failures: %d %s", r.Status, r.Header.Get("X-Pdp-Reason"))
	}
}

// TestFailClosedDataAPI: a Data API query on a failing rule answers an
// error, never 200 with a result.
func TestFailClosedDataAPI(t *testing.T) {
	srv := pdptest.Start(t, failClosedConfig(t))
	input := func(v any) string { return mustJSON(map[string]any{"input": v}) }
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"decision errors", "POST", "/v1/data/pdp/authz/decision", input(failReq("to_number")), 500, "evaluation_error"},
		{"decision conflicts", "POST", "/v1/data/pdp/authz/decision", input(failReq("conflict")), 500, "evaluation_error"},
		{"decision times out", "POST", "/v1/data/pdp/authz/decision", input(failReq("timeout")), 500, "timeout"},
		{"decision panics", "POST", "/v1/data/pdp/authz/decision", input(failReq("panic")), 500, "internal_error"},
		{"rule errors", "POST", "/v1/data/pdp/authz/boom", input(map[string]any{"x": "not a number"}), 500, "evaluation_error"},
		{"rule times out", "GET", "/v1/data/pdp/authz/burn", "", 500, "timeout"},
		{"package with a slow rule", "GET", "/v1/data/pdp/authz", "", 500, "timeout"},
		{"whole data tree", "GET", "/v1/data", "", 500, "timeout"},
		{"route table errors", "POST", "/v1/data/pdp/routes/route", input(map[string]any{"path": "/route/error"}), 500, "evaluation_error"},
		{"route table conflicts", "POST", "/v1/data/pdp/routes", input(map[string]any{"path": "/route/conflict"}), 500, "evaluation_error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			resp := srv.Do(t, tc.method, tc.path, body)
			if resp.Status != tc.status || bytes.Contains(resp.Body, []byte(`"result"`)) {
				t.Fatalf("status %d, want %d without a result: %.300s", resp.Status, tc.status, resp.Body)
			}
			if code, _ := errorOf(t, resp); code != tc.code {
				t.Errorf("code %q, want %q", code, tc.code)
			}
		})
	}
	// The same paths answer when the rules succeed.
	if r := srv.Post(t, "/v1/data/pdp/authz/decision", input(failReq("ok"))).JSON(t); !slices.Equal(toStrings(r["result"].(map[string]any)["reasons"]), []string{"ok allows"}) {
		t.Errorf("ok decision: %v", r)
	}
	if r := srv.Post(t, "/v1/data/pdp/authz/boom", input(map[string]any{"x": "12"})).JSON(t); fmt.Sprint(r["result"]) != "12" {
		t.Errorf("boom on a number: %v", r)
	}
}

// TestFailClosedSearch: the search endpoints leave out every action and
// subject whose decision failed.
func TestFailClosedSearch(t *testing.T) {
	srv := pdptest.Start(t, failClosedConfig(t))
	resp := srv.Post(t, "/access/v1/search/action", map[string]any{
		"subject":  map[string]any{"type": "user", "id": "alice"},
		"resource": map[string]any{"type": "thing", "id": "x"},
	})
	if resp.Status != 200 || !bytes.Contains(resp.Body, []byte(`"results":[{"name":"ok"}]`)) {
		t.Errorf("search/action: %d %s", resp.Status, resp.Body)
	}
	for action, want := range map[string]string{"ok": `[{"type":"user","id":"alice"},{"type":"user","id":"bob"}]`, "to_number": `[]`, "allow_string": `[]`, "timeout": `[]`} {
		resp := srv.Post(t, "/access/v1/search/subject", map[string]any{
			"subject":  map[string]any{"type": "user"},
			"action":   map[string]any{"name": action},
			"resource": map[string]any{"type": "thing", "id": "x"},
		})
		if resp.Status != 200 || !bytes.Contains(resp.Body, []byte(`"results":`+want)) {
			t.Errorf("search/subject %s: %d %s", action, resp.Status, resp.Body)
		}
	}
	stillServes(t, srv)
}

// TestRequestDeadline: --request-timeout bounds a whole batch or search.
// Batch items still undecided at the deadline are denied with a timeout
// error (even those the policy would allow); a search cut short fails
// rather than answering with partial results.
func TestRequestDeadline(t *testing.T) {
	cfg := failClosedConfig(t) // each "timeout" decision takes its 50 ms
	cfg.RequestTimeout = 300 * time.Millisecond
	srv := pdptest.Start(t, cfg)

	items := []any{}
	for range 40 { // 40 × 50 ms: 2 s without the request deadline
		items = append(items, map[string]any{"action": map[string]any{"name": "timeout"}})
	}
	items = append(items, map[string]any{"action": map[string]any{"name": "ok"}})
	body := failReq("ok")
	body["evaluations"] = items
	start := time.Now()
	resp := srv.Post(t, "/access/v1/evaluations", body)
	took := time.Since(start)
	var got struct {
		Evaluations []struct {
			Decision bool
			Context  *struct {
				Error *struct{ Code, Message string }
			}
		}
	}
	if err := json.Unmarshal(resp.Body, &got); err != nil || resp.Status != 200 || len(got.Evaluations) != len(items) {
		t.Fatalf("%d %s", resp.Status, resp.Body)
	}
	if took > 1500*time.Millisecond {
		t.Errorf("the batch took %s with a 300ms request timeout", took)
	}
	last := got.Evaluations[len(items)-1]
	if last.Decision || last.Context == nil || last.Context.Error == nil || last.Context.Error.Code != "timeout" {
		t.Errorf("the item after the deadline: %s; want a deny with a timeout error", mustJSON(last))
	}
	for i, it := range got.Evaluations {
		if it.Decision {
			t.Errorf("item %d allowed", i)
		}
	}

	// A request within the deadline is unaffected.
	if d := srv.Post(t, "/access/v1/evaluation", failReq("ok")).JSON(t); d["decision"] != true {
		t.Fatalf("a quick decision after the slow batch: %v", d)
	}
	stillServes(t, srv)
}

// TestRequestDeadlineSearch: a subject search that cannot finish in time
// fails with 500 and a timeout code instead of listing a partial page.
func TestRequestDeadlineSearch(t *testing.T) {
	cfg := failClosedConfig(t)
	cfg.DecisionTimeout = 200 * time.Millisecond
	cfg.RequestTimeout = 250 * time.Millisecond // two users × 200 ms: the second is cut short
	srv := pdptest.Start(t, cfg)
	resp := srv.Post(t, "/access/v1/search/subject", map[string]any{
		"subject":  map[string]any{"type": "user"},
		"action":   map[string]any{"name": "timeout"},
		"resource": map[string]any{"type": "thing", "id": "x"},
	})
	if resp.Status != 500 || !bytes.Contains(resp.Body, []byte(`"timeout"`)) || !bytes.Contains(resp.Body, []byte("search did not finish")) {
		t.Errorf("search/subject past the deadline: %d %s", resp.Status, resp.Body)
	}
	stillServes(t, srv)
}
