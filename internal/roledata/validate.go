package roledata

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/pdp-sidecar/pdp/internal/docstore"
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

// ValidateValue is Validate on the accounts document as an AST value (null
// means no accounts: valid). It must be a JSON document (objects with
// string keys, arrays, strings, numbers, booleans, null), as decoded data
// is: anything else (a set, a non-string key) is one problem, "not a JSON
// value", rather than a problem at its path.
func ValidateValue(accounts ast.Value, fileOf func(accountID string) string, cat Catalogue) error {
	if accounts == nil {
		return nil
	}
	s, err := docstore.Build(accounts)
	if err != nil {
		return &Error{Problems: []Problem{{File: "accounts", Path: "accounts", Message: err.Error()}}}
	}
	return ValidateStore(s, s.Root(), fileOf, cat)
}

// ValidateStore is Validate on node accounts of s, the form a snapshot
// holds its role data in (null means no accounts: valid). fileOf is called
// concurrently.
func ValidateStore(s *docstore.Store, accounts docstore.Ref, fileOf func(accountID string) string, cat Catalogue) error {
	if fileOf == nil {
		fileOf = func(id string) string { return "accounts/" + id + ".json" }
	}
	var problems []Problem
	switch s.Kind(accounts) {
	case docstore.Null:
	case docstore.Object:
		// Accounts are independent: check them on every core.
		n := s.Len(accounts)
		found := make([][]Problem, n)
		var next atomic.Int64
		var wg sync.WaitGroup
		for range min(runtime.GOMAXPROCS(0), n) {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
					id, acct := s.Member(accounts, i)
					c := &accountChecker{s: s, file: fileOf(id), cat: cat, problems: &found[i]}
					if id == "" {
						c.report("", "account id must not be empty")
					}
					c.checkAccount(acct)
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
			Message: "must be an object, got " + typeName(s, accounts),
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
	s           *docstore.Store
	file        string
	cat         Catalogue
	problems    *[]Problem
	users       map[string]bool
	customRoles map[string]bool
}

func (c *accountChecker) report(path, format string, args ...any) {
	*c.problems = append(*c.problems, Problem{File: c.file, Path: path, Message: fmt.Sprintf(format, args...)})
}

// get returns obj's field key (obj an object), or false.
func (c *accountChecker) get(obj docstore.Ref, key string) (docstore.Ref, bool) {
	return c.s.Get(obj, key)
}

func (c *accountChecker) checkAccount(v docstore.Ref) {
	if !c.object("", v) {
		return
	}
	c.fields("", v, accountFields)
	c.optionalString("", v, "name")
	if users, ok := c.get(v, "users"); ok {
		c.users = c.checkUsers(users)
	}
	c.customRoles = map[string]bool{}
	if roles, ok := c.get(v, "custom_roles"); ok {
		c.customRoles = c.checkCustomRoles(roles)
	}
	if owner, ok := c.get(v, "owner"); ok {
		c.checkOwner(owner)
	}
	if ws, ok := c.get(v, "workspaces"); ok {
		c.checkWorkspaces(ws)
	}
	if groups, ok := c.get(v, "role_groups"); ok {
		c.checkRoleGroups(groups)
	}
}

func (c *accountChecker) checkOwner(v docstore.Ref) {
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
func (c *accountChecker) checkUsers(users docstore.Ref) map[string]bool {
	if !c.object("users", users) {
		return nil
	}
	s := c.s
	ids := make(map[string]bool, s.Len(users))
	for i := range s.Len(users) {
		id, v := s.Member(users, i)
		ids[id] = true
		switch {
		case id == "":
			c.report("users", "user id must not be empty")
		case len(id) > MaxUserIDBytes:
			c.report("users", "user id %q is %d bytes, more than the %d allowed", shorten(id), len(id), MaxUserIDBytes)
		}
		// Display fields are allowed and ignored, so only the shape is checked.
		if s.Kind(v) != docstore.Object {
			c.mismatch(field("users", id), "an object", v)
		}
	}
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

func (c *accountChecker) checkWorkspaces(workspaces docstore.Ref) {
	if !c.object("workspaces", workspaces) {
		return
	}
	s := c.s
	for i := range s.Len(workspaces) {
		id, ws := s.Member(workspaces, i)
		path := field("workspaces", id)
		if !c.object(path, ws) {
			continue
		}
		c.fields(path, ws, workspaceFields)
		c.optionalString(path, ws, "name")
		if members, ok := c.get(ws, "members"); ok {
			c.checkMembers(field(path, "members"), members)
		}
	}
}

// checkMembers checks a workspace's user → workspace role object.
func (c *accountChecker) checkMembers(path string, members docstore.Ref) {
	if !c.object(path, members) {
		return
	}
	s := c.s
	for i := range s.Len(members) {
		user, v := s.Member(members, i)
		if !c.knownUser(user) {
			c.report(field(path, user), "unknown user %q", user)
		}
		isString := s.Kind(v) == docstore.String
		role := s.Text(v)
		switch {
		case !isString:
			c.mismatch(field(path, user), "a string", v)
		case role == ownerWord:
			c.report(field(path, user), "%q is not a workspace role (the account owner is set by the account's \"owner\" field)", ownerWord)
		case c.cat.BuiltinRoles[role] || c.customRoles[role]:
		case c.customRoles == nil:
			// custom_roles is broken and reported there; the role cannot be judged.
		default:
			c.report(field(path, user), "unknown role %q", role)
		}
	}
}

// checkCustomRoles returns the account's custom role ids, or nil when
// custom_roles is not an object.
func (c *accountChecker) checkCustomRoles(roles docstore.Ref) map[string]bool {
	if !c.object("custom_roles", roles) {
		return nil
	}
	s := c.s
	ids := make(map[string]bool, s.Len(roles))
	for i := range s.Len(roles) {
		id, role := s.Member(roles, i)
		ids[id] = true
		path := field("custom_roles", id)
		switch {
		case id == ownerWord:
			c.report(path, "custom role may not be named %q (the account owner is set by the account's \"owner\" field)", ownerWord)
		case c.cat.BuiltinRoles[id]:
			c.report(path, "custom role may not use the built-in role name %q", id)
		}
		if !c.object(path, role) {
			continue
		}
		c.fields(path, role, customRoleFields)
		c.optionalString(path, role, "name")
		if perms, ok := c.get(role, "permissions"); ok {
			c.checkIDList(path, "permissions", perms, "permission", func(p string) bool {
				return c.cat.WorkspacePermissions[p]
			}, "unknown permission %q")
		}
	}
	return ids
}

func (c *accountChecker) checkRoleGroups(groups docstore.Ref) {
	if !c.object("role_groups", groups) {
		return
	}
	s := c.s
	for i := range s.Len(groups) {
		id, group := s.Member(groups, i)
		path := field("role_groups", id)
		if !c.object(path, group) {
			continue
		}
		c.fields(path, group, roleGroupFields)
		c.optionalString(path, group, "name")
		if perms, ok := c.get(group, "permissions"); ok {
			c.checkIDList(path, "permissions", perms, "permission", func(p string) bool {
				return c.cat.AccountPermissions[p]
			}, "unknown permission %q")
		}
		if members, ok := c.get(group, "members"); ok {
			c.checkIDList(path, "members", members, "member", c.knownUser, "unknown user %q")
		}
	}
}

// checkIDList checks the array of distinct string ids at parent.key, each
// accepted by known (else reported with unknownFormat). what names an
// element in the duplicate message.
func (c *accountChecker) checkIDList(parent, key string, list docstore.Ref, what string, known func(string) bool, unknownFormat string) {
	s := c.s
	if s.Kind(list) != docstore.Array {
		c.mismatch(field(parent, key), "an array", list)
		return
	}
	n := s.Len(list)
	// A short list (most are) is searched for duplicates; a map would be
	// one more allocation per list, and there is a list per role group.
	var seen map[string]bool
	if n > shortList {
		seen = make(map[string]bool, n)
	}
	duplicate := func(i int, id string) bool {
		if seen != nil {
			dup := seen[id]
			seen[id] = true
			return dup
		}
		for j := range i {
			if e := s.Elem(list, j); s.Kind(e) == docstore.String && s.Text(e) == id {
				return true
			}
		}
		return false
	}
	for i := range n {
		elem := s.Elem(list, i)
		id := s.Text(elem)
		switch {
		case s.Kind(elem) != docstore.String:
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
func (c *accountChecker) fields(path string, obj docstore.Ref, set fieldSet) {
	required, optional := set.required, set.optional
	known := 0
	for _, name := range required {
		if _, ok := c.get(obj, name); !ok {
			c.report(path, "missing required field %q", name)
		} else {
			known++
		}
	}
	for _, name := range optional {
		if _, ok := c.get(obj, name); ok {
			known++
		}
	}
	if known == c.s.Len(obj) {
		return // no other field
	}
	for i := range c.s.Len(obj) {
		name, _ := c.s.Member(obj, i)
		if !slices.Contains(required, name) && !slices.Contains(optional, name) {
			c.report(path, "unknown field %q", name)
		}
	}
}

// optionalString checks that obj's field key, when present, is a string.
func (c *accountChecker) optionalString(path string, obj docstore.Ref, key string) {
	if v, ok := c.get(obj, key); ok && c.s.Kind(v) != docstore.String {
		c.mismatch(field(path, key), "a string", v)
	}
}

// object reports v at path unless it is an object.
func (c *accountChecker) object(path string, v docstore.Ref) bool {
	ok := c.s.Kind(v) == docstore.Object
	if !ok {
		c.mismatch(path, "an object", v)
	}
	return ok
}

func (c *accountChecker) str(path string, v docstore.Ref) (string, bool) {
	ok := c.s.Kind(v) == docstore.String
	if !ok {
		c.mismatch(path, "a string", v)
	}
	return c.s.Text(v), ok
}

func (c *accountChecker) mismatch(path, want string, got docstore.Ref) {
	c.report(path, "must be %s, got %s", want, typeName(c.s, got))
}

// typeName names a JSON value's type as JSON does.
func typeName(s *docstore.Store, v docstore.Ref) string {
	switch s.Kind(v) {
	case docstore.Null:
		return "null"
	case docstore.Object:
		return "object"
	case docstore.Array:
		return "array"
	case docstore.String:
		return "string"
	case docstore.Boolean:
		return "boolean"
	default:
		return "number"
	}
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
