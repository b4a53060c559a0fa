package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pdp-sidecar/pdp/internal/datagen"
)

// dataset is the role data every server loads and the request mix they
// are all asked.
type dataset struct {
	desc     string // for the report
	dir      string // role data directory: accounts/<id>/data.json
	accounts int
	users    int
	files    int
	bytes    int64
	// bodies are AuthZEN access evaluation requests (JSON), in mix order.
	bodies [][]byte
	pool   int     // distinct requests among bodies (0: not counted)
	zipf   float64 // how they recur
}

// generated writes accounts × usersPerAccount users of datagen data below
// work, draws pool distinct requests of its mix, and lays them out as a
// sequence of n requests in which they recur by a Zipf law of exponent
// alpha (datagen.Traffic): the same users asking about the same resources
// again, as real traffic does, which is what a decision cache sees.
func generated(work string, accounts, usersPerAccount, pool, n int, alpha float64, seed int64) (*dataset, error) {
	d := datagen.Generate(accounts, usersPerAccount, seed)
	dir := filepath.Join(work, "data")
	size, err := d.WriteIn(dir, datagen.FolderLayout)
	if err != nil {
		return nil, fmt.Errorf("write role data: %w", err)
	}
	ds := &dataset{
		desc: fmt.Sprintf("%s users (%d accounts × %d users, %d workspaces and %d role groups each)",
			short(d.Users()), accounts, usersPerAccount, datagen.WorkspacesPerAccount, datagen.RoleGroupsPerAccount),
		dir: dir, accounts: accounts, users: d.Users(), files: len(d.Accounts), bytes: size,
	}
	distinct := make([][]byte, 0, pool)
	for _, r := range d.Requests(pool, seed) {
		raw, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		distinct = append(distinct, raw)
	}
	for _, i := range datagen.Traffic(pool, n, alpha, seed) {
		ds.bodies = append(ds.bodies, distinct[i])
	}
	ds.pool, ds.zipf = pool, alpha
	ds.desc += fmt.Sprintf("; mix: %d distinct requests, recurring by Zipf %.2g", pool, alpha)
	return ds, nil
}

// shipped is the repository's own data/ with the requests of the golden
// decision table (test/testdata/decisions.json) as the mix.
func shipped(root string) (*dataset, error) {
	ds := &dataset{desc: "the shipped data/ (golden decision table requests as the mix)", dir: filepath.Join(root, "data")}
	err := filepath.WalkDir(ds.dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		ds.files++
		ds.bytes += info.Size()
		return nil
	})
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(root, "test", "testdata", "decisions.json"))
	if err != nil {
		return nil, err
	}
	var cases []struct {
		Request json.RawMessage `json:"request"`
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		return nil, fmt.Errorf("test/testdata/decisions.json: %w", err)
	}
	for _, c := range cases {
		var b bytes.Buffer
		if err := json.Compact(&b, c.Request); err != nil {
			return nil, err
		}
		ds.bodies = append(ds.bodies, b.Bytes())
	}
	return ds, nil
}

// batches groups the mix into AuthZEN batches of size items each.
func (ds *dataset) batches(size int) [][]byte {
	var out [][]byte
	for i := 0; i+size <= len(ds.bodies); i += size {
		var b bytes.Buffer
		b.WriteString(`{"evaluations":[`)
		for j, item := range ds.bodies[i : i+size] {
			if j > 0 {
				b.WriteByte(',')
			}
			b.Write(item)
		}
		b.WriteString(`]}`)
		out = append(out, b.Bytes())
	}
	return out
}

// opaInput wraps an AuthZEN request as OPA's Data API input.
func opaInput(req []byte) []byte {
	out := make([]byte, 0, len(req)+10)
	out = append(out, `{"input":`...)
	out = append(out, req...)
	return append(out, '}')
}

func same(req []byte) []byte { return req }

// short writes 1000 as 1k and 100000 as 100k.
func short(n int) string {
	if n >= 1000 && n%1000 == 0 {
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}
