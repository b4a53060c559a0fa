// Package datagen generates role data in the format of spec/data.md, for
// benchmarks and load tests. The same arguments always give the same bytes.
package datagen

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
)

// BuiltinRoles are the workspace roles built into the model (model.md).
var BuiltinRoles = []string{"admin", "manager", "member", "collaborator"}

// AccountPermissions are the eight account permissions a role group may grant.
var AccountPermissions = []string{
	"business_management", "billing", "purchase", "logs",
	"admin_logs", "domain_management", "activation_rules", "roles_and_permissions",
}

// CustomRoleID names the one custom role every account defines.
const CustomRoleID = "reviewer"

// CustomRolePermissions are the custom role's workspace permissions (ids
// from model.md's matrix).
var CustomRolePermissions = []string{
	"approvals.approve", "contacts.view", "documents.create_blank",
	"documents.view_others", "templates.view_others",
}

// Shape of each account.
const (
	WorkspacesPerAccount = 3
	RoleGroupsPerAccount = 10
)

// Data is a generated role data tree: one Account per file accounts/<id>.json.
type Data struct {
	Accounts []Account // sorted by ID
}

// Account is one account document.
type Account struct {
	ID          string                `json:"-"`
	Name        string                `json:"name"`
	Owner       string                `json:"owner"`
	Users       map[string]User       `json:"users"`
	Workspaces  map[string]Workspace  `json:"workspaces"`
	CustomRoles map[string]CustomRole `json:"custom_roles"`
	RoleGroups  map[string]RoleGroup  `json:"role_groups"`
	UserIDs     []string              `json:"-"` // sorted; UserIDs[0] is the owner
}

// User carries display fields only.
type User struct {
	Email string `json:"email"`
}

// Workspace maps its members to their workspace roles.
type Workspace struct {
	Name    string            `json:"name"`
	Members map[string]string `json:"members"`
}

// CustomRole is a named set of workspace permissions.
type CustomRole struct {
	Name        string   `json:"name"`
	Permissions []string `json:"permissions"`
}

// RoleGroup grants account permissions to its members.
type RoleGroup struct {
	Name        string   `json:"name"`
	Permissions []string `json:"permissions"`
	Members     []string `json:"members"`
}

// File is one generated file.
type File struct {
	Path string // slash-separated, relative to the data directory
	Raw  []byte
}

// AccountID names account i (0-based).
func AccountID(i int) string { return fmt.Sprintf("acct-%05d", i) }

// UserID names user j (0-based) of account; user ids are unique across
// accounts. User 0 is the account owner.
func UserID(account string, j int) string { return fmt.Sprintf("%s-u%05d", account, j) }

// WorkspaceID names workspace k (0-based) of every account.
func WorkspaceID(k int) string { return fmt.Sprintf("ws-%d", k+1) }

// RoleGroupID names role group k (0-based) of every account.
func RoleGroupID(k int) string { return fmt.Sprintf("group-%02d", k+1) }

// Generate returns accounts accounts of usersPerAccount users each (at least
// one: the owner). Every account has WorkspacesPerAccount workspaces, uses
// every built-in role and its custom role (given enough users), and has
// RoleGroupsPerAccount role groups, some granting nothing and some without
// members. Memberships are drawn from seed.
func Generate(accounts, usersPerAccount int, seed int64) *Data {
	usersPerAccount = max(usersPerAccount, 1)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	d := &Data{Accounts: make([]Account, 0, max(accounts, 0))}
	for i := range accounts {
		d.Accounts = append(d.Accounts, account(rng, AccountID(i), usersPerAccount))
	}
	return d
}

// roles is what a workspace member is drawn from, by weight.
var roles = []struct {
	role   string
	weight int
}{{"admin", 5}, {"manager", 15}, {"member", 50}, {"collaborator", 15}, {CustomRoleID, 15}}

func account(rng *rand.Rand, id string, users int) Account {
	a := Account{
		ID:          id,
		Name:        "Account " + id,
		Users:       make(map[string]User, users),
		Workspaces:  make(map[string]Workspace, WorkspacesPerAccount),
		CustomRoles: map[string]CustomRole{CustomRoleID: {Name: "Reviewer", Permissions: slices.Clone(CustomRolePermissions)}},
		RoleGroups:  make(map[string]RoleGroup, RoleGroupsPerAccount),
		UserIDs:     make([]string, users),
	}
	for j := range users {
		u := UserID(id, j)
		a.UserIDs[j] = u
		a.Users[u] = User{Email: u + "@example.test"}
	}
	a.Owner = a.UserIDs[0]
	members := make([]map[string]string, WorkspacesPerAccount)
	for k := range members {
		members[k] = map[string]string{}
	}
	// Users 1..5 hold each built-in role and the custom role in the first
	// workspace, so every role is present whatever the draw.
	fixed := append(slices.Clone(BuiltinRoles), CustomRoleID)
	for j := 1; j < users; j++ {
		u := a.UserIDs[j]
		if j <= len(fixed) {
			members[0][u] = fixed[j-1]
			continue
		}
		// Everyone else is in one to three workspaces.
		for k := range WorkspacesPerAccount {
			if k == 0 || rng.IntN(2) == 0 {
				members[k][u] = drawRole(rng)
			}
		}
	}
	for k := range WorkspacesPerAccount {
		a.Workspaces[WorkspaceID(k)] = Workspace{Name: fmt.Sprintf("Workspace %d", k+1), Members: members[k]}
	}
	for k := range RoleGroupsPerAccount {
		g := RoleGroup{Name: fmt.Sprintf("Group %d", k+1), Permissions: []string{}, Members: []string{}}
		if k%4 != 3 { // every fourth group grants nothing, as a new group does
			for _, p := range AccountPermissions {
				if rng.IntN(3) == 0 {
					g.Permissions = append(g.Permissions, p)
				}
			}
		}
		if k < RoleGroupsPerAccount-2 && users > 1 { // the last two groups have no members
			n := 1 + rng.IntN(min(5, users-1))
			for _, j := range rng.Perm(users - 1)[:n] {
				g.Members = append(g.Members, a.UserIDs[j+1])
			}
			slices.Sort(g.Members)
		}
		a.RoleGroups[RoleGroupID(k)] = g
	}
	return a
}

func drawRole(rng *rand.Rand) string {
	total := 0
	for _, r := range roles {
		total += r.weight
	}
	n := rng.IntN(total)
	for _, r := range roles {
		if n < r.weight {
			return r.role
		}
		n -= r.weight
	}
	return "member"
}

// Users returns the number of users in d.
func (d *Data) Users() int {
	n := 0
	for _, a := range d.Accounts {
		n += len(a.UserIDs)
	}
	return n
}

// Files returns d as files accounts/<id>.json, sorted by path.
func (d *Data) Files() ([]File, error) {
	files := make([]File, 0, len(d.Accounts))
	for _, a := range d.Accounts {
		raw, err := json.MarshalIndent(a, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("account %s: %w", a.ID, err)
		}
		files = append(files, File{Path: "accounts/" + a.ID + ".json", Raw: append(raw, '\n')})
	}
	return files, nil
}

// Write writes d's files below dir, creating folders as needed.
func (d *Data) Write(dir string) error {
	files, err := d.Files()
	if err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Raw, 0o644); err != nil {
			return err
		}
	}
	return nil
}
