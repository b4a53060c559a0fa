package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pdp-sidecar/pdp/internal/pdptest"
)

// The decision cache, end to end: a repeated request is answered from the
// cache with the same verdict and a new decision id, the decision log says
// so, /v1/status and /metrics count it, and a reload empties it.
func TestDecisionCache(t *testing.T) {
	policies, data := obsCopyTree(t)
	logPath := filepath.Join(t.TempDir(), "decisions.log")
	cfg := pdptest.Config(t)
	cfg.Policies, cfg.Data, cfg.Embedded = policies, data, false
	cfg.DecisionLog = logPath
	cfg.DecisionCache = 100
	srv := pdptest.Start(t, cfg)

	before := obsScrape(t, srv.Client, srv.URL)
	req := obsDocReq("dave", "document.view", "carol")
	first := srv.Post(t, "/access/v1/evaluation", req)
	second := srv.Post(t, "/access/v1/evaluation", req)
	c1, c2 := obsContext(t, first), obsContext(t, second)
	if first.JSON(t)["decision"] != true || second.JSON(t)["decision"] != true {
		t.Fatalf("decisions %s / %s; want two allows", first.Body, second.Body)
	}
	if c1["decision_id"] == c2["decision_id"] {
		t.Errorf("a cached decision reused decision id %v", c1["decision_id"])
	}
	if obsStr(c1["reasons"]) != obsStr(c2["reasons"]) {
		t.Errorf("reasons %v then %v", c1["reasons"], c2["reasons"])
	}
	entries := obsWaitLog(t, logPath, 2)
	if entries[0]["cached"] != nil || entries[1]["cached"] != true {
		t.Errorf("decision log cached fields %v, %v; want absent, true", entries[0]["cached"], entries[1]["cached"])
	}
	after := obsScrape(t, srv.Client, srv.URL)
	if d := obsDelta(before, after, "pdp_decision_cache_lookups_total", "result", "hit"); d != 1 {
		t.Errorf("cache hits moved by %v, want 1", d)
	}
	if d := obsDelta(before, after, "pdp_decision_cache_lookups_total", "result", "miss"); d != 1 {
		t.Errorf("cache misses moved by %v, want 1", d)
	}
	if v := obsValue(after, "pdp_decision_cache_entries"); v != 1 {
		t.Errorf("pdp_decision_cache_entries %v, want 1", v)
	}
	dc, _ := obsStatus(t, srv)["decision_cache"].(map[string]any)
	if dc["enabled"] != true || dc["capacity"] != float64(100) || dc["entries"] != float64(1) {
		t.Errorf("status decision_cache = %v", dc)
	}

	// A reload to a policy that calls time.now_ns: the old answers go with
	// the old revision, and the new one is not cached at all.
	rev := obsStatus(t, srv)["revision"]
	extra := "package pdp.clock\n\nimport rego.v1\n\nnow := time.now_ns()\n"
	if err := os.WriteFile(filepath.Join(policies, "clock.rego"), []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	pdptest.Eventually(t, 5*time.Second, "the reload with clock.rego", func() bool { return obsStatus(t, srv)["revision"] != rev })
	dc, _ = obsStatus(t, srv)["decision_cache"].(map[string]any)
	if dc["enabled"] != false || !strings.Contains(obsStr(dc["disabled"]), "clock.rego") || !strings.Contains(obsStr(dc["disabled"]), "time.now_ns") {
		t.Errorf("status decision_cache after the reload = %v", dc)
	}
	for range 2 {
		if r := srv.Post(t, "/access/v1/evaluation", req); r.JSON(t)["decision"] != true {
			t.Fatalf("after the reload: %s", r.Body)
		}
	}
	entries = obsWaitLog(t, logPath, 4)
	if entries[2]["cached"] != nil || entries[3]["cached"] != nil {
		t.Errorf("after the reload decisions were cached: %v, %v", entries[2], entries[3])
	}
}
