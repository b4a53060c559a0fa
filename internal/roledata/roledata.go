// Package roledata validates the role data document described in
// spec/data.md: data.accounts, one object per account with its users,
// workspaces, custom roles and role groups. It reports every problem at once
// so that a rejected data tree can be fixed in one pass.
package roledata

import (
	"cmp"
	"slices"
	"strings"
)

// Catalogue is what the loaded policy defines as valid ids (read from Rego by
// the caller), so the permission matrix lives in one place only.
type Catalogue struct {
	WorkspacePermissions map[string]bool // every workspace permission id (custom roles may use only these)
	AccountPermissions   map[string]bool // the eight role-group permissions
	BuiltinRoles         map[string]bool // admin, manager, member, collaborator
}

// Problem is one thing wrong with the data, reported as
// "<file>: <json path>: <message>" (or "<file>: <message>" when Path is empty).
type Problem struct{ File, Path, Message string }

func (p Problem) String() string {
	if p.Path == "" {
		return p.File + ": " + p.Message
	}
	return p.File + ": " + p.Path + ": " + p.Message
}

// Error lists every problem found, sorted by File, then Path, then Message.
type Error struct{ Problems []Problem }

// Error joins the problems' String()s with "\n".
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func sortProblems(ps []Problem) {
	slices.SortFunc(ps, func(a, b Problem) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.Message, b.Message),
		)
	})
}
