package roledata

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
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
	v, err := ast.InterfaceToValue(accounts)
	if err != nil {
		return &Error{Problems: []Problem{{File: "accounts", Path: "accounts", Message: err.Error()}}}
	}
	return ValidateValue(v, fileOf, cat)
}

// ValidateValue is Validate on the accounts document as an AST value, the
// form the snapshot's store holds (null means no accounts: valid). fileOf
// is called concurrently.
func ValidateValue(accounts ast.Value, fileOf func(accountID string) string, cat Catalogue) error {
	if fileOf == nil {
		fileOf = func(id string) string { return "accounts/" + id + ".json" }
	}
	var problems []Problem
	switch all := accounts.(type) {
	case nil, ast.Null:
	case ast.Object:
		// Accounts are independent: check them on every core.
		keys := all.Keys()
		found := make([][]Problem, len(keys))
		var next atomic.Int64
		var wg sync.WaitGroup
		for range min(runtime.GOMAXPROCS(0), len(keys)) {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < len(keys); i = int(next.Add(1)) - 1 {
					id := keyString(keys[i])
					c := &accountChecker{file: fileOf(id), cat: cat, problems: &found[i]}
					if id == "" {
						c.report("", "account id must not be empty")
					}
					c.checkAccount(all.Get(keys[i]).Value)
				}
			})
		}
		wg.Wait()
		for _, ps := range found {
			problems = append(problems, ps...)
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
// Paths are built only when a problem is reported: valid data, the common
// case, then costs no string building.
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

// get returns obj's field key, or nil.
func get(obj ast.Object, key string) ast.Value {
	k, ok := fieldTerms[key]
	if !ok {
		k = ast.StringTerm(key)
	}
	if t := obj.Get(k); t != nil {
		return t.Value
	}
	return nil
}

// fieldTerms are the terms of the field names get looks up, made once: a
// term made per lookup was a tenth of a 100k-user validation's time.
var fieldTerms = func() map[string]*ast.Term {
	m := map[string]*ast.Term{}
	for _, name := range []string{"owner", "users", "name", "workspaces", "custom_roles", "role_groups", "members", "permissions"} {
		m[name] = ast.StringTerm(name)
	}
	return m
}()

func (c *accountChecker) checkAccount(v ast.Value) {
	acct, ok := c.object("", v)
	if !ok {
		return
	}
	c.fields("", acct, accountFields)
	c.optionalString("", acct, "name")
	if users := get(acct, "users"); users != nil {
		c.users = c.checkUsers(users)
	}
	c.customRoles = map[string]bool{}
	if roles := get(acct, "custom_roles"); roles != nil {
		c.customRoles = c.checkCustomRoles(roles)
	}
	if owner := get(acct, "owner"); owner != nil {
		c.checkOwner(owner)
	}
	if ws := get(acct, "workspaces"); ws != nil {
		c.checkWorkspaces(ws)
	}
	if groups := get(acct, "role_groups"); groups != nil {
		c.checkRoleGroups(groups)
	}
}

func (c *accountChecker) checkOwner(v ast.Value) {
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
func (c *accountChecker) checkUsers(v ast.Value) map[string]bool {
	users, ok := c.object("users", v)
	if !ok {
		return nil
	}
	ids := make(map[string]bool, users.Len())
	users.Foreach(func(k, v *ast.Term) {
		id := keyString(k)
		ids[id] = true
		switch {
		case id == "":
			c.report("users", "user id must not be empty")
		case len(id) > MaxUserIDBytes:
			c.report("users", "user id %q is %d bytes, more than the %d allowed", shorten(id), len(id), MaxUserIDBytes)
		}
		// Display fields are allowed and ignored, so only the shape is checked.
		if _, ok := v.Value.(ast.Object); !ok {
			c.mismatch(field("users", id), "an object", v.Value)
		}
	})
	return ids
}

// checkUser reports id at path when it is not a user of the account (unless
// users is itself broken, which is reported once where it is).
func (c *accountChecker) checkUser(path, id string) {
	if !c.knownUser(id) {
		c.report(path, "unknown user %q", id)
	}
}

func (c *accountChecker) knownUser(id string) bool {
	return c.users == nil || c.users[id]
}

func (c *accountChecker) checkWorkspaces(v ast.Value) {
	workspaces, ok := c.object("workspaces", v)
	if !ok {
		return
	}
	workspaces.Foreach(func(k, v *ast.Term) {
		path := field("workspaces", keyString(k))
		ws, ok := c.object(path, v.Value)
		if !ok {
			return
		}
		c.fields(path, ws, workspaceFields)
		c.optionalString(path, ws, "name")
		if members := get(ws, "members"); members != nil {
			c.checkMembers(field(path, "members"), members)
		}
	})
}

// checkMembers checks a workspace's user → workspace role object.
func (c *accountChecker) checkMembers(path string, v ast.Value) {
	members, ok := c.object(path, v)
	if !ok {
		return
	}
	members.Foreach(func(k, v *ast.Term) {
		user := keyString(k)
		if !c.knownUser(user) {
			c.report(field(path, user), "unknown user %q", user)
		}
		r, ok := v.Value.(ast.String)
		role := string(r)
		switch {
		case !ok:
			c.mismatch(field(path, user), "a string", v.Value)
		case role == ownerWord:
			c.report(field(path, user), "%q is not a workspace role (the account owner is set by the account's \"owner\" field)", ownerWord)
		case c.cat.BuiltinRoles[role] || c.customRoles[role]:
		case c.customRoles == nil:
			// custom_roles is broken and reported there; the role cannot be judged.
		default:
			c.report(field(path, user), "unknown role %q", role)
		}
	})
}

// checkCustomRoles returns the account's custom role ids, or nil when
// custom_roles is not an object.
func (c *accountChecker) checkCustomRoles(v ast.Value) map[string]bool {
	roles, ok := c.object("custom_roles", v)
	if !ok {
		return nil
	}
	ids := make(map[string]bool, roles.Len())
	roles.Foreach(func(k, v *ast.Term) {
		id := keyString(k)
		ids[id] = true
		path := field("custom_roles", id)
		switch {
		case id == ownerWord:
			c.report(path, "custom role may not be named %q (the account owner is set by the account's \"owner\" field)", ownerWord)
		case c.cat.BuiltinRoles[id]:
			c.report(path, "custom role may not use the built-in role name %q", id)
		}
		role, ok := c.object(path, v.Value)
		if !ok {
			return
		}
		c.fields(path, role, customRoleFields)
		c.optionalString(path, role, "name")
		if perms := get(role, "permissions"); perms != nil {
			c.checkIDList(path, "permissions", perms, "permission", func(p string) bool {
				return c.cat.WorkspacePermissions[p]
			}, "unknown permission %q")
		}
	})
	return ids
}

func (c *accountChecker) checkRoleGroups(v ast.Value) {
	groups, ok := c.object("role_groups", v)
	if !ok {
		return
	}
	groups.Foreach(func(k, v *ast.Term) {
		path := field("role_groups", keyString(k))
		group, ok := c.object(path, v.Value)
		if !ok {
			return
		}
		c.fields(path, group, roleGroupFields)
		c.optionalString(path, group, "name")
		if perms := get(group, "permissions"); perms != nil {
			c.checkIDList(path, "permissions", perms, "permission", func(p string) bool {
				return c.cat.AccountPermissions[p]
			}, "unknown permission %q")
		}
		if members := get(group, "members"); members != nil {
			c.checkIDList(path, "members", members, "member", c.knownUser, "unknown user %q")
		}
	})
}

// checkIDList checks the array of distinct string ids at parent.key, each
// accepted by known (else reported with unknownFormat). what names an
// element in the duplicate message.
func (c *accountChecker) checkIDList(parent, key string, v ast.Value, what string, known func(string) bool, unknownFormat string) {
	list, ok := v.(*ast.Array)
	if !ok {
		c.mismatch(field(parent, key), "an array", v)
		return
	}
	// A short list (most are) is searched for duplicates; a map would be
	// one more allocation per list, and there is a list per role group.
	var seen map[string]bool
	if list.Len() > shortList {
		seen = make(map[string]bool, list.Len())
	}
	duplicate := func(i int, id string) bool {
		if seen != nil {
			dup := seen[id]
			seen[id] = true
			return dup
		}
		for j := range i {
			if s, ok := list.Elem(j).Value.(ast.String); ok && string(s) == id {
				return true
			}
		}
		return false
	}
	for i := range list.Len() {
		elem := list.Elem(i).Value
		s, ok := elem.(ast.String)
		id := string(s)
		switch {
		case !ok:
			c.mismatch(index(field(parent, key), i), "a string", elem)
		case duplicate(i, id):
			c.report(index(field(parent, key), i), "duplicate %s %q", what, id)
		default:
			if !known(id) {
				c.report(index(field(parent, key), i), unknownFormat, id)
			}
		}
	}
}

// shortList is the longest id list checkIDList searches for duplicates
// rather than indexing.
const shortList = 16

// fieldSet is the fields an object of the data may have (data.md).
// required and optional share no name.
type fieldSet struct{ required, optional []string }

var (
	accountFields    = fieldSet{[]string{"owner", "users"}, []string{"name", "workspaces", "custom_roles", "role_groups"}}
	workspaceFields  = fieldSet{nil, []string{"name", "members"}}
	customRoleFields = fieldSet{[]string{"permissions"}, []string{"name"}}
	roleGroupFields  = fieldSet{[]string{"permissions", "members"}, []string{"name"}}
)

// fields reports required fields that obj lacks and fields it has that are
// neither required nor optional (typos such as "workspace").
func (c *accountChecker) fields(path string, obj ast.Object, set fieldSet) {
	required, optional := set.required, set.optional
	known := 0
	for _, name := range required {
		if get(obj, name) == nil {
			c.report(path, "missing required field %q", name)
		} else {
			known++
		}
	}
	for _, name := range optional {
		if get(obj, name) != nil {
			known++
		}
	}
	if known == obj.Len() {
		return // no other field (valid data: no closure to allocate below)
	}
	obj.Foreach(func(k, _ *ast.Term) {
		name := keyString(k)
		if !slices.Contains(required, name) && !slices.Contains(optional, name) {
			c.report(path, "unknown field %q", name)
		}
	})
}

// optionalString checks that obj's field key, when present, is a string.
func (c *accountChecker) optionalString(path string, obj ast.Object, key string) {
	if v := get(obj, key); v != nil {
		if _, ok := v.(ast.String); !ok {
			c.mismatch(field(path, key), "a string", v)
		}
	}
}

func (c *accountChecker) object(path string, v ast.Value) (ast.Object, bool) {
	m, ok := v.(ast.Object)
	if !ok {
		c.mismatch(path, "an object", v)
	}
	return m, ok
}

func (c *accountChecker) str(path string, v ast.Value) (string, bool) {
	s, ok := v.(ast.String)
	if !ok {
		c.mismatch(path, "a string", v)
	}
	return string(s), ok
}

func (c *accountChecker) mismatch(path, want string, got ast.Value) {
	c.report(path, "must be %s, got %s", want, typeName(got))
}

// typeName names a JSON value's type as JSON does.
func typeName(v ast.Value) string {
	switch v.(type) {
	case ast.Null:
		return "null"
	case ast.Object:
		return "object"
	case *ast.Array:
		return "array"
	case ast.String:
		return "string"
	case ast.Boolean:
		return "boolean"
	case ast.Number:
		return "number"
	default:
		return ast.ValueName(v)
	}
}

// keyString is an object key as a string. Keys of data decoded from JSON
// are strings; anything else is shown as Rego would.
func keyString(k *ast.Term) string {
	if s, ok := k.Value.(ast.String); ok {
		return string(s)
	}
	return k.Value.String()
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
