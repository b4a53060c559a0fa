package test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pdp-sidecar/pdp/internal/config"
	"github.com/pdp-sidecar/pdp/internal/pdptest"
)

const (
	rick  = "CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs"
	jerry = "CiRmZDQ2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs"
)

// todoConfig serves the AuthZEN todo fixture: a small, stable policy for
// testing the HTTP contract apart from the role model.
func todoConfig(t *testing.T) config.Config {
	cfg := pdptest.Config(t)
	dir := filepath.Join(pdptest.RepoRoot(), "test", "interop", "authzen-todo")
	cfg.Policies, cfg.Data = filepath.Join(dir, "policies"), filepath.Join(dir, "data")
	return cfg
}

func evalReq(subject, action string) map[string]any {
	return map[string]any{
		"subject":  map[string]any{"type": "user", "id": subject},
		"action":   map[string]any{"name": action},
		"resource": map[string]any{"type": "todo", "id": "t1", "properties": map[string]any{"ownerID": "rick@the-citadel.com"}},
	}
}

func TestEvaluation(t *testing.T) {
	srv := pdptest.Start(t, todoConfig(t))
	rev := srv.Get(t, "/v1/status").JSON(t)["revision"]

	allow := srv.Post(t, "/access/v1/evaluation", evalReq(rick, "can_delete_todo"), "X-Request-ID", "req-123")
	if allow.Status != 200 || allow.Header.Get("X-Request-ID") != "req-123" {
		t.Fatalf("status %d, X-Request-ID %q: %s", allow.Status, allow.Header.Get("X-Request-ID"), allow.Body)
	}
	body := allow.JSON(t)
	ctx := body["context"].(map[string]any)
	if body["decision"] != true || ctx["revision"] != rev || len(ctx["decision_id"].(string)) != 36 ||
		!reflect.DeepEqual(ctx["reasons"], []any{"admin may delete any todo"}) {
		t.Errorf("allow: %s", allow.Body)
	}

	deny := srv.Post(t, "/access/v1/evaluation", evalReq(jerry, "can_delete_todo")).JSON(t)
	reasons, _ := deny["context"].(map[string]any)["reasons"].([]any)
	if deny["decision"] != false || len(reasons) == 0 {
		t.Errorf("deny must carry reasons: %v", deny)
	}
	unknown := srv.Post(t, "/access/v1/evaluation", evalReq("nobody", "can_read_todos")).JSON(t)
	if unknown["decision"] != false {
		t.Errorf("unknown user allowed: %v", unknown)
	}
}

func TestErrorContract(t *testing.T) {
	cfg := todoConfig(t)
	cfg.BodyLimit = 4096
	cfg.MaxBatch = 3
	srv := pdptest.Start(t, cfg)
	big := `{"subject":{"type":"user","id":"` + strings.Repeat("a", 5000) + `"}}`
	cases := []struct {
		name, method, path, body, ctype string
		status                          int
		code, message                   string
	}{
		{"empty body", "POST", "/access/v1/evaluation", "", "", 400, "invalid_request", "request body is empty"},
		{"not json", "POST", "/access/v1/evaluation", "hello", "", 400, "invalid_request", "not valid JSON"},
		{"top-level array", "POST", "/access/v1/evaluation", "[]", "", 400, "invalid_request", "request body must be an object"},
		{"top-level null", "POST", "/access/v1/evaluation", "null", "", 400, "invalid_request", "request body must be an object"},
		{"trailing garbage", "POST", "/access/v1/evaluation", `{} {}`, "", 400, "invalid_request", "unexpected content"},
		{"no subject", "POST", "/access/v1/evaluation", `{"action":{"name":"a"},"resource":{"type":"t","id":"1"}}`, "", 400, "invalid_request", "subject is required"},
		{"subject string", "POST", "/access/v1/evaluation", `{"subject":"alice","action":{"name":"a"},"resource":{"type":"t","id":"1"}}`, "", 400, "invalid_request", "subject must be an object, got a string"},
		{"no subject.id", "POST", "/access/v1/evaluation", `{"subject":{"type":"user"},"action":{"name":"a"},"resource":{"type":"t","id":"1"}}`, "", 400, "invalid_request", "subject.id is required"},
		{"empty subject.type", "POST", "/access/v1/evaluation", `{"subject":{"type":"","id":"x"},"action":{"name":"a"},"resource":{"type":"t","id":"1"}}`, "", 400, "invalid_request", "subject.type must not be empty"},
		{"action.name number", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"x"},"action":{"name":123},"resource":{"type":"t","id":"1"}}`, "", 400, "invalid_request", "action.name must be a string, got a number"},
		{"no action", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"x"},"resource":{"type":"t","id":"1"}}`, "", 400, "invalid_request", "action is required"},
		{"no resource.id", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"x"},"action":{"name":"a"},"resource":{"type":"t"}}`, "", 400, "invalid_request", "resource.id is required"},
		{"properties array", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"x"},"action":{"name":"a"},"resource":{"type":"t","id":"1","properties":[]}}`, "", 400, "invalid_request", "resource.properties must be an object"},
		{"context string", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"x"},"action":{"name":"a"},"resource":{"type":"t","id":"1"},"context":"x"}`, "", 400, "invalid_request", "context must be an object"},
		{"invalid utf-8", "POST", "/access/v1/evaluation", "{\"subject\":{\"type\":\"user\",\"id\":\"\xff\"}}", "", 400, "invalid_request", "not valid UTF-8"},
		{"duplicate keys", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"alice","id":"root"},"action":{"name":"a"},"resource":{"type":"t","id":"1"}}`, "", 400, "invalid_request", `duplicate key "id" in subject`},
		{"deep nesting", "POST", "/access/v1/evaluation", `{"context":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, "", 400, "invalid_request", "nested deeper than 64"},
		{"huge number", "POST", "/access/v1/evaluation", `{"context":{"n":1` + strings.Repeat("0", 100) + `}}`, "", 400, "invalid_request", "number longer"},
		{"wrong content type", "POST", "/access/v1/evaluation", `{}`, "text/plain", 415, "unsupported_media_type", "send application/json"},
		{"body over limit", "POST", "/access/v1/evaluation", big, "", 413, "request_too_large", "4096-byte limit"},
		{"batch over limit", "POST", "/access/v1/evaluations", `{"evaluations":[{},{},{},{}]}`, "", 400, "invalid_request", "limit of 3"},
		{"batch not array", "POST", "/access/v1/evaluations", `{"evaluations":{}}`, "", 400, "invalid_request", "evaluations must be an array"},
		{"unknown semantic", "POST", "/access/v1/evaluations", `{"evaluations":[],"options":{"evaluations_semantic":"first"}}`, "", 400, "invalid_request", "options.evaluations_semantic"},
		{"bad page token", "POST", "/access/v1/search/action", `{"subject":{"type":"user","id":"x"},"resource":{"type":"t","id":"1"},"page":{"token":"!!"}}`, "", 400, "invalid_request", "page.token"},
		{"bad page limit", "POST", "/access/v1/search/subject", `{"subject":{"type":"user"},"action":{"name":"a"},"resource":{"type":"t","id":"1"},"page":{"limit":-1}}`, "", 400, "invalid_request", "page.limit"},
		{"search non-user subjects", "POST", "/access/v1/search/subject", `{"subject":{"type":"group"},"action":{"name":"a"},"resource":{"type":"t","id":"1"}}`, "", 400, "invalid_request", `subject.type "group"`},
		{"data path traversal", "GET", "/v1/data/../../etc", "", "", 400, "invalid_request", "invalid path segment"},
		{"data input not object body", "POST", "/v1/data/pdp", `[1]`, "", 400, "invalid_request", "request body must be an object"},
		{"data bad explain", "GET", "/v1/data/pdp?explain=everything", "", "", 400, "invalid_request", "explain"},
		{"data write", "PUT", "/v1/data/x", `{}`, "", 405, "method_not_allowed", "change only through their files"},
		{"policy write", "PUT", "/v1/policies/x", `{}`, "", 405, "method_not_allowed", "change only through their files"},
		{"wrong method", "GET", "/access/v1/evaluation", "", "", 405, "method_not_allowed", "GET is not allowed"},
		{"unknown path", "GET", "/nope", "", "", 404, "not_found", "no such endpoint"},
		{"top-level number", "POST", "/access/v1/evaluation", "42", "", 400, "invalid_request", "request body must be an object, got a number"},
		{"top-level string", "POST", "/access/v1/evaluation", `"allow"`, "", 400, "invalid_request", "request body must be an object, got a string"},
		{"top-level boolean", "POST", "/access/v1/evaluation", "true", "", 400, "invalid_request", "request body must be an object, got a boolean"},
		{"subject null", "POST", "/access/v1/evaluation", `{"subject":null,"action":{"name":"a"},"resource":{"type":"t","id":"1"}}`, "", 400, "invalid_request", "subject is required"},
		{"no subject.type", "POST", "/access/v1/evaluation", `{"subject":{"id":"x"},"action":{"name":"a"},"resource":{"type":"t","id":"1"}}`, "", 400, "invalid_request", "subject.type is required"},
		{"no action.name", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"x"},"action":{},"resource":{"type":"t","id":"1"}}`, "", 400, "invalid_request", "action.name is required"},
		{"no resource", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"x"},"action":{"name":"a"}}`, "", 400, "invalid_request", "resource is required"},
		{"no resource.type", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"x"},"action":{"name":"a"},"resource":{"id":"1"}}`, "", 400, "invalid_request", "resource.type is required"},
		{"empty subject.id", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":""},"action":{"name":"a"},"resource":{"type":"t","id":"1"}}`, "", 400, "invalid_request", "subject.id must not be empty"},
		{"empty action.name", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"x"},"action":{"name":""},"resource":{"type":"t","id":"1"}}`, "", 400, "invalid_request", "action.name must not be empty"},
		{"empty resource.type", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"x"},"action":{"name":"a"},"resource":{"type":"","id":"1"}}`, "", 400, "invalid_request", "resource.type must not be empty"},
		{"empty resource.id", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"x"},"action":{"name":"a"},"resource":{"type":"t","id":""}}`, "", 400, "invalid_request", "resource.id must not be empty"},
		{"subject.id number", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":5},"action":{"name":"a"},"resource":{"type":"t","id":"1"}}`, "", 400, "invalid_request", "subject.id must be a string, got a number"},
		{"subject.type boolean", "POST", "/access/v1/evaluation", `{"subject":{"type":true,"id":"x"},"action":{"name":"a"},"resource":{"type":"t","id":"1"}}`, "", 400, "invalid_request", "subject.type must be a string, got a boolean"},
		{"resource.id number", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"x"},"action":{"name":"a"},"resource":{"type":"t","id":5}}`, "", 400, "invalid_request", "resource.id must be a string, got a number"},
		{"resource.type boolean", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"x"},"action":{"name":"a"},"resource":{"type":true,"id":"1"}}`, "", 400, "invalid_request", "resource.type must be a string, got a boolean"},
		{"action string", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"x"},"action":"read","resource":{"type":"t","id":"1"}}`, "", 400, "invalid_request", "action must be an object, got a string"},
		{"resource array", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"x"},"action":{"name":"a"},"resource":[]}`, "", 400, "invalid_request", "resource must be an object, got an array"},
		{"subject.properties string", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"x","properties":"admin"},"action":{"name":"a"},"resource":{"type":"t","id":"1"}}`, "", 400, "invalid_request", "subject.properties must be an object, got a string"},
		{"action.properties array", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"x"},"action":{"name":"a","properties":[]},"resource":{"type":"t","id":"1"}}`, "", 400, "invalid_request", "action.properties must be an object, got an array"},
		{"context number", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"x"},"action":{"name":"a"},"resource":{"type":"t","id":"1"},"context":7}`, "", 400, "invalid_request", "context must be an object, got a number"},
		{"context array", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"x"},"action":{"name":"a"},"resource":{"type":"t","id":"1"},"context":[]}`, "", 400, "invalid_request", "context must be an object, got an array"},
		{"exponent too large", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"x"},"action":{"name":"a"},"resource":{"type":"t","id":"1"},"context":{"n":1e999999999}}`, "", 400, "invalid_request", "context.n: invalid number"},
		{"control character", "POST", "/access/v1/evaluation", "{\"subject\":{\"type\":\"user\",\"id\":\"a\tb\"}}", "", 400, "invalid_request", "control character in string in subject.id"},
		{"invalid escape", "POST", "/access/v1/evaluation", "{\"subject\":{\"type\":\"user\",\"id\":\"\\x\"}}", "", 400, "invalid_request", "invalid escape"},
		{"unterminated string", "POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"x`, "", 400, "invalid_request", "unterminated string"},
		{"byte order mark", "POST", "/access/v1/evaluation", "\xef\xbb\xbf{}", "", 400, "invalid_request", "not valid JSON"},
		{"xml content type", "POST", "/access/v1/evaluation", "{}", "application/xml", 415, "unsupported_media_type", "application/xml"},
		{"batch body null", "POST", "/access/v1/evaluations", "null", "", 400, "invalid_request", "request body must be an object, got null"},
		{"batch defaults invalid", "POST", "/access/v1/evaluations", `{"subject":"alice","action":{"name":"a"},"resource":{"type":"t","id":"1"}}`, "", 400, "invalid_request", "subject must be an object, got a string"},
		{"semantic number", "POST", "/access/v1/evaluations", `{"evaluations":[],"options":{"evaluations_semantic":1}}`, "", 400, "invalid_request", "options.evaluations_semantic 1 is not one of"},
		{"options string", "POST", "/access/v1/evaluations", `{"evaluations":[],"options":"all"}`, "", 400, "invalid_request", "options must be an object, got a string"},
		{"include_context number", "POST", "/access/v1/evaluations", `{"evaluations":[],"options":{"include_context":1}}`, "", 400, "invalid_request", "options.include_context must be a boolean, got a number"},
		{"search without resource", "POST", "/access/v1/search/action", `{"subject":{"type":"user","id":"x"}}`, "", 400, "invalid_request", "resource is required"},
		{"search page.limit string", "POST", "/access/v1/search/action", `{"subject":{"type":"user","id":"x"},"resource":{"type":"t","id":"1"},"page":{"limit":"10"}}`, "", 400, "invalid_request", "page.limit must be a non-negative integer"},
		{"search subject without action.name", "POST", "/access/v1/search/subject", `{"subject":{"type":"user"},"action":{},"resource":{"type":"t","id":"1"}}`, "", 400, "invalid_request", "action.name is required"},
		{"data %2e%2e traversal", "GET", "/v1/data/%2e%2e/%2e%2e/etc", "", "", 400, "invalid_request", `invalid path segment ".."`},
		{"data ..%2f traversal", "GET", "/v1/data/pdp/..%2f..%2fsecret", "", "", 400, "invalid_request", `invalid path segment ".."`},
		{"data dot segment", "POST", "/v1/data/./pdp", "{}", "", 400, "invalid_request", `invalid path segment "."`},
		{"data input invalid utf-8", "POST", "/v1/data/pdp", "{\"input\":\"\xff\"}", "", 400, "invalid_request", "not valid UTF-8"},
		{"data duplicate input", "POST", "/v1/data/pdp", `{"input":{},"input":{}}`, "", 400, "invalid_request", `duplicate key "input"`},
		{"data delete", "DELETE", "/v1/data/pdp", "", "", 405, "method_not_allowed", "change only through their files"},
		{"patch policies", "PATCH", "/v1/policies/x", "{}", "", 405, "method_not_allowed", "change only through their files"},
		{"wrong method on batch", "DELETE", "/access/v1/evaluations", "", "", 405, "method_not_allowed", "DELETE is not allowed"},
		{"post to status", "POST", "/v1/status", "{}", "", 405, "method_not_allowed", "POST is not allowed"},
		{"trailing slash", "POST", "/access/v1/evaluation/", "{}", "", 404, "not_found", "no such endpoint"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			headers := []string{}
			if tc.ctype != "" {
				headers = append(headers, "Content-Type", tc.ctype)
			}
			resp := srv.Do(t, tc.method, tc.path, body, headers...)
			if resp.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, tc.status, resp.Body)
			}
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(resp.Body, &e); err != nil {
				t.Fatalf("error body is not JSON: %s", resp.Body)
			}
			if e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.message) {
				t.Errorf("error %+v, want code %q and a message containing %q", e.Error, tc.code, tc.message)
			}
		})
	}
	// The server survived all of that.
	if resp := srv.Get(t, "/health"); resp.Status != 200 {
		t.Fatalf("health after bad input: %d", resp.Status)
	}
}

func TestBatchSemantics(t *testing.T) {
	srv := pdptest.Start(t, todoConfig(t))
	items := []any{
		map[string]any{"action": map[string]any{"name": "can_read_todos"}},    // allow
		map[string]any{"action": map[string]any{"name": "can_delete_todo"}},   // deny (jerry is a viewer)
		map[string]any{"action": map[string]any{"name": "can_read_user"}},     // allow
		map[string]any{"subject": map[string]any{"type": "user", "id": rick}}, // rick, default action: allow
	}
	base := func(sem string, withContext bool) map[string]any {
		b := map[string]any{
			"subject":     map[string]any{"type": "user", "id": jerry},
			"action":      map[string]any{"name": "can_delete_todo"},
			"resource":    map[string]any{"type": "todo", "id": "t1", "properties": map[string]any{"ownerID": "rick@the-citadel.com"}},
			"evaluations": items,
		}
		opts := map[string]any{"include_context": withContext}
		if sem != "" {
			opts["evaluations_semantic"] = sem
		}
		b["options"] = opts
		return b
	}
	decisions := func(body []byte) []bool {
		var r struct {
			Evaluations []struct {
				Decision bool           `json:"decision"`
				Context  map[string]any `json:"context"`
			} `json:"evaluations"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		out := make([]bool, len(r.Evaluations))
		for i, e := range r.Evaluations {
			out[i] = e.Decision
		}
		return out
	}
	for _, tc := range []struct {
		sem  string
		want []bool
	}{
		{"", []bool{true, false, true, true}},
		{"execute_all", []bool{true, false, true, true}},
		{"deny_on_first_deny", []bool{true, false}},
		{"permit_on_first_permit", []bool{true}},
	} {
		resp := srv.Post(t, "/access/v1/evaluations", base(tc.sem, false))
		if got := decisions(resp.Body); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("semantic %q: got %v, want %v", tc.sem, got, tc.want)
		}
		if strings.Contains(string(resp.Body), "context") {
			t.Errorf("semantic %q: items carry context without include_context: %s", tc.sem, resp.Body)
		}
	}

	// include_context: every item names the same revision (one snapshot).
	resp := srv.Post(t, "/access/v1/evaluations", base("", true))
	var r struct {
		Evaluations []struct {
			Context struct {
				Revision string   `json:"revision"`
				Reasons  []string `json:"reasons"`
			} `json:"context"`
		} `json:"evaluations"`
	}
	_ = json.Unmarshal(resp.Body, &r)
	for i, e := range r.Evaluations {
		if e.Context.Revision == "" || e.Context.Revision != r.Evaluations[0].Context.Revision || len(e.Context.Reasons) == 0 {
			t.Errorf("item %d context %+v", i, e.Context)
		}
	}

	// A broken item fails alone, with an error context; the others are decided.
	resp = srv.Post(t, "/access/v1/evaluations", map[string]any{
		"subject":     map[string]any{"type": "user", "id": rick},
		"evaluations": []any{map[string]any{"action": map[string]any{"name": "can_read_todos"}, "resource": map[string]any{"type": "todo", "id": "1"}}, map[string]any{"action": map[string]any{"name": "x"}}, "oops"},
	})
	var mixed struct {
		Evaluations []map[string]any `json:"evaluations"`
	}
	_ = json.Unmarshal(resp.Body, &mixed)
	if resp.Status != 200 || len(mixed.Evaluations) != 3 || mixed.Evaluations[0]["decision"] != true {
		t.Fatalf("mixed batch: %d %s", resp.Status, resp.Body)
	}
	for i, want := range map[int]string{1: "evaluations[1].resource is required", 2: "evaluations[2] must be an object, got a string"} {
		e := mixed.Evaluations[i]
		msg := e["context"].(map[string]any)["error"].(map[string]any)["message"]
		if e["decision"] != false || msg != want {
			t.Errorf("item %d: %v, want error %q", i, e, want)
		}
	}

	// No evaluations array: a single evaluation (AuthZEN 1.0).
	single := srv.Post(t, "/access/v1/evaluations", evalReq(rick, "can_read_todos")).JSON(t)
	if single["decision"] != true {
		t.Errorf("batch without evaluations: %v", single)
	}
	if empty := srv.Post(t, "/access/v1/evaluations", map[string]any{"evaluations": []any{}}); string(empty.Body) != `{"evaluations":[]}` {
		t.Errorf("empty batch: %s", empty.Body)
	}
}

func TestSearch(t *testing.T) {
	srv := pdptest.Start(t, todoConfig(t))
	resp := srv.Post(t, "/access/v1/search/action", map[string]any{
		"subject":  map[string]any{"type": "user", "id": jerry},
		"resource": map[string]any{"type": "todo", "id": "t1"},
	})
	var got struct {
		Results []struct{ Name string } `json:"results"`
		Page    struct {
			NextToken string `json:"next_token"`
		} `json:"page"`
	}
	if err := json.Unmarshal(resp.Body, &got); err != nil || resp.Status != 200 {
		t.Fatalf("%d %s", resp.Status, resp.Body)
	}
	var names []string
	for _, r := range got.Results {
		names = append(names, r.Name)
	}
	if want := []string{"can_read_todos", "can_read_user"}; !reflect.DeepEqual(names, want) {
		t.Errorf("jerry's actions %v, want %v", names, want)
	}

	// Paging with limit 1 walks the whole list, one per page.
	token, seen := "", []string{}
	for i := 0; i < 10; i++ {
		page := map[string]any{"limit": 1}
		if token != "" {
			page["token"] = token
		}
		resp := srv.Post(t, "/access/v1/search/action", map[string]any{
			"subject":  map[string]any{"type": "user", "id": rick},
			"resource": map[string]any{"type": "todo", "id": "t1"},
			"page":     page,
		})
		got.Results, got.Page.NextToken = nil, ""
		_ = json.Unmarshal(resp.Body, &got)
		for _, r := range got.Results {
			seen = append(seen, r.Name)
		}
		if token = got.Page.NextToken; token == "" {
			break
		}
	}
	if want := []string{"can_create_todo", "can_delete_todo", "can_read_todos", "can_read_user", "can_update_todo"}; !reflect.DeepEqual(seen, want) {
		t.Errorf("paged actions %v, want %v", seen, want)
	}
}

func TestWellKnownHealthStatus(t *testing.T) {
	srv := pdptest.Start(t, todoConfig(t))
	wk := srv.Get(t, "/.well-known/authzen-configuration").JSON(t)
	base := srv.URL
	for key, path := range map[string]string{
		"access_evaluation_endpoint":  "/access/v1/evaluation",
		"access_evaluations_endpoint": "/access/v1/evaluations",
		"search_action_endpoint":      "/access/v1/search/action",
		"search_subject_endpoint":     "/access/v1/search/subject",
	} {
		if wk[key] != base+path {
			t.Errorf("%s = %v, want %s", key, wk[key], base+path)
		}
	}
	if wk["policy_decision_point"] != base {
		t.Errorf("policy_decision_point = %v", wk["policy_decision_point"])
	}
	if h := srv.Get(t, "/health"); h.Status != 200 || string(h.Body) != "{}" {
		t.Errorf("health: %d %s", h.Status, h.Body)
	}
	st := srv.Get(t, "/v1/status").JSON(t)
	if !strings.HasPrefix(st["revision"].(string), "sha256:") || !reflect.DeepEqual(st["policies"], []any{"pdp/authz/todo.rego"}) ||
		!reflect.DeepEqual(st["data"], []any{"todo/data.json"}) || st["loaded_at"] == nil {
		t.Errorf("status: %v", st)
	}
}

// TestDataAPIMatchesOPAEval asks /v1/data and `go tool opa eval` the same
// questions on the same files and compares the answers.
func TestDataAPIMatchesOPAEval(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the OPA CLI")
	}
	cfg := todoConfig(t)
	srv := pdptest.Start(t, cfg)
	input := evalReq(rick, "can_update_todo")
	inFile := filepath.Join(t.TempDir(), "input.json")
	raw, _ := json.Marshal(input)
	if err := os.WriteFile(inFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"pdp/authz/decision", "pdp/authz/actions", "pdp/authz/roles", "todo/users", "pdp/authz/nothing"} {
		t.Run(path, func(t *testing.T) {
			resp := srv.Post(t, "/v1/data/"+path, map[string]any{"input": input})
			var got struct {
				Result     *any   `json:"result"`
				DecisionID string `json:"decision_id"`
			}
			if err := json.Unmarshal(resp.Body, &got); err != nil || resp.Status != 200 || got.DecisionID == "" {
				t.Fatalf("%d %s", resp.Status, resp.Body)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "go", "tool", "opa", "eval", "--format", "json", "-d", cfg.Policies, "-d", cfg.Data,
				"-i", inFile, "data."+strings.ReplaceAll(path, "/", "."))
			cmd.Dir = pdptest.RepoRoot()
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("opa eval: %v", err)
			}
			var opa struct {
				Result []struct {
					Expressions []struct{ Value any } `json:"expressions"`
				} `json:"result"`
			}
			if err := json.Unmarshal(out, &opa); err != nil {
				t.Fatalf("opa eval output: %v: %s", err, out)
			}
			if len(opa.Result) == 0 {
				if got.Result != nil {
					t.Errorf("opa: undefined; pdp: %v", *got.Result)
				}
				return
			}
			if got.Result == nil || !reflect.DeepEqual(*got.Result, opa.Result[0].Expressions[0].Value) {
				t.Errorf("pdp %s\nopa %s", resp.Body, out)
			}
		})
	}
	// GET without input agrees with POST without input.
	a := srv.Get(t, "/v1/data/todo/users").JSON(t)
	b := srv.Post(t, "/v1/data/todo/users", nil).JSON(t)
	if !reflect.DeepEqual(a["result"], b["result"]) || a["result"] == nil {
		t.Errorf("GET %v vs POST %v", a, b)
	}
}

func TestUnixSocket(t *testing.T) {
	cfg := todoConfig(t)
	cfg.Socket = filepath.Join(t.TempDir(), "pdp.sock")
	// A stale socket file from an earlier run is replaced.
	stale := pdptest.Start(t, cfg)
	stale.Stop(t)
	srv := pdptest.Start(t, cfg)
	st, err := os.Stat(cfg.Socket)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o660 {
		t.Errorf("socket permissions %o, want 660", perm)
	}
	if resp := srv.Post(t, "/access/v1/evaluation", evalReq(rick, "can_read_todos")); resp.JSON(t)["decision"] != true {
		t.Errorf("over the socket: %s", resp.Body)
	}
	srv.Stop(t)
	if _, err := os.Stat(cfg.Socket); !os.IsNotExist(err) {
		t.Errorf("socket left behind after shutdown: %v", err)
	}
}

func TestSocketRefusesToReplaceRegularFile(t *testing.T) {
	cfg := todoConfig(t)
	cfg.Socket = filepath.Join(t.TempDir(), "not-a-socket")
	if err := os.WriteFile(cfg.Socket, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := startErr(t, cfg)
	if err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("err = %v", err)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestBearerToken(t *testing.T) {
	cfg := todoConfig(t)
	cfg.AuthTokenFile = filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(cfg.AuthTokenFile, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := pdptest.Start(t, cfg)
	if r := srv.Get(t, "/health"); r.Status != 200 {
		t.Errorf("/health must stay open: %d", r.Status)
	}
	for _, auth := range []string{"", "Bearer wrong", "s3cret-token", "Bearer s3cret-token-and-more", "bearer s3cret-token"} {
		h := []string{}
		if auth != "" {
			h = append(h, "Authorization", auth)
		}
		r := srv.Post(t, "/access/v1/evaluation", evalReq(rick, "can_read_todos"), h...)
		if r.Status != 401 || r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: %d %s", auth, r.Status, r.Body)
		}
		if s := srv.Get(t, "/v1/status", h...); s.Status != 401 {
			t.Errorf("status with %q: %d", auth, s.Status)
		}
	}
	r := srv.Post(t, "/access/v1/evaluation", evalReq(rick, "can_read_todos"), "Authorization", "Bearer s3cret-token")
	if r.Status != 200 || r.JSON(t)["decision"] != true {
		t.Errorf("with the token: %d %s", r.Status, r.Body)
	}
	for _, e := range srv.Logs.All() {
		if strings.Contains(fmt.Sprint(e.Message, e.ContextMap()), "s3cret") {
			t.Errorf("token logged: %v", e)
		}
	}
}
