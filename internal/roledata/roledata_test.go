package roledata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// exampleAccount is data.md's example account, which must pass.
const exampleAccount = `{
  "name": "Acme Inc.",
  "owner": "alice",
  "users": {
    "alice": {"email": "alice@acme.test"},
    "bob":   {"email": "bob@acme.test"},
    "carol": {"email": "carol@acme.test"}
  },
  "workspaces": {
    "sales": {"name": "Sales", "members": {"bob": "admin", "carol": "manager"}},
    "legal": {"name": "Legal", "members": {"carol": "member"}}
  },
  "custom_roles": {
    "contract_reviewer": {"name": "Contract reviewer",
                          "permissions": ["documents.view_others", "documents.comment"]}
  },
  "role_groups": {
    "it_admins": {"name": "IT Administrators",
                  "permissions": ["domain_management", "activation_rules"],
                  "members": ["bob"]}
  }
}`

func testCatalogue() Catalogue {
	set := func(ids ...string) map[string]bool {
		m := make(map[string]bool, len(ids))
		for _, id := range ids {
			m[id] = true
		}
		return m
	}
	return Catalogue{
		WorkspacePermissions: set("documents.view_others", "documents.comment", "documents.edit_others", "templates.embed"),
		AccountPermissions: set("business_management", "billing", "purchase", "logs", "admin_logs",
			"domain_management", "activation_rules", "roles_and_permissions"),
		BuiltinRoles: set("admin", "manager", "member", "collaborator"),
	}
}

func testFileOf(id string) string { return "accounts/" + id + ".json" }

// acme is a valid account "acme" (owner alice, users alice and bob) with
// extra appended to its fields.
func acme(extra string) string {
	return `{"acme": {"owner": "alice", "users": {"alice": {}, "bob": {}}` + extra + `}}`
}

func decode(t testing.TB, doc string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", doc, err)
	}
	return v
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		accounts string
		want     []string
	}{
		// Valid documents.
		{name: "data.md example", accounts: `{"acme": ` + exampleAccount + `}`},
		{name: "no accounts", accounts: `null`},
		{name: "empty accounts", accounts: `{}`},
		{name: "minimal account", accounts: acme(``)},
		{name: "user display fields ignored", accounts: `{"acme": {"owner": "alice", "users": {"alice": {"email": 1, "x": [null]}}}}`},
		{name: "custom role as workspace role", accounts: acme(`, "custom_roles": {"reviewer": {"permissions": []}}, "workspaces": {"sales": {"members": {"bob": "reviewer"}}}`)},
		{name: "workspace without members", accounts: acme(`, "workspaces": {"sales": {}}`)},
		{name: "role group with no permissions", accounts: acme(`, "role_groups": {"new": {"permissions": [], "members": []}}`)},

		// accounts and account objects.
		{name: "accounts not an object", accounts: `[]`,
			want: []string{`accounts: accounts: must be an object, got array`}},
		{name: "account not an object", accounts: `{"acme": "x"}`,
			want: []string{`accounts/acme.json: must be an object, got string`}},
		{name: "empty account id", accounts: `{"": {"owner": "alice", "users": {"alice": {}}}}`,
			want: []string{`accounts/.json: account id must not be empty`}},
		{name: "unknown account field", accounts: acme(`, "workspace": {}`),
			want: []string{`accounts/acme.json: unknown field "workspace"`}},
		{name: "name not a string", accounts: acme(`, "name": 7`),
			want: []string{`accounts/acme.json: name: must be a string, got number`}},

		// owner.
		{name: "owner missing", accounts: `{"acme": {"users": {"alice": {}}}}`,
			want: []string{`accounts/acme.json: missing required field "owner"`}},
		{name: "owner not a string", accounts: `{"acme": {"owner": true, "users": {"alice": {}}}}`,
			want: []string{`accounts/acme.json: owner: must be a string, got boolean`}},
		{name: "owner empty", accounts: `{"acme": {"owner": "", "users": {"alice": {}}}}`,
			want: []string{`accounts/acme.json: owner: must not be empty`}},
		{name: "owner not a user", accounts: `{"acme": {"owner": "zed", "users": {"alice": {}}}}`,
			want: []string{`accounts/acme.json: owner: unknown user "zed"`}},

		// users.
		{name: "users missing", accounts: `{"acme": {"owner": "alice"}}`,
			want: []string{`accounts/acme.json: missing required field "users"`}},
		{name: "users not an object", accounts: `{"acme": {"owner": "alice", "users": ["alice"]}}`,
			want: []string{`accounts/acme.json: users: must be an object, got array`}},
		{name: "empty user id", accounts: `{"acme": {"owner": "alice", "users": {"alice": {}, "": {}}}}`,
			want: []string{`accounts/acme.json: users: user id must not be empty`}},
		{name: "user id too long", accounts: `{"acme": {"owner": "alice", "users": {"alice": {}, "` + strings.Repeat("u", 257) + `": {}}}}`,
			want: []string{`accounts/acme.json: users: user id "` + strings.Repeat("u", 32) + `…" is 257 bytes, more than the 256 allowed`}},
		{name: "user id of 256 bytes", accounts: `{"acme": {"owner": "alice", "users": {"alice": {}, "` + strings.Repeat("u", 256) + `": {}}}}`},
		{name: "user not an object", accounts: acme(`, "users": {"alice": "Alice"}`),
			want: []string{`accounts/acme.json: users.alice: must be an object, got string`}},

		// workspaces.
		{name: "workspaces not an object", accounts: acme(`, "workspaces": []`),
			want: []string{`accounts/acme.json: workspaces: must be an object, got array`}},
		{name: "workspace not an object", accounts: acme(`, "workspaces": {"sales": null}`),
			want: []string{`accounts/acme.json: workspaces.sales: must be an object, got null`}},
		{name: "unknown workspace field", accounts: acme(`, "workspaces": {"sales": {"member": {}}}`),
			want: []string{`accounts/acme.json: workspaces.sales: unknown field "member"`}},
		{name: "workspace name not a string", accounts: acme(`, "workspaces": {"sales": {"name": {}}}`),
			want: []string{`accounts/acme.json: workspaces.sales.name: must be a string, got object`}},
		{name: "members not an object", accounts: acme(`, "workspaces": {"sales": {"members": ["bob"]}}`),
			want: []string{`accounts/acme.json: workspaces.sales.members: must be an object, got array`}},
		{name: "member role not a string", accounts: acme(`, "workspaces": {"sales": {"members": {"bob": 1}}}`),
			want: []string{`accounts/acme.json: workspaces.sales.members.bob: must be a string, got number`}},
		{name: "owner is not a workspace role", accounts: acme(`, "workspaces": {"sales": {"members": {"bob": "owner"}}}`),
			want: []string{`accounts/acme.json: workspaces.sales.members.bob: "owner" is not a workspace role (the account owner is set by the account's "owner" field)`}},
		{name: "unknown workspace role", accounts: acme(`, "workspaces": {"sales": {"members": {"bob": "boss"}}}`),
			want: []string{`accounts/acme.json: workspaces.sales.members.bob: unknown role "boss"`}},
		{name: "workspace member not a user", accounts: acme(`, "workspaces": {"sales": {"members": {"dave": "member"}}}`),
			want: []string{`accounts/acme.json: workspaces.sales.members.dave: unknown user "dave"`}},
		{name: "key with a dot is quoted in the path", accounts: acme(`, "workspaces": {"sales": {"members": {"d.ve": "member"}}}`),
			want: []string{`accounts/acme.json: workspaces.sales.members["d.ve"]: unknown user "d.ve"`}},

		// custom_roles.
		{name: "custom_roles not an object", accounts: acme(`, "custom_roles": "x"`),
			want: []string{`accounts/acme.json: custom_roles: must be an object, got string`}},
		{name: "custom role not an object", accounts: acme(`, "custom_roles": {"reviewer": []}`),
			want: []string{`accounts/acme.json: custom_roles.reviewer: must be an object, got array`}},
		{name: "unknown custom role field", accounts: acme(`, "custom_roles": {"reviewer": {"permissions": [], "perms": []}}`),
			want: []string{`accounts/acme.json: custom_roles.reviewer: unknown field "perms"`}},
		{name: "custom role name not a string", accounts: acme(`, "custom_roles": {"reviewer": {"name": false, "permissions": []}}`),
			want: []string{`accounts/acme.json: custom_roles.reviewer.name: must be a string, got boolean`}},
		{name: "custom role permissions missing", accounts: acme(`, "custom_roles": {"reviewer": {}}`),
			want: []string{`accounts/acme.json: custom_roles.reviewer: missing required field "permissions"`}},
		{name: "custom role permissions not an array", accounts: acme(`, "custom_roles": {"reviewer": {"permissions": {}}}`),
			want: []string{`accounts/acme.json: custom_roles.reviewer.permissions: must be an array, got object`}},
		{name: "custom role permission not a string", accounts: acme(`, "custom_roles": {"reviewer": {"permissions": ["documents.comment", 2]}}`),
			want: []string{`accounts/acme.json: custom_roles.reviewer.permissions[1]: must be a string, got number`}},
		{name: "custom role unknown permission", accounts: acme(`, "custom_roles": {"reviewer": {"permissions": ["documents.comment", "billing"]}}`),
			want: []string{`accounts/acme.json: custom_roles.reviewer.permissions[1]: unknown permission "billing"`}},
		{name: "custom role duplicate permission", accounts: acme(`, "custom_roles": {"reviewer": {"permissions": ["documents.comment", "documents.comment"]}}`),
			want: []string{`accounts/acme.json: custom_roles.reviewer.permissions[1]: duplicate permission "documents.comment"`}},
		{name: "custom role named after a built-in role", accounts: acme(`, "custom_roles": {"admin": {"permissions": []}}`),
			want: []string{`accounts/acme.json: custom_roles.admin: custom role may not use the built-in role name "admin"`}},
		{name: "custom role named owner", accounts: acme(`, "custom_roles": {"owner": {"permissions": []}}`),
			want: []string{`accounts/acme.json: custom_roles.owner: custom role may not be named "owner" (the account owner is set by the account's "owner" field)`}},

		// role_groups.
		{name: "role_groups not an object", accounts: acme(`, "role_groups": 1`),
			want: []string{`accounts/acme.json: role_groups: must be an object, got number`}},
		{name: "role group not an object", accounts: acme(`, "role_groups": {"it": "x"}`),
			want: []string{`accounts/acme.json: role_groups.it: must be an object, got string`}},
		{name: "unknown role group field", accounts: acme(`, "role_groups": {"it": {"permissions": [], "members": [], "users": []}}`),
			want: []string{`accounts/acme.json: role_groups.it: unknown field "users"`}},
		{name: "role group name not a string", accounts: acme(`, "role_groups": {"it": {"name": [], "permissions": [], "members": []}}`),
			want: []string{`accounts/acme.json: role_groups.it.name: must be a string, got array`}},
		{name: "role group fields missing", accounts: acme(`, "role_groups": {"it": {}}`),
			want: []string{
				`accounts/acme.json: role_groups.it: missing required field "members"`,
				`accounts/acme.json: role_groups.it: missing required field "permissions"`,
			}},
		{name: "role group permissions not an array", accounts: acme(`, "role_groups": {"it": {"permissions": "billing", "members": []}}`),
			want: []string{`accounts/acme.json: role_groups.it.permissions: must be an array, got string`}},
		{name: "role group unknown permission", accounts: acme(`, "role_groups": {"it": {"permissions": ["billing", "documents.comment"], "members": []}}`),
			want: []string{`accounts/acme.json: role_groups.it.permissions[1]: unknown permission "documents.comment"`}},
		{name: "role group duplicate permission", accounts: acme(`, "role_groups": {"it": {"permissions": ["billing", "billing"], "members": []}}`),
			want: []string{`accounts/acme.json: role_groups.it.permissions[1]: duplicate permission "billing"`}},
		{name: "role group members not an array", accounts: acme(`, "role_groups": {"it": {"permissions": [], "members": {"bob": true}}}`),
			want: []string{`accounts/acme.json: role_groups.it.members: must be an array, got object`}},
		{name: "role group member not a string", accounts: acme(`, "role_groups": {"it": {"permissions": [], "members": [null]}}`),
			want: []string{`accounts/acme.json: role_groups.it.members[0]: must be a string, got null`}},
		{name: "role group member not a user", accounts: acme(`, "role_groups": {"it": {"permissions": [], "members": ["bob", "zed"]}}`),
			want: []string{`accounts/acme.json: role_groups.it.members[1]: unknown user "zed"`}},
		{name: "role group duplicate member", accounts: acme(`, "role_groups": {"it": {"permissions": [], "members": ["bob", "bob"]}}`),
			want: []string{`accounts/acme.json: role_groups.it.members[1]: duplicate member "bob"`}},

		// A broken field is reported once, not again at every reference to it.
		{name: "broken users not repeated at references", accounts: `{"acme": {"owner": "alice", "users": 1, "role_groups": {"it": {"permissions": [], "members": ["bob"]}}}}`,
			want: []string{`accounts/acme.json: users: must be an object, got number`}},
		{name: "broken custom_roles not repeated at references", accounts: acme(`, "custom_roles": [], "workspaces": {"sales": {"members": {"bob": "reviewer"}}}`),
			want: []string{`accounts/acme.json: custom_roles: must be an object, got array`}},

		// Several problems at once: all reported, sorted by file, path, message.
		{name: "several problems", accounts: `{
			"zeta": {"owner": "zed", "users": {"amy": {}}, "workspaces": {"ops": {"members": {"amy": "owner"}}}},
			"acme": {"owner": "alice", "users": {"alice": {}}, "workspace": {},
				"workspaces": {"sales": {"members": {"dave": "boss"}}},
				"custom_roles": {"manager": {"permissions": ["billing", "billing"]}},
				"role_groups": {"it": {"permissions": ["logs"], "members": ["dave"]}}}
		}`, want: []string{
			`accounts/acme.json: unknown field "workspace"`,
			`accounts/acme.json: custom_roles.manager: custom role may not use the built-in role name "manager"`,
			`accounts/acme.json: custom_roles.manager.permissions[0]: unknown permission "billing"`,
			`accounts/acme.json: custom_roles.manager.permissions[1]: duplicate permission "billing"`,
			`accounts/acme.json: role_groups.it.members[0]: unknown user "dave"`,
			`accounts/acme.json: workspaces.sales.members.dave: unknown role "boss"`,
			`accounts/acme.json: workspaces.sales.members.dave: unknown user "dave"`,
			`accounts/zeta.json: owner: unknown user "zed"`,
			`accounts/zeta.json: workspaces.ops.members.amy: "owner" is not a workspace role (the account owner is set by the account's "owner" field)`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(decode(t, tc.accounts), testFileOf, testCatalogue())
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var verr *Error
			if !errors.As(err, &verr) {
				t.Fatalf("Validate() = %v (%T), want *Error", err, err)
			}
			got := make([]string, len(verr.Problems))
			for i, p := range verr.Problems {
				got[i] = p.String()
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n got  %q\n want %q", got, tc.want)
			}
			if want := strings.Join(tc.want, "\n"); err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
		})
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		name    string
		problem Problem
		want    string
	}{
		{name: "with path", problem: Problem{File: "accounts/acme.json", Path: "owner", Message: `unknown user "zed"`},
			want: `accounts/acme.json: owner: unknown user "zed"`},
		{name: "without path", problem: Problem{File: "accounts/acme.json", Message: "must be an object, got array"},
			want: `accounts/acme.json: must be an object, got array`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.problem.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func FuzzValidate(f *testing.F) {
	for _, seed := range []string{
		`null`, `{}`, `[]`, `"x"`, `1`,
		`{"acme": ` + exampleAccount + `}`,
		acme(`, "workspaces": {"sales": {"members": {"dave": "owner"}}}`),
		acme(`, "custom_roles": {"admin": {"permissions": ["x", "x", 1]}}`),
		acme(`, "role_groups": {"it": {"permissions": ["billing"], "members": ["bob", "bob", "zed"]}}`),
		`{"": {"owner": "", "users": {"": 1}}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var doc any
		if err := dec.Decode(&doc); err != nil {
			return
		}
		err := Validate(doc, testFileOf, testCatalogue())
		if err == nil {
			if _, isObject := doc.(map[string]any); doc != nil && !isObject {
				t.Fatalf("Validate(%s) = nil for a %T, want a problem", data, doc)
			}
			return
		}
		var verr *Error
		if !errors.As(err, &verr) || len(verr.Problems) == 0 {
			t.Fatalf("Validate(%s) = %v (%T), want *Error with problems", data, err, err)
		}
		if !sortedByFields(verr.Problems) {
			t.Fatalf("problems not sorted: %v", verr.Problems)
		}
		if err.Error() == "" {
			t.Fatal("Error() is empty")
		}
	})
}

func sortedByFields(ps []Problem) bool {
	for i := 1; i < len(ps); i++ {
		a, b := ps[i-1], ps[i]
		if a.File != b.File {
			if a.File > b.File {
				return false
			}
			continue
		}
		if a.Path != b.Path {
			if a.Path > b.Path {
				return false
			}
			continue
		}
		if a.Message > b.Message {
			return false
		}
	}
	return true
}

// TestDuplicateInLongAndShortLists checks the duplicate search of id lists
// on both sides of shortList: a list of n known members whose last repeats
// the first has exactly that one problem.
func TestDuplicateInLongAndShortLists(t *testing.T) {
	users := make([]string, 40)
	for i := range users {
		users[i] = fmt.Sprintf(`"u%02d": {}`, i)
	}
	for _, n := range []int{2, shortList, shortList + 1, shortList + 2, 40} {
		members := make([]string, n)
		for i := range n - 1 {
			members[i] = fmt.Sprintf(`"u%02d"`, i)
		}
		members[n-1] = `"u00"`
		doc := `{"acme": {"owner": "u00", "users": {` + strings.Join(users, ", ") + `},
			"role_groups": {"it": {"permissions": ["billing"], "members": [` + strings.Join(members, ", ") + `]}}}}`
		err := Validate(decode(t, doc), testFileOf, testCatalogue())
		want := fmt.Sprintf(`accounts/acme.json: role_groups.it.members[%d]: duplicate member "u00"`, n-1)
		if err == nil || err.Error() != want {
			t.Errorf("%d members, the last a duplicate: %v, want %s", n, err, want)
		}
	}
}
