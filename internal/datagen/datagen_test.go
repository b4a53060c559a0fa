package datagen

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/pdp-sidecar/pdp/internal/policy"
	"github.com/pdp-sidecar/pdp/internal/roledata"
)

// catalogue holds the ids datagen uses, as the policy's catalogue would.
func catalogue() roledata.Catalogue {
	set := func(ids []string) map[string]bool {
		m := map[string]bool{}
		for _, id := range ids {
			m[id] = true
		}
		return m
	}
	return roledata.Catalogue{
		WorkspacePermissions: set(CustomRolePermissions),
		AccountPermissions:   set(AccountPermissions),
		BuiltinRoles:         set(BuiltinRoles),
	}
}

// decode reads files back as the loader would (numbers as json.Number).
func decode(t *testing.T, files []File) map[string]any {
	t.Helper()
	accounts := map[string]any{}
	for _, f := range files {
		dec := json.NewDecoder(bytes.NewReader(f.Raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		id := f.Path[len("accounts/") : len(f.Path)-len(".json")]
		accounts[id] = v
	}
	return accounts
}

func TestGenerateIsValidRoleData(t *testing.T) {
	for _, users := range []int{1, 3, 7, 100} {
		d := Generate(4, users, 1)
		files, err := d.Files()
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != 4 || d.Users() != 4*users {
			t.Fatalf("users %d: %d files, %d users", users, len(files), d.Users())
		}
		if err := roledata.Validate(decode(t, files), nil, catalogue()); err != nil {
			t.Fatalf("users %d: generated data is invalid:\n%v", users, err)
		}
	}
}

func TestGenerateShape(t *testing.T) {
	d := Generate(3, 50, 7)
	for _, a := range d.Accounts {
		if len(a.Workspaces) != WorkspacesPerAccount || len(a.RoleGroups) != RoleGroupsPerAccount || len(a.Users) != 50 {
			t.Fatalf("%s: %d workspaces, %d role groups, %d users", a.ID, len(a.Workspaces), len(a.RoleGroups), len(a.Users))
		}
		if a.Owner != a.UserIDs[0] || !slices.IsSorted(a.UserIDs) {
			t.Errorf("%s: owner %q, users not sorted", a.ID, a.Owner)
		}
		used := map[string]bool{}
		for _, ws := range a.Workspaces {
			for _, r := range ws.Members {
				used[r] = true
			}
		}
		for _, r := range append(slices.Clone(BuiltinRoles), CustomRoleID) {
			if !used[r] {
				t.Errorf("%s: role %q is never used", a.ID, r)
			}
		}
		var noPerms, noMembers int
		for _, g := range a.RoleGroups {
			if len(g.Permissions) == 0 {
				noPerms++
			}
			if len(g.Members) == 0 {
				noMembers++
			}
		}
		if noPerms == 0 || noMembers == 0 || noPerms == RoleGroupsPerAccount || noMembers == RoleGroupsPerAccount {
			t.Errorf("%s: %d groups grant nothing, %d have no members; want some of each", a.ID, noPerms, noMembers)
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	raw := func(seed int64) []byte {
		files, err := Generate(5, 20, seed).Files()
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		for _, f := range files {
			b.WriteString(f.Path)
			b.Write(f.Raw)
		}
		return b.Bytes()
	}
	if !bytes.Equal(raw(42), raw(42)) {
		t.Error("the same seed gave different data")
	}
	if bytes.Equal(raw(42), raw(43)) {
		t.Error("different seeds gave the same data")
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	d := Generate(2, 5, 1)
	if err := d.Write(dir); err != nil {
		t.Fatal(err)
	}
	files, _ := d.Files()
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil || !bytes.Equal(got, f.Raw) {
			t.Errorf("%s: %v", f.Path, err)
		}
	}
}

// The generated data passes the shipped policies' own catalogue.
func TestGenerateBuildsWithShippedPolicies(t *testing.T) {
	files, err := Generate(3, 20, 1).Files()
	if err != nil {
		t.Fatal(err)
	}
	snap := buildShipped(t, files)
	if snap.Stats.Users != 60 || snap.Stats.Workspaces != 3*WorkspacesPerAccount || snap.Stats.RoleGroups != 3*RoleGroupsPerAccount {
		t.Errorf("stats %+v", snap.Stats)
	}
}

// buildShipped builds a snapshot of the repository's policies with files
// as the role data; data the policies reject fails the test.
func buildShipped(t *testing.T, files []File) *policy.Snapshot {
	t.Helper()
	data := fstest.MapFS{}
	for _, f := range files {
		data[f.Path] = &fstest.MapFile{Data: f.Raw}
	}
	policies := os.DirFS(filepath.Join("..", "..", "policies"))
	snap, err := policy.Build(context.Background(), policy.Sources{Policies: policies, Data: data})
	if err != nil {
		t.Fatalf("generated data rejected by the shipped policies:\n%v", err)
	}
	return snap
}
