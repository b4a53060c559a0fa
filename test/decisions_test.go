package test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pdp-sidecar/pdp/internal/pdptest"
)

var update = flag.Bool("update", false, "rewrite test/testdata/decisions.json with the decisions the sidecar gives now")

// decisionCase is one row of the golden decision table: a request over the
// shipped example data and the decision the access model (spec/model.md)
// requires. The expected values were written from the spec, not recorded.
type decisionCase struct {
	Name     string          `json:"name"`
	Request  json.RawMessage `json:"request"`
	Decision bool            `json:"decision"`
}

// TestGoldenDecisions sends every request of the table to the real server
// and compares decisions; every answer must carry reasons.
func TestGoldenDecisions(t *testing.T) {
	path := filepath.Join("testdata", "decisions.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases []decisionCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 80 {
		t.Fatalf("only %d golden cases", len(cases))
	}
	srv := pdptest.Start(t, pdptest.Config(t))
	changed := 0
	for i, tc := range cases {
		resp := srv.Post(t, "/access/v1/evaluation", []byte(tc.Request))
		var got struct {
			Decision bool `json:"decision"`
			Context  struct {
				Reasons []string `json:"reasons"`
			} `json:"context"`
		}
		if err := json.Unmarshal(resp.Body, &got); err != nil || resp.Status != 200 {
			t.Errorf("%s: %d %s", tc.Name, resp.Status, resp.Body)
			continue
		}
		if len(got.Context.Reasons) == 0 {
			t.Errorf("%s: no reasons: %s", tc.Name, resp.Body)
		}
		if got.Decision != tc.Decision {
			if *update {
				cases[i].Decision = got.Decision
				changed++
				continue
			}
			t.Errorf("%s: decision %v, want %v\n  request %s\n  reasons %q", tc.Name, got.Decision, tc.Decision, tc.Request, got.Context.Reasons)
		}
	}
	if *update && changed > 0 {
		lines := make([]string, len(cases))
		for i, c := range cases {
			b, _ := json.Marshal(c)
			lines[i] = string(b)
		}
		if err := os.WriteFile(path, []byte("[\n"+strings.Join(lines, ",\n")+"\n]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("updated %d decisions in %s", changed, path)
	}
}
