package test

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/pdp-sidecar/pdp/internal/pdptest"
)

// searchResources are resources over the shipped example data, one or more
// per resource type of the action catalogue.
func searchResources() []map[string]any {
	ws := func(typ, owner string, extra map[string]any) map[string]any {
		p := map[string]any{"account": "acme", "workspace": "sales"}
		if owner != "" {
			p["owner"] = owner
		}
		for k, v := range extra {
			p[k] = v
		}
		return map[string]any{"type": typ, "id": typ + "-1", "properties": p}
	}
	share := map[string]any{"collaborators": map[string]any{"dave": "edit", "erin": "comment"}, "approvers": []any{"frank", "alice"}}
	var out []map[string]any
	for _, typ := range []string{"document", "document_folder"} {
		out = append(out, ws(typ, "carol", share), ws(typ, "dave", nil))
	}
	for _, typ := range []string{"template", "form", "content_item", "content_folder", "image", "email_message"} {
		out = append(out, ws(typ, "carol", nil), ws(typ, "dave", nil))
	}
	for _, typ := range []string{"catalog_item", "content_block", "contact", "integration", "theme"} {
		out = append(out, ws(typ, "", nil))
	}
	out = append(out,
		map[string]any{"type": "workspace", "id": "sales", "properties": map[string]any{"account": "acme", "target_user": "dave"}},
		map[string]any{"type": "workspace", "id": "legal", "properties": map[string]any{"account": "acme", "target_user": "alice"}},
		map[string]any{"type": "account", "id": "acme", "properties": map[string]any{"target_user": "carol"}},
		map[string]any{"type": "log", "id": "bob", "properties": map[string]any{"account": "acme", "user": "bob"}},
		map[string]any{"type": "log", "id": "carol", "properties": map[string]any{"account": "acme", "user": "carol"}},
	)
	return out
}

// TestSearchAgreesWithEvaluation checks, over the whole example data, that
// action search lists exactly the actions single evaluations allow, and
// subject search exactly the users they allow.
func TestSearchAgreesWithEvaluation(t *testing.T) {
	srv := pdptest.Start(t, pdptest.Config(t))
	var actions []string
	var users []string
	if err := json.Unmarshal(resultOf(t, srv, "/v1/data/pdp/authz/actions"), &actions); err != nil || len(actions) < 50 {
		t.Fatalf("actions: %v %v", actions, err)
	}
	var usersObj map[string]any
	if err := json.Unmarshal(resultOf(t, srv, "/v1/data/accounts/acme/users"), &usersObj); err != nil {
		t.Fatal(err)
	}
	for u := range usersObj {
		users = append(users, u)
	}
	sort.Strings(users)

	// allowed[resource index][user] = actions allowed, from batch evaluations.
	resources := searchResources()
	allowed := make([]map[string][]string, len(resources))
	checked := 0
	for ri, res := range resources {
		allowed[ri] = map[string][]string{}
		for _, u := range users {
			items := make([]any, len(actions))
			for i, a := range actions {
				items[i] = map[string]any{"action": map[string]any{"name": a}}
			}
			resp := srv.Post(t, "/access/v1/evaluations", map[string]any{
				"subject": map[string]any{"type": "user", "id": u}, "resource": res, "evaluations": items})
			var batch struct {
				Evaluations []struct {
					Decision bool `json:"decision"`
				} `json:"evaluations"`
			}
			if err := json.Unmarshal(resp.Body, &batch); err != nil || len(batch.Evaluations) != len(actions) {
				t.Fatalf("batch: %d %s", resp.Status, resp.Body)
			}
			var want []string
			for i, e := range batch.Evaluations {
				if e.Decision {
					want = append(want, actions[i])
				}
			}
			allowed[ri][u] = want
			search := srv.Post(t, "/access/v1/search/action", map[string]any{
				"subject": map[string]any{"type": "user", "id": u}, "resource": res})
			var got struct {
				Results []struct{ Name string } `json:"results"`
			}
			_ = json.Unmarshal(search.Body, &got)
			var names []string
			for _, r := range got.Results {
				names = append(names, r.Name)
			}
			if !reflect.DeepEqual(names, want) {
				t.Errorf("%s on %v: search/action %v, evaluations allow %v", u, res, names, want)
			}
			checked++
		}
	}

	// Subject search, for every action on every resource, paged by 3.
	for ri, res := range resources {
		for _, a := range actions {
			if !strings.HasPrefix(a, res["type"].(string)+".") && res["type"] != "account" {
				continue
			}
			var want []string
			for _, u := range users {
				for _, x := range allowed[ri][u] {
					if x == a {
						want = append(want, u)
					}
				}
			}
			var got []string
			token := ""
			for page := 0; page < 20; page++ {
				body := map[string]any{"subject": map[string]any{"type": "user"}, "action": map[string]any{"name": a},
					"resource": res, "page": map[string]any{"limit": 3, "token": token}}
				var r struct {
					Results []struct{ ID string } `json:"results"`
					Page    struct {
						NextToken string `json:"next_token"`
					} `json:"page"`
				}
				resp := srv.Post(t, "/access/v1/search/subject", body)
				if err := json.Unmarshal(resp.Body, &r); err != nil || resp.Status != 200 {
					t.Fatalf("search/subject: %d %s", resp.Status, resp.Body)
				}
				for _, x := range r.Results {
					got = append(got, x.ID)
				}
				if token = r.Page.NextToken; token == "" {
					break
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s on %v: search/subject %v, evaluations allow %v", a, res, got, want)
			}
		}
	}
	t.Logf("checked %d subject×resource action searches over %d actions and %d users", checked, len(actions), len(users))
}

func resultOf(t *testing.T, srv *pdptest.Server, path string) []byte {
	t.Helper()
	var r struct {
		Result json.RawMessage `json:"result"`
	}
	resp := srv.Get(t, path)
	if err := json.Unmarshal(resp.Body, &r); err != nil || r.Result == nil {
		t.Fatalf("%s: %d %s", path, resp.Status, resp.Body)
	}
	return r.Result
}
