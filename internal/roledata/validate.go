package roledata

import (
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf8"
)

// MaxUserIDBytes is the longest user id data.md allows.
const MaxUserIDBytes = 256

// ownerWord is not a workspace role and may not name a custom role: the
// account owner is set by the account's "owner" field.
const ownerWord = "owner"

// Validate checks data.accounts against data.md. accounts is the decoded
// `accounts` document (nil means no accounts: valid), with values as
// encoding/json decodes them with UseNumber. fileOf(accountID) names the data
// file an account came from, used in messages. It returns nil or an *Error
// with every problem found.
func Validate(accounts any, fileOf func(accountID string) string, cat Catalogue) error {
	if fileOf == nil {
		fileOf = func(id string) string { return "accounts/" + id + ".json" }
	}
	var problems []Problem
	switch all := accounts.(type) {
	case nil:
	case map[string]any:
		for _, id := range sortedKeys(all) {
			c := &accountChecker{file: fileOf(id), cat: cat, problems: &problems}
			if id == "" {
				c.report("", "account id must not be empty")
			}
			c.checkAccount(all[id])
		}
	default:
		problems = append(problems, Problem{
			File: "accounts", Path: "accounts",
			Message: "must be an object, got " + typeName(accounts),
		})
	}
	if len(problems) == 0 {
		return nil
	}
	sortProblems(problems)
	return &Error{Problems: problems}
}

// accountChecker checks one account object. users and customRoles are the
// account's ids, nil when that field is itself broken, so that a broken
// field is reported once rather than as an unknown id at every reference.
type accountChecker struct {
	file        string
	cat         Catalogue
	problems    *[]Problem
	users       map[string]bool
	customRoles map[string]bool
}

func (c *accountChecker) report(path, format string, args ...any) {
	*c.problems = append(*c.problems, Problem{File: c.file, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (c *accountChecker) checkAccount(v any) {
	acct, ok := c.object("", v)
	if !ok {
		return
	}
	c.fields("", acct, []string{"owner", "users"}, "name", "workspaces", "custom_roles", "role_groups")
	c.optionalString("", acct, "name")
	if users, ok := acct["users"]; ok {
		c.users = c.checkUsers(users)
	}
	c.customRoles = map[string]bool{}
	if roles, ok := acct["custom_roles"]; ok {
		c.customRoles = c.checkCustomRoles(roles)
	}
	if owner, ok := acct["owner"]; ok {
		c.checkOwner(owner)
	}
	if ws, ok := acct["workspaces"]; ok {
		c.checkWorkspaces(ws)
	}
	if groups, ok := acct["role_groups"]; ok {
		c.checkRoleGroups(groups)
	}
}

func (c *accountChecker) checkOwner(v any) {
	owner, ok := c.str("owner", v)
	switch {
	case !ok:
	case owner == "":
		c.report("owner", "must not be empty")
	default:
		c.checkUser("owner", owner)
	}
}

// checkUsers returns the account's user ids, or nil when users is not an object.
func (c *accountChecker) checkUsers(v any) map[string]bool {
	users, ok := c.object("users", v)
	if !ok {
		return nil
	}
	ids := make(map[string]bool, len(users))
	for _, id := range sortedKeys(users) {
		ids[id] = true
		switch {
		case id == "":
			c.report("users", "user id must not be empty")
		case len(id) > MaxUserIDBytes:
			c.report("users", "user id %q is %d bytes, more than the %d allowed", shorten(id), len(id), MaxUserIDBytes)
		}
		// Display fields are allowed and ignored, so only the shape is checked.
		c.object(field("users", id), users[id])
	}
	return ids
}

// checkUser reports id at path when it is not a user of the account (unless
// users is itself broken, which is reported once where it is).
func (c *accountChecker) checkUser(path, id string) {
	if c.users != nil && !c.users[id] {
		c.report(path, "unknown user %q", id)
	}
}

func (c *accountChecker) checkWorkspaces(v any) {
	workspaces, ok := c.object("workspaces", v)
	if !ok {
		return
	}
	for _, id := range sortedKeys(workspaces) {
		path := field("workspaces", id)
		ws, ok := c.object(path, workspaces[id])
		if !ok {
			continue
		}
		c.fields(path, ws, nil, "name", "members")
		c.optionalString(path, ws, "name")
		if members, ok := ws["members"]; ok {
			c.checkMembers(field(path, "members"), members)
		}
	}
}

// checkMembers checks a workspace's user → workspace role object.
func (c *accountChecker) checkMembers(path string, v any) {
	members, ok := c.object(path, v)
	if !ok {
		return
	}
	for _, user := range sortedKeys(members) {
		memberPath := field(path, user)
		c.checkUser(memberPath, user)
		role, ok := c.str(memberPath, members[user])
		switch {
		case !ok:
		case role == ownerWord:
			c.report(memberPath, "%q is not a workspace role (the account owner is set by the account's \"owner\" field)", ownerWord)
		case c.cat.BuiltinRoles[role] || c.customRoles[role]:
		case c.customRoles == nil:
			// custom_roles is broken and reported there; the role cannot be judged.
		default:
			c.report(memberPath, "unknown role %q", role)
		}
	}
}

// checkCustomRoles returns the account's custom role ids, or nil when
// custom_roles is not an object.
func (c *accountChecker) checkCustomRoles(v any) map[string]bool {
	roles, ok := c.object("custom_roles", v)
	if !ok {
		return nil
	}
	ids := make(map[string]bool, len(roles))
	for _, id := range sortedKeys(roles) {
		ids[id] = true
		path := field("custom_roles", id)
		switch {
		case id == ownerWord:
			c.report(path, "custom role may not be named %q (the account owner is set by the account's \"owner\" field)", ownerWord)
		case c.cat.BuiltinRoles[id]:
			c.report(path, "custom role may not use the built-in role name %q", id)
		}
		role, ok := c.object(path, roles[id])
		if !ok {
			continue
		}
		c.fields(path, role, []string{"permissions"}, "name")
		c.optionalString(path, role, "name")
		if perms, ok := role["permissions"]; ok {
			c.checkIDList(field(path, "permissions"), perms, "permission", func(p string) bool {
				return c.cat.WorkspacePermissions[p]
			}, "unknown permission %q")
		}
	}
	return ids
}

func (c *accountChecker) checkRoleGroups(v any) {
	groups, ok := c.object("role_groups", v)
	if !ok {
		return
	}
	for _, id := range sortedKeys(groups) {
		path := field("role_groups", id)
		group, ok := c.object(path, groups[id])
		if !ok {
			continue
		}
		c.fields(path, group, []string{"permissions", "members"}, "name")
		c.optionalString(path, group, "name")
		if perms, ok := group["permissions"]; ok {
			c.checkIDList(field(path, "permissions"), perms, "permission", func(p string) bool {
				return c.cat.AccountPermissions[p]
			}, "unknown permission %q")
		}
		if members, ok := group["members"]; ok {
			c.checkIDList(field(path, "members"), members, "member", func(u string) bool {
				return c.users == nil || c.users[u]
			}, "unknown user %q")
		}
	}
}

// checkIDList checks an array of distinct string ids, each accepted by known
// (else reported with unknownFormat). what names an element in the duplicate
// message.
func (c *accountChecker) checkIDList(path string, v any, what string, known func(string) bool, unknownFormat string) {
	list, ok := v.([]any)
	if !ok {
		c.mismatch(path, "an array", v)
		return
	}
	seen := make(map[string]bool, len(list))
	for i, elem := range list {
		elemPath := index(path, i)
		id, ok := c.str(elemPath, elem)
		switch {
		case !ok:
		case seen[id]:
			c.report(elemPath, "duplicate %s %q", what, id)
		default:
			seen[id] = true
			if !known(id) {
				c.report(elemPath, unknownFormat, id)
			}
		}
	}
}

// fields reports required fields that obj lacks and fields it has that are
// neither required nor optional (typos such as "workspace").
func (c *accountChecker) fields(path string, obj map[string]any, required []string, optional ...string) {
	for _, name := range required {
		if _, ok := obj[name]; !ok {
			c.report(path, "missing required field %q", name)
		}
	}
	for _, name := range sortedKeys(obj) {
		if !slices.Contains(required, name) && !slices.Contains(optional, name) {
			c.report(path, "unknown field %q", name)
		}
	}
}

// optionalString checks that obj's field key, when present, is a string.
func (c *accountChecker) optionalString(path string, obj map[string]any, key string) {
	if v, ok := obj[key]; ok {
		c.str(field(path, key), v)
	}
}

func (c *accountChecker) object(path string, v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		c.mismatch(path, "an object", v)
	}
	return m, ok
}

func (c *accountChecker) str(path string, v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		c.mismatch(path, "a string", v)
	}
	return s, ok
}

func (c *accountChecker) mismatch(path, want string, got any) {
	c.report(path, "must be %s, got %s", want, typeName(got))
}

// typeName names a decoded JSON value's type as JSON does.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number, float64, float32, int, int64, int32, uint, uint64, uint32:
		return "number"
	default:
		return fmt.Sprintf("%T", v)
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// shorten keeps an over-long id readable in a message.
func shorten(id string) string {
	const keep = 32
	if len(id) <= keep {
		return id
	}
	cut := keep
	for cut > 0 && !utf8.RuneStart(id[cut]) {
		cut--
	}
	return id[:cut] + "…"
}
