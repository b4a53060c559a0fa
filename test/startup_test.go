package test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/pdp-sidecar/pdp/internal/app"
	"github.com/pdp-sidecar/pdp/internal/config"
	"github.com/pdp-sidecar/pdp/internal/datagen"
	"github.com/pdp-sidecar/pdp/internal/engine"
	"github.com/pdp-sidecar/pdp/internal/pdptest"
	"github.com/pdp-sidecar/pdp/internal/testfs"
)

// startErr tries to start the sidecar and returns why it could not.
func startErr(t *testing.T, cfg config.Config) (*app.App, error) {
	t.Helper()
	a, err := app.New(context.Background(), cfg, zap.NewNop(), zap.NewAtomicLevel())
	if err == nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = a.Run(ctx)
	}
	return a, err
}

const okPolicy = "package pdp.authz\n\ndecision := {\"allow\": false, \"reasons\": [\"no\"]}\n"

func TestStartupRejectsBrokenFiles(t *testing.T) {
	cases := []struct {
		name     string
		policies map[string]string
		data     map[string]string
		want     []string
	}{
		{"rego syntax error", map[string]string{"p/broken.rego": "package pdp.authz\n\ndecision := {\n"}, nil,
			[]string{"p/broken.rego:"}},
		{"strict mode: unused import", map[string]string{"p/a.rego": okPolicy + "\nimport data.foo\n"}, nil,
			[]string{"p/a.rego:", "import"}},
		{"strict builtin: shadowed var", map[string]string{"p/a.rego": "package pdp.authz\n\ndecision := {\"allow\": x, \"reasons\": []} if {\n\tx := true\n\tx := false\n}\n"}, nil,
			[]string{"p/a.rego:5"}},
		{"no decision rule", map[string]string{"p/a.rego": "package pdp.other\n\nx := 1\n"}, nil,
			[]string{"define no data.pdp.authz.decision"}},
		{"no policies at all", map[string]string{"README.md": "nothing"}, nil,
			[]string{"no *.rego file"}},
		{"invalid json data", map[string]string{"p/a.rego": okPolicy}, map[string]string{"x/bad.json": "{\n  \"a\": 1,\n  oops\n}"},
			[]string{"x/bad.json: line 3"}},
		{"data not an object", map[string]string{"p/a.rego": okPolicy}, map[string]string{"x.json": "[1,2]"},
			[]string{"x.json: top level must be an object, got array"}},
		{"conflicting data files", map[string]string{"p/a.rego": okPolicy}, map[string]string{"a/data.json": `{"b": 1}`, "a/b.json": `{"c": 1}`},
			[]string{"data.a.b", "a/b.json", "a/data.json"}},
		{"invalid yaml", map[string]string{"p/a.rego": okPolicy}, map[string]string{"y.yaml": "a: [1, 2\n"},
			[]string{"y.yaml:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := pdptest.Config(t)
			cfg.Policies, cfg.Data = t.TempDir(), t.TempDir()
			testfs.WriteAll(t, cfg.Policies, tc.policies)
			testfs.WriteAll(t, cfg.Data, tc.data)
			_, err := startErr(t, cfg)
			if err == nil {
				t.Fatal("started with broken files")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestDataLayout(t *testing.T) {
	// accounts/acme.json and accounts/globex/data.json both land at
	// data.accounts.<id>; YAML works too; dot-folders are skipped.
	cfg := pdptest.Config(t)
	cfg.Policies, cfg.Data = t.TempDir(), t.TempDir()
	testfs.WriteAll(t, cfg.Policies, map[string]string{"p/a.rego": okPolicy})
	testfs.WriteAll(t, cfg.Data, map[string]string{
		"x/one.json":            `{"v": 1}`,
		"x/two/data.json":       `{"v": 2}`,
		"x/three.yaml":          "v: 3\n",
		".hidden/skip.json":     `{"v": 4}`,
		"x/..2026_01_01/z.json": `{"v": 5}`,
		"x/notes.txt":           "ignored",
	})
	srv := pdptest.Start(t, cfg)
	got := srv.Get(t, "/v1/data/x").JSON(t)["result"]
	want := map[string]any{"one": map[string]any{"v": 1.0}, "two": map[string]any{"v": 2.0}, "three": map[string]any{"v": 3.0}}
	if !equalJSON(got, want) {
		t.Errorf("data.x = %v, want %v", got, want)
	}
	if hidden := srv.Get(t, "/v1/data/hidden").JSON(t); hidden["result"] != nil {
		t.Errorf("dot folder loaded: %v", hidden)
	}
}

func equalJSON(a, b any) bool {
	return strings.TrimSpace(mustJSON(a)) == strings.TrimSpace(mustJSON(b))
}

func TestConfigReportsEveryProblem(t *testing.T) {
	_, err := config.Load([]string{"--log-level", "loud", "--log-format", "xml", "--addr", "nope", "--policies", "/does/not/exist", "--max-batch", "0", "--gc-headroom", "-1", "--evaluator", "wasm"},
		func(string) string { return "" }, &bytes.Buffer{})
	if err == nil {
		t.Fatal("invalid flags accepted")
	}
	for _, w := range []string{"--log-level", "--log-format", "--addr", "--policies", "--max-batch", "--gc-headroom", "--evaluator"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %s:\n%v", w, err)
		}
	}
	env := map[string]string{"PDP_LOG_LEVEL": "debug", "PDP_MAX_BATCH": "7"}
	cfg, err := config.Load([]string{"--max-batch", "9", "--policies", pdptest.Config(t).Policies, "--data", pdptest.Config(t).Data},
		func(k string) string { return env[k] }, &bytes.Buffer{})
	if err != nil || cfg.LogLevel != "debug" || cfg.MaxBatch != 9 {
		t.Errorf("env then flags: %+v, %v", cfg, err)
	}
}

// TestBinary builds the real binary and checks `pdp version`, a bad flag's
// exit code, and `pdp data validate`.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "pdp")
	build := exec.Command("go", "build", "-o", bin, "./cmd/pdp")
	build.Dir = pdptest.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.Contains(string(out), "pdp ") || !strings.Contains(string(out), "OPA 1.") {
		t.Errorf("pdp version: %v %s", err, out)
	}
	cmd := exec.Command(bin, "--log-level", "loud", "--addr", "x")
	msg, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 || !strings.Contains(string(msg), "--log-level") || !strings.Contains(string(msg), "--addr") {
		t.Errorf("bad flags: %v %s", err, msg)
	}
	cmd = exec.Command(bin, "data", "validate", filepath.Join(pdptest.RepoRoot(), "data"))
	cmd.Dir = pdptest.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "ok: ") {
		t.Errorf("data validate on shipped data: %v %s", err, out)
	}
}

// TestBinaryGracefulShutdown runs the real binary on a Unix socket, checks
// `pdp health` against it, then sends SIGTERM and expects exit code 0.
func TestBinaryGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "pdp")
	build := exec.Command("go", "build", "-o", bin, "./cmd/pdp")
	build.Dir = pdptest.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	sock := filepath.Join(t.TempDir(), "pdp.sock")
	cfg := todoConfig(t)
	cmd := exec.Command(bin, "--socket", sock, "--policies", cfg.Policies, "--data", cfg.Data)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	pdptest.Eventually(t, 20*time.Second, "pdp health to pass", func() bool {
		return exec.Command(bin, "health", "--socket", sock).Run() == nil
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no exit within 15s of SIGTERM\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "shutting down") {
		t.Errorf("no shutdown log line:\n%s", logs.String())
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket not removed: %v", err)
	}
}

func TestStartupTestGate(t *testing.T) {
	cfg := pdptest.Config(t)
	cfg.Policies, cfg.Data = t.TempDir(), t.TempDir()
	testfs.WriteAll(t, cfg.Policies, map[string]string{
		"p/a.rego":      okPolicy,
		"p/a_test.rego": "package pdp.authz_test\n\nimport data.pdp.authz\n\ntest_allows if authz.decision.allow\n",
	})
	// Without the gate the failing test does not matter.
	if _, err := startErr(t, cfg); err != nil {
		t.Fatalf("without the gate: %v", err)
	}
	cfg.ReloadRequireTests = true
	_, err := startErr(t, cfg)
	if err == nil || !strings.Contains(err.Error(), "pdp.authz_test.test_allows") {
		t.Fatalf("with the gate: %v", err)
	}
}

// TestLargeDataStartup starts the sidecar on 4 MiB of generated role data,
// enough for it to ready the heap for the build (internal/app's
// prepareHeap): no collection runs during the build and the collector is
// back on after it; on Linux hosts whose huge pages are on request the heap
// gets the huge page advice for the build and loses it after (what the
// kernel records for the process's mappings says so); and decisions are
// those of the same data built in process.
func TestLargeDataStartup(t *testing.T) {
	d := datagen.Generate(260, 100, 3)
	dir := t.TempDir()
	size, err := d.WriteIn(dir, datagen.FolderLayout)
	if err != nil {
		t.Fatal(err)
	}
	if size < 4<<20 {
		t.Fatalf("generated %d bytes of role data, want 4 MiB or more for the test to mean anything", size)
	}
	cfg := pdptest.Config(t)
	cfg.Data = dir
	cfg.DecisionCache = 0
	limit := debug.SetMemoryLimit(-1) // -1 reads it
	srv := pdptest.Start(t, cfg)

	// The collector is given back once a collection after the build has
	// measured the snapshot (beside the start of serving).
	pdptest.Eventually(t, 30*time.Second, "the first build to settle", func() bool {
		return srv.Logs.FilterMessage("first build settled").Len() == 1
	})
	if p := debug.SetGCPercent(-1); p == -1 {
		t.Error("the garbage collector is still off after the first build")
	} else {
		debug.SetGCPercent(p)
	}
	if l := debug.SetMemoryLimit(-1); l != limit {
		t.Errorf("memory limit %d after the first build, want %d as before it", l, limit)
	}
	done := srv.Logs.FilterMessage("first build done").All()
	if len(done) != 1 || done[0].ContextMap()["collections"] != uint64(0) {
		t.Errorf("first build: %v, want one log with 0 collections", done)
	}
	advised := srv.Logs.FilterMessage("huge pages advised for the heap").All()
	withdrawn := srv.Logs.FilterMessage("huge page advice withdrawn").All()
	refused := srv.Logs.FilterMessage("no huge pages for the heap").All()
	switch {
	case len(refused) > 0:
		t.Logf("no huge pages here (%v): nothing more to check", refused[0].ContextMap()["error"])
	case len(advised) != 1 || len(withdrawn) != 1:
		var msgs []string
		for _, e := range srv.Logs.All() {
			msgs = append(msgs, e.Message)
		}
		t.Errorf("huge pages advised %d and withdrawn %d times at start, want once each (logged: %q)", len(advised), len(withdrawn), msgs)
	default:
		n := advised[0].ContextMap()["bytes"]
		const buildFactor = 6 // internal/app's
		if want := int64(buildFactor * size); n != want || withdrawn[0].ContextMap()["bytes"] != want {
			t.Errorf("advised %v and withdrew %v bytes, want %d × the %d bytes of data = %d", n, withdrawn[0].ContextMap()["bytes"], buildFactor, size, want)
		}
		// Withdrawn advice is MADV_NOHUGEPAGE: the kernel marks the range nh
		// (the heap's own mappings are not, and the range may merge with a
		// neighbour that is).
		if largest := largestVMFlag(t, "nh"); largest < buildFactor*size-8192 {
			t.Errorf("the largest mapping marked nh has %d bytes, want at least the %d withdrawn", largest, buildFactor*size)
		}
	}

	reqs := d.Requests(200, 5)
	snap := snapshotOn(t, d)
	eng := engine.New(time.Second, 0, engine.VM)
	eng.Swap(snap)
	for i, r := range reqs {
		want, _, err := eng.Evaluate(context.Background(), engine.Request{
			Subject:  engine.Entity{Type: r.Subject.Type, ID: r.Subject.ID, Properties: r.Subject.Properties},
			Action:   r.Action.Name,
			Resource: engine.Entity{Type: r.Resource.Type, ID: r.Resource.ID, Properties: r.Resource.Properties},
		})
		if err != nil {
			t.Fatal(err)
		}
		got := srv.Post(t, "/access/v1/evaluation", r).JSON(t)
		if got["decision"] != want.Allow {
			t.Errorf("request %d (%s): the sidecar says %v, the same data in process %v", i, r.Action.Name, got["decision"], want.Allow)
		}
	}
}

// largestVMFlag is the size of this process's largest mapping whose VmFlags
// hold flag.
func largestVMFlag(t *testing.T, flag string) int64 {
	var n int64
	for _, m := range pdptest.Mappings(t) {
		if m.Has(flag) {
			n = max(n, int64(m.End-m.Start))
		}
	}
	return n
}

// TestWatchFailureStopsRun removes the data folder between New (the first
// build) and Run, which sets the watches up beside serving: Run must stop
// with the error, and promptly, not serve on without hot reload.
func TestWatchFailureStopsRun(t *testing.T) {
	cfg := pdptest.Config(t)
	cfg.Policies, cfg.Data = t.TempDir(), t.TempDir()
	testfs.WriteAll(t, cfg.Policies, map[string]string{"p/a.rego": okPolicy})
	testfs.WriteAll(t, cfg.Data, map[string]string{"x/one.json": `{"v": 1}`})
	a, err := app.New(context.Background(), cfg, zap.NewNop(), zap.NewAtomicLevel())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(cfg.Data); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = a.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "hot reload") || !strings.Contains(err.Error(), cfg.Data) {
		t.Fatalf("Run = %v, want the watch's error naming the data folder %s", err, cfg.Data)
	}
	if a.Watching() {
		t.Error("Watching() = true without watches")
	}
}
