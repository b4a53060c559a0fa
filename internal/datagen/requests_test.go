package datagen

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pdp-sidecar/pdp/internal/engine"
)

func TestFilesInLayouts(t *testing.T) {
	d := Generate(3, 4, 1)
	flat, err := d.FilesIn(FlatLayout)
	if err != nil {
		t.Fatal(err)
	}
	if old, _ := d.Files(); !reflect.DeepEqual(flat, old) {
		t.Error("FilesIn(FlatLayout) differs from Files()")
	}
	folder, err := d.FilesIn(FolderLayout)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range folder {
		if want := "accounts/" + d.Accounts[i].ID + "/data.json"; f.Path != want || !bytes.Equal(f.Raw, flat[i].Raw) {
			t.Errorf("file %d: %s, want %s with the same content", i, f.Path, want)
		}
	}
	dir := t.TempDir()
	n, err := d.WriteIn(dir, FolderLayout)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, f := range folder {
		total += int64(len(f.Raw))
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil || !bytes.Equal(got, f.Raw) {
			t.Errorf("%s: %v", f.Path, err)
		}
	}
	if n != total {
		t.Errorf("WriteIn reported %d bytes, wrote %d", n, total)
	}
}

func TestRequestsAreDeterministic(t *testing.T) {
	d := Generate(5, 30, 1)
	a, b := d.Requests(300, 9), d.Requests(300, 9)
	if !reflect.DeepEqual(a, b) {
		t.Error("the same seed gave different requests")
	}
	if reflect.DeepEqual(a, d.Requests(300, 10)) {
		t.Error("different seeds gave the same requests")
	}
	if len(Generate(0, 1, 1).Requests(10, 1)) != 0 {
		t.Error("requests without accounts")
	}
}

// The mix, decided by the shipped policies on generated data (in layout
// FolderLayout, as the benchmarks use it), has allows and denies, every
// role, and denies mostly for role reasons rather than malformed requests.
func TestRequestsMixWithShippedPolicies(t *testing.T) {
	d := Generate(4, 60, 1)
	files, err := d.FilesIn(FolderLayout)
	if err != nil {
		t.Fatal(err)
	}
	snap := buildShipped(t, files)
	if snap.Stats.Users != 240 {
		t.Fatalf("FolderLayout loaded %+v, want 240 users", snap.Stats)
	}
	eng := engine.New(10*time.Second, 0, engine.VM)
	eng.Swap(snap)
	reqs := d.Requests(2000, 1)
	var allow, malformed int
	roles := map[string]bool{}
	for _, r := range reqs {
		// Through JSON, as a client sends it.
		raw, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back Request
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatal(err)
		}
		dec, _, err := eng.Evaluate(context.Background(), engine.Request{
			Subject:  engine.Entity{Type: back.Subject.Type, ID: back.Subject.ID, Properties: back.Subject.Properties},
			Action:   back.Action.Name,
			Resource: engine.Entity{Type: back.Resource.Type, ID: back.Resource.ID, Properties: back.Resource.Properties},
		})
		if err != nil || dec.Err != nil {
			t.Fatalf("%s: %v %v", raw, err, dec.Err)
		}
		if dec.Allow {
			allow++
		}
		for _, reason := range dec.Reasons {
			if strings.HasPrefix(reason, "unknown action") || strings.HasPrefix(reason, "unknown account") || strings.HasPrefix(reason, "unknown user") {
				malformed++
			}
			for _, role := range []string{"admin", "manager", "member", CustomRoleID} {
				if strings.HasPrefix(reason, role+" holds") || strings.HasPrefix(reason, `custom role "`+role+`" holds`) {
					roles[role] = true
				}
			}
			if strings.HasPrefix(reason, "account owner of") {
				roles["owner"] = true
			}
			if strings.HasPrefix(reason, "collaborator ") {
				roles["collaborator"] = true
			}
		}
	}
	t.Logf("%d requests: %d allowed, %d malformed, roles seen %v", len(reqs), allow, malformed, roles)
	if allow < len(reqs)/4 || allow > len(reqs)*3/4 {
		t.Errorf("%d of %d allowed: want a mix of allows and denies", allow, len(reqs))
	}
	if malformed > len(reqs)/20 {
		t.Errorf("%d of %d malformed: want few", malformed, len(reqs))
	}
	for _, role := range []string{"owner", "admin", "manager", "member", "collaborator", CustomRoleID} {
		if !roles[role] {
			t.Errorf("no decision names role %s", role)
		}
	}
}
