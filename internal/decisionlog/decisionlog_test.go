package decisionlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/pdp-sidecar/pdp/internal/engine"
	"github.com/pdp-sidecar/pdp/internal/policy"
)

var testMask = []string{"resource.properties.collaborators", "context.ip", "subject.properties.email"}

func sampleRequest() engine.Request {
	return engine.Request{
		Subject:  engine.Entity{Type: "user", ID: "alice", Properties: map[string]any{"email": "alice@example.com", "dept": "eng"}},
		Action:   "document.read",
		Resource: engine.Entity{Type: "document", ID: "doc-1", Properties: map[string]any{"collaborators": []any{"bob", "carol"}, "workspace": "ws-1"}},
		Context:  map[string]any{"ip": "10.1.2.3", "time": "2025-01-01T00:00:00Z"},
	}
}

// open is New for tests: Sync and Close flush a file to disk, and on a
// busy machine fsync can take longer than the production time limit.
func open(t testing.TB, cfg Config) *Logger {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if l.w != nil {
		l.w.timeout = time.Minute
	}
	return l
}

// readEntries reads a decision log file back, one JSON object per line.
func readEntries(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", len(out)+1, err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

func TestFileEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	var lost atomic.Int64
	l := open(t, Config{Destination: path, Mask: testMask, OnError: func(n int) { lost.Add(int64(n)) }})
	if !l.Enabled() {
		t.Fatal("a file destination is not enabled")
	}
	req := sampleRequest()
	before := sampleRequest()
	denied := req
	denied.Action = "document.delete"
	entries := []Entry{
		{DecisionID: "d-1", RequestID: "r-1", Revision: "rev-a", Endpoint: "evaluation", Request: req,
			Decision: engine.Decision{Allow: true, Reasons: []string{"editor of ws-1"}}, Duration: 42 * time.Microsecond},
		{DecisionID: "d-2", RequestID: "r-2", Revision: "rev-a", Endpoint: "evaluations", Request: req, Batch: true, Index: 0,
			Decision: engine.Decision{Allow: true, Reasons: []string{"editor of ws-1"}}, Duration: 80 * time.Microsecond},
		{DecisionID: "d-3", RequestID: "r-2", Revision: "rev-a", Endpoint: "evaluations", Request: denied, Batch: true, Index: 1,
			Decision: engine.Decision{Reasons: []string{"decision timed out"}, Err: &engine.EvalError{Code: engine.CodeTimeout, Message: "decision timed out"}}, Duration: 80 * time.Microsecond},
		{DecisionID: "d-4", Revision: "rev-a", Endpoint: "forward_auth", Path: "GET /docs/doc-1",
			Request:  engine.Request{Subject: engine.Entity{Type: "user", ID: "bob"}, Action: "document.read", Resource: engine.Entity{Type: "document", ID: "doc-1"}},
			Decision: engine.Decision{Reasons: []string{"not a member"}}, Duration: time.Millisecond},
		{DecisionID: "d-5", Revision: "rev-a", Endpoint: "data", Path: "pdp/authz/decision",
			Input:    map[string]any{"context": map[string]any{"ip": "10.9.9.9"}, "subject": map[string]any{"type": "user", "id": "carol"}},
			Decision: engine.Decision{Allow: true}, Duration: 7 * time.Microsecond},
		{DecisionID: "d-6", Revision: "rev-a", Endpoint: "search_action", Request: engine.Request{Subject: req.Subject, Resource: req.Resource},
			Decision: engine.Decision{Allow: true}, Results: []string{"document.read", "document.write"}},
	}
	for i := range entries {
		l.Log(&entries[i])
	}
	if !reflect.DeepEqual(req, before) {
		t.Error("logging modified the request's maps")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	got := readEntries(t, path)
	if len(got) != len(entries) {
		t.Fatalf("%d entries in the file, want %d", len(got), len(entries))
	}
	for i, e := range got {
		if e["decision_id"] != entries[i].DecisionID || e["msg"] != "decision" || e["logger"] != "decision" || e["endpoint"] != entries[i].Endpoint {
			t.Errorf("entry %d: %v", i, e)
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000Z0700", fmt.Sprint(e["time"])); err != nil {
			t.Errorf("entry %d: time %v is not ISO8601: %v", i, e["time"], err)
		}
	}

	first := got[0]
	for k, want := range map[string]any{
		"revision": "rev-a", "request_id": "r-1", "subject.type": "user", "subject.id": "alice", "action": "document.read",
		"resource.type": "document", "resource.id": "doc-1", "decision": true, "duration_us": 42.0,
	} {
		if first[k] != want {
			t.Errorf("entry 0: %s = %#v, want %#v", k, first[k], want)
		}
	}
	if !reflect.DeepEqual(first["reasons"], []any{"editor of ws-1"}) {
		t.Errorf("entry 0: reasons = %v", first["reasons"])
	}
	wantInput := map[string]any{
		"subject":  map[string]any{"properties": map[string]any{"email": "***", "dept": "eng"}},
		"resource": map[string]any{"properties": map[string]any{"collaborators": "***", "workspace": "ws-1"}},
		"context":  map[string]any{"ip": "***", "time": "2025-01-01T00:00:00Z"},
	}
	if !reflect.DeepEqual(first["input"], wantInput) {
		t.Errorf("entry 0: input = %v, want %v", first["input"], wantInput)
	}
	if _, ok := first["error"]; ok {
		t.Error("entry 0 has an error")
	}
	if got[1]["index"] != 0.0 || got[2]["index"] != 1.0 {
		t.Errorf("batch indexes: %v, %v", got[1]["index"], got[2]["index"])
	}
	if _, ok := first["index"]; ok {
		t.Error("a single evaluation has a batch index")
	}
	if got[2]["decision"] != false || !reflect.DeepEqual(got[2]["error"], map[string]any{"code": "timeout", "message": "decision timed out"}) {
		t.Errorf("entry 2: decision %v, error %v", got[2]["decision"], got[2]["error"])
	}
	if got[3]["path"] != "GET /docs/doc-1" || got[3]["subject.id"] != "bob" {
		t.Errorf("entry 3: %v", got[3])
	}
	if _, ok := got[3]["input"]; ok {
		t.Error("entry 3: input logged for a request with no properties or context")
	}
	if !reflect.DeepEqual(got[4]["input"], map[string]any{"context": map[string]any{"ip": "***"}, "subject": map[string]any{"type": "user", "id": "carol"}}) {
		t.Errorf("entry 4 (data): input %v", got[4]["input"])
	}
	if !reflect.DeepEqual(got[5]["results"], []any{"document.read", "document.write"}) {
		t.Errorf("entry 5 (search): results %v", got[5]["results"])
	}

	raw, _ := os.ReadFile(path)
	for _, secret := range []string{"alice@example.com", "10.1.2.3", "10.9.9.9", `["bob","carol"]`} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the log holds the masked value %s", secret)
		}
	}
	if st, _ := os.Stat(path); st.Mode().Perm()&0o077 != 0 {
		t.Errorf("file mode %v is readable beyond its owner", st.Mode().Perm())
	}
	s := l.State()
	if s.Destination != path || s.Written != uint64(len(entries)) || s.Errors != 0 || s.LastError != "" || !reflect.DeepEqual(s.MaskedPaths, testMask) {
		t.Errorf("state %+v", s)
	}
	if lost.Load() != 0 {
		t.Errorf("OnError reported %d lost", lost.Load())
	}
}

func TestFileAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	if err := os.WriteFile(path, []byte(`{"old":true}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := open(t, Config{Destination: path})
	l.Log(&Entry{DecisionID: "new"})
	l.Close()
	got := readEntries(t, path)
	if len(got) != 2 || got[0]["old"] != true || got[1]["decision_id"] != "new" {
		t.Errorf("file holds %v", got)
	}
}

func TestMaskedFlatFields(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	l := open(t, Config{Destination: path, Mask: []string{"subject.id", "resource"}})
	l.Log(&Entry{DecisionID: "d", Request: sampleRequest()})
	l.Close()
	e := readEntries(t, path)[0]
	if e["subject.id"] != "***" || e["resource.id"] != "***" || e["resource.type"] != "***" || e["subject.type"] != "user" || e["action"] != "document.read" {
		t.Errorf("entry %v", e)
	}
	if in := e["input"].(map[string]any); in["resource"] != "***" {
		t.Errorf("input %v", in)
	}
}

func TestOffWritesNothingAndAllocatesNothing(t *testing.T) {
	dir := t.TempDir()
	off, err := New(Config{Destination: Off, Mask: testMask})
	if err != nil {
		t.Fatal(err)
	}
	var none *Logger
	req := sampleRequest()
	d := engine.Decision{Allow: true, Reasons: []string{"ok"}}
	for name, l := range map[string]*Logger{"off": off, "nil": none} {
		t.Run(name, func(t *testing.T) {
			if l.Enabled() {
				t.Fatal("enabled")
			}
			// The way handlers log: build the entry only when enabled.
			allocs := testing.AllocsPerRun(1000, func() {
				if l.Enabled() {
					e := Entry{DecisionID: "d", Revision: "r", Endpoint: "evaluation", Request: req, Decision: d, Duration: time.Microsecond}
					l.Log(&e)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per decision with the log off", allocs)
			}
			e := &Entry{DecisionID: "d", Request: req, Decision: d}
			if allocs := testing.AllocsPerRun(1000, func() { l.Log(e) }); allocs != 0 {
				t.Errorf("Log allocates %v times when off", allocs)
			}
			if err := errors.Join(l.Reopen(), l.Sync(), l.Close()); err != nil {
				t.Error(err)
			}
			if s := l.State(); s.Destination != Off || s.Written != 0 || s.Errors != 0 || l.Errors() != 0 {
				t.Errorf("state %+v", s)
			}
		})
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("off created %v", ents)
	}
}

func TestReopenAfterRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "decisions.log")
	l := open(t, Config{Destination: path})
	defer l.Close()
	l.Log(&Entry{DecisionID: "before"})
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil { // logrotate
		t.Fatal(err)
	}
	l.Log(&Entry{DecisionID: "between"}) // still goes to the renamed file, as with any logger
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil { // SIGUSR1
		t.Fatal(err)
	}
	l.Log(&Entry{DecisionID: "after"})
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	ids := func(p string) []any {
		var out []any
		for _, e := range readEntries(t, p) {
			out = append(out, e["decision_id"])
		}
		return out
	}
	if got := ids(path + ".1"); !reflect.DeepEqual(got, []any{"before", "between"}) {
		t.Errorf("rotated file holds %v", got)
	}
	if got := ids(path); !reflect.DeepEqual(got, []any{"after"}) {
		t.Errorf("new file holds %v", got)
	}

	// A failed reopen keeps the current file.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	if os.Geteuid() != 0 { // root ignores the directory's mode
		if err := l.Reopen(); err == nil {
			t.Error("reopen in a read-only directory succeeded")
		}
		l.Log(&Entry{DecisionID: "kept"})
		if err := l.Sync(); err != nil {
			t.Errorf("writing to the kept (unlinked) file: %v", err)
		}
	}
}

type failingWriter struct{ calls atomic.Int64 }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.calls.Add(1)
	return 0, errors.New("disk on fire")
}

func TestWriteFailuresAreCounted(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	var lost atomic.Int64
	fw := &failingWriter{}
	l, err := newLogger(Config{Destination: "test", OnError: func(n int) { lost.Add(int64(n)) }, Log: zap.New(core)}, defaultMaxPending, fw)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		l.Log(&Entry{DecisionID: fmt.Sprint(i)})
	}
	if err := l.Sync(); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("Sync returned %v", err)
	}
	if l.Errors() != 5 || lost.Load() != 5 {
		t.Errorf("Errors() = %d, OnError total %d, want 5", l.Errors(), lost.Load())
	}
	s := l.State()
	if s.Errors != 5 || s.Written != 0 || s.LastError != "disk on fire" || s.LastErrorAt == nil {
		t.Errorf("state %+v", s)
	}
	if n := logs.FilterMessage("decision log entries lost").Len(); n != 1 {
		t.Errorf("%d warnings on the process log, want 1 (rate limited)", n)
	}
	l.Close()
	l.Log(&Entry{DecisionID: "late"})
	if l.Errors() != 6 {
		t.Errorf("an entry logged after Close was not counted: %d", l.Errors())
	}
}

func TestDevFull(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/dev/full is Linux's")
	}
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip(err)
	}
	l := open(t, Config{Destination: "/dev/full"})
	for range 3 {
		l.Log(&Entry{DecisionID: "d", Request: sampleRequest()})
	}
	_ = l.Sync()
	if l.Errors() != 3 {
		t.Errorf("Errors() = %d, want 3", l.Errors())
	}
	if s := l.State(); !strings.Contains(s.LastError, "no space") {
		t.Errorf("last error %q", s.LastError)
	}
	l.Close()
}

// blockingWriter stands for a destination that stopped taking writes (a
// stuck pipe, a hung NFS mount).
type blockingWriter struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func TestStuckDestinationNeverDelaysDecisions(t *testing.T) {
	bw := &blockingWriter{release: make(chan struct{})}
	l, err := newLogger(Config{Destination: "test"}, 4<<10, bw)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			l.Log(&Entry{DecisionID: fmt.Sprint(i), Request: sampleRequest()})
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Log blocked on a stuck destination")
	}
	dropped := l.Errors()
	if dropped == 0 {
		t.Error("nothing was dropped though the backlog limit was exceeded")
	}
	close(bw.release)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	s := l.State()
	if s.Written+s.Errors != n {
		t.Errorf("written %d + lost %d != %d", s.Written, s.Errors, n)
	}
	if lines := bytes.Count(bw.buf.Bytes(), []byte("\n")); uint64(lines) != s.Written {
		t.Errorf("%d lines written, state says %d", lines, s.Written)
	}
}

func TestStuckDestinationDoesNotHangShutdown(t *testing.T) {
	bw := &blockingWriter{release: make(chan struct{})}
	defer close(bw.release)
	l, err := newLogger(Config{Destination: "test"}, defaultMaxPending, bw)
	if err != nil {
		t.Fatal(err)
	}
	l.w.timeout = 50 * time.Millisecond
	l.Log(&Entry{DecisionID: "stuck"})
	start := time.Now()
	if err := l.Sync(); !errors.Is(err, errFlushTimeout) {
		t.Errorf("Sync: %v", err)
	}
	if err := l.Close(); !errors.Is(err, errFlushTimeout) {
		t.Errorf("Close: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Sync and Close took %v", d)
	}
}

func TestConcurrentLogReopenSync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	l := open(t, Config{Destination: path, Mask: testMask})
	req := sampleRequest()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 250 {
				l.Log(&Entry{DecisionID: fmt.Sprintf("%d-%d", g, i), Request: req, Decision: engine.Decision{Allow: i%2 == 0}})
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if err := l.Reopen(); err != nil {
				t.Error(err)
			}
			_ = l.State()
			time.Sleep(time.Millisecond)
		}
	})
	wg.Go(func() {
		for range 10 {
			_ = l.Sync()
		}
	})
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := readEntries(t, path)
	seen := map[any]bool{}
	for _, e := range got {
		seen[e["decision_id"]] = true
	}
	if len(got) != 1000 || len(seen) != 1000 || l.Errors() != 0 {
		t.Errorf("%d lines, %d distinct ids, %d errors; want 1000, 1000, 0", len(got), len(seen), l.Errors())
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Config{Destination: ""}); err == nil {
		t.Error("empty destination accepted")
	}
	if _, err := New(Config{Destination: filepath.Join(t.TempDir(), "missing", "decisions.log")}); err == nil {
		t.Error("a file in a missing directory accepted")
	}
}

// BenchmarkLogDecision is the decision log's cost per decision, building
// the entry the way a handler does: off, and to a file (Sync included, so
// the writer goroutine's work is paid for within the measured time).
func BenchmarkLogDecision(b *testing.B) {
	req := sampleRequest()
	d := engine.Decision{Allow: true, Reasons: []string{"editor of ws-1"}}
	for _, bc := range []struct {
		name string
		dest func(b *testing.B) string
		mask []string
	}{
		{"off", func(*testing.B) string { return Off }, nil},
		{"file", func(b *testing.B) string { return filepath.Join(b.TempDir(), "d.log") }, nil},
		{"file_masked", func(b *testing.B) string { return filepath.Join(b.TempDir(), "d.log") }, testMask},
	} {
		b.Run(bc.name, func(b *testing.B) {
			l := open(b, Config{Destination: bc.dest(b), Mask: bc.mask})
			defer l.Close()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if l.Enabled() {
					e := Entry{DecisionID: "6f1c1d7e-3f0a-4b7e-9a55-0b0d7c8e9f10", RequestID: "req-1", Revision: "3f5a9c", Endpoint: "evaluation",
						Request: req, Decision: d, Duration: 35 * time.Microsecond}
					l.Log(&e)
				}
			}
			b.StopTimer() // the writer goroutine's work overlaps the loop; the final flush and fsync are not a decision's cost
			_ = l.Sync()
			if l.Errors() != 0 {
				b.ReportMetric(float64(l.Errors())/float64(b.N), "lost/op")
			}
		})
	}
}

// benchPolicy is a small role-lookup policy: enough to give the decision
// log's cost a realistic evaluation to be compared with.
const benchPolicy = `package pdp.authz

roles := {"alice": {"ws-1": "editor"}, "bob": {"ws-1": "viewer"}}

perms := {"editor": {"document.read", "document.write"}, "viewer": {"document.read"}}

default decision := {"allow": false, "reasons": ["no role grants this action"]}

decision := {"allow": true, "reasons": [sprintf("%s of %s", [role, ws])]} if {
	ws := input.resource.properties.workspace
	role := roles[input.subject.id][ws]
	input.action.name in perms[role]
}
`

// BenchmarkDecisionPath is a decision as a handler makes it, evaluation
// included, with the decision log off and to a file.
func BenchmarkDecisionPath(b *testing.B) {
	snap, err := policy.BuildFiles(context.Background(), []policy.File{{Path: "pdp/authz/authz.rego", Raw: []byte(benchPolicy)}}, nil)
	if err != nil {
		b.Skipf("cannot build the benchmark policy: %v", err)
	}
	eng := engine.New(time.Second, 0, engine.VM)
	eng.Swap(snap)
	req := sampleRequest()
	if d, _, err := eng.Evaluate(context.Background(), req); err != nil || !d.Allow {
		b.Fatalf("benchmark policy: %+v, %v", d, err)
	}
	for _, name := range []string{"off", "file"} {
		b.Run(name, func(b *testing.B) {
			dest := Off
			if name == "file" {
				dest = filepath.Join(b.TempDir(), "d.log")
			}
			l := open(b, Config{Destination: dest, Mask: testMask})
			defer l.Close()
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				d, s, _ := eng.Evaluate(ctx, req)
				if l.Enabled() {
					e := Entry{DecisionID: "6f1c1d7e-3f0a-4b7e-9a55-0b0d7c8e9f10", RequestID: "req-1", Revision: s.Revision, Endpoint: "evaluation",
						Request: req, Decision: d, Duration: time.Since(start)}
					l.Log(&e)
				}
			}
			b.StopTimer()
			_ = l.Sync()
			if l.Errors() != 0 {
				b.ReportMetric(float64(l.Errors())/float64(b.N), "lost/op")
			}
		})
	}
}
