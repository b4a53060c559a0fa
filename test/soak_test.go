package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/pdp-sidecar/pdp/internal/pdptest"
)

// TestSoak runs the shipped model under load for a bounded time, on
// loopback: concurrent decision clients, the role data rewritten every
// ~200 ms (a mix of good and broken versions), and one client sending
// garbage. Every valid request gets its answer (the same one as before the
// load), the garbage gets only 4xx, nothing panics or logs at Error, and
// afterwards the heap and goroutine counts are back near where they started.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: 15 s of load")
	}
	const (
		duration    = 15 * time.Second
		clients     = 4
		pause       = 2 * time.Millisecond // between one client's requests: load, not a CPU hog
		reloadEvery = 200 * time.Millisecond
		heapMargin  = 16 << 20 // the whole heap is ~4 MiB: a snapshot kept per reload would show
	)

	// The shipped policies and data, in temp dirs the test may rewrite.
	dir := t.TempDir()
	cfg := pdptest.Config(t)
	policies, data := filepath.Join(dir, "policies"), filepath.Join(dir, "data")
	check(t, os.CopyFS(policies, os.DirFS(cfg.Policies)))
	check(t, os.CopyFS(data, os.DirFS(cfg.Data)))
	cfg.Policies, cfg.Data = policies, data
	cfg.DecisionTimeout = 2 * time.Second // a busy CI machine must not turn valid decisions into timeouts
	srv := pdptest.Start(t, cfg)
	acmeFile := filepath.Join(data, "accounts", "acme", "data.json")
	acmeRaw, err := os.ReadFile(acmeFile)
	check(t, err)
	var acme map[string]any
	check(t, json.Unmarshal(acmeRaw, &acme))

	// The valid requests: the golden table's AuthZEN requests, batches of
	// them, action searches, forward-auth and Data API reads. What each
	// answers before the load is what it must answer throughout.
	var golden []struct {
		Request map[string]any `json:"request"`
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "decisions.json"))
	check(t, err)
	check(t, json.Unmarshal(raw, &golden))
	type valid struct {
		name, method, path string
		body               []byte
		headers            []string
		status             int
		want               string // the answer's stable part, recorded before the load
	}
	var reqs []*valid
	for i, g := range golden {
		reqs = append(reqs, &valid{name: fmt.Sprintf("evaluation %d", i), method: "POST", path: "/access/v1/evaluation", body: []byte(mustJSON(g.Request))})
		if i%5 == 4 {
			items := make([]any, 5)
			for j := range items {
				items[j] = golden[i-j].Request
			}
			reqs = append(reqs, &valid{name: fmt.Sprintf("batch %d", i), method: "POST", path: "/access/v1/evaluations", body: []byte(mustJSON(map[string]any{"evaluations": items}))})
		}
		if i%10 == 0 {
			search := map[string]any{"subject": g.Request["subject"], "resource": g.Request["resource"]}
			reqs = append(reqs, &valid{name: fmt.Sprintf("search %d", i), method: "POST", path: "/access/v1/search/action", body: []byte(mustJSON(search))})
		}
	}
	for _, fc := range forwardCases {
		if fc.status == 200 || fc.status == 403 {
			h := append([]string{"X-Original-Method", fc.method, "X-Original-URI", fc.uri, "X-User", fc.user}, fc.headers...)
			reqs = append(reqs, &valid{name: "forward-auth " + fc.name, method: "GET", path: "/v1/forward-auth", headers: h, status: fc.status})
		}
	}
	reqs = append(reqs,
		&valid{name: "data", method: "GET", path: "/v1/data/accounts/acme/workspaces/sales/members"},
		&valid{name: "health", method: "GET", path: "/health"})

	transport := &http.Transport{MaxIdleConnsPerHost: clients + 2}
	client := &http.Client{Timeout: 30 * time.Second, Transport: transport}
	defer transport.CloseIdleConnections()
	// send answers req; the answer's stable part drops what changes from
	// one request or snapshot to the next (decision ids, revisions).
	send := func(req *valid) (int, string, error) {
		var body io.Reader
		if req.body != nil {
			body = bytes.NewReader(req.body)
		}
		hr, err := http.NewRequest(req.method, srv.URL+req.path, body)
		if err != nil {
			return 0, "", err
		}
		hr.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(req.headers); i += 2 {
			hr.Header.Set(req.headers[i], req.headers[i+1])
		}
		resp, err := client.Do(hr)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			return resp.StatusCode, "", err
		}
		if strings.HasPrefix(req.path, "/v1/forward-auth") {
			return resp.StatusCode, resp.Header.Get("X-Pdp-Reason"), nil
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return resp.StatusCode, "", fmt.Errorf("%v: %.200s", err, raw)
		}
		if ctx, ok := m["context"].(map[string]any); ok {
			if ctx["error"] != nil {
				return resp.StatusCode, "", fmt.Errorf("decision failed: %.300s", raw)
			}
			m["context"] = ctx["reasons"]
		}
		delete(m, "decision_id")
		return resp.StatusCode, mustJSON(m), nil
	}
	for _, req := range reqs {
		status, answer, err := send(req)
		if err != nil || status != max(req.status, 200) {
			t.Fatalf("%s before the load: %d %v", req.name, status, err)
		}
		req.want = answer
	}

	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	// The observer keeps every log entry (access logs at Debug included):
	// drain it as the test goes so that its memory does not count as the
	// sidecar's, keeping the entries at Error and above.
	var errorEntries []string
	var logsMu sync.Mutex
	drainLogs := func() {
		logsMu.Lock()
		defer logsMu.Unlock()
		for _, e := range srv.Logs.TakeAll() {
			if e.Level >= zapcore.ErrorLevel {
				errorEntries = append(errorEntries, fmt.Sprintf("%s: %s %v", e.Level, e.Message, e.ContextMap()))
			}
		}
	}
	drainLogs()
	startGoroutines := runtime.NumGoroutine()
	startHeap := heap()

	var (
		valids, wrong, garbage, garbage5xx, writesGood, writesBroken atomic.Int64
		wg                                                           sync.WaitGroup
		failMu                                                       sync.Mutex
		failures                                                     []string
	)
	fail := func(format string, args ...any) {
		failMu.Lock()
		defer failMu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	deadline := time.Now().Add(duration)

	// Decision clients.
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			for time.Now().Before(deadline) {
				req := reqs[rng.IntN(len(reqs))]
				status, answer, err := send(req)
				valids.Add(1)
				if err != nil || status != max(req.status, 200) || answer != req.want {
					wrong.Add(1)
					fail("%s: status %d, error %v\n got %.300s\nwant %.300s", req.name, status, err, answer, req.want)
				}
				time.Sleep(pause)
			}
		}()
	}

	// Data reloads: acme's file rewritten in place or by rename, one
	// version in four broken (the last good snapshot keeps serving).
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(99, 1))
		for i := 0; time.Now().Before(deadline); i++ {
			acme["name"] = fmt.Sprintf("Acme Inc. (version %d)", i)
			body := mustJSON(acme)
			if i%4 == 3 {
				switch rng.IntN(3) {
				case 0:
					body = body[:rng.IntN(len(body))] // truncated
				case 1:
					body = strings.Replace(body, `"dave":"member"`, `"dave":"overlord"`, 1) // unknown role
				default:
					body = strings.Replace(body, `"owner":"alice"`, `"owner":"nobody"`, 1) // unknown owner
				}
				writesBroken.Add(1)
			} else {
				writesGood.Add(1)
			}
			var err error
			if i%2 == 0 {
				err = os.WriteFile(acmeFile, []byte(body), 0o644)
			} else {
				tmp := filepath.Join(filepath.Dir(acmeFile), ".data.json.tmp")
				if err = os.WriteFile(tmp, []byte(body), 0o644); err == nil {
					err = os.Rename(tmp, acmeFile)
				}
			}
			if err != nil {
				fail("rewrite acme: %v", err)
			}
			time.Sleep(reloadEvery)
		}
		// End on a good version.
		acme["name"] = "Acme Inc. (final)"
		if err := os.WriteFile(acmeFile, []byte(mustJSON(acme)), 0o644); err != nil {
			fail("rewrite acme: %v", err)
		}
		writesGood.Add(1)
	}()

	// The garbage client: random bytes, broken JSON, oversized and deeply
	// nested bodies, huge batches, and bytes that are not HTTP at all.
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(2026, 1))
		gclient := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
		defer gclient.CloseIdleConnections()
		endpoints := []string{"/access/v1/evaluation", "/access/v1/evaluations", "/access/v1/search/action", "/access/v1/search/subject", "/v1/data/pdp/authz/decision"}
		oversized := padTo(validEval, 1<<20+1024)
		deep := `{"context":` + deepArrays(10000) + `}`
		huge := batchOf(100000)
		randomBytes := func(n int) []byte {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.UintN(256))
			}
			return b
		}
		for time.Now().Before(deadline) {
			var body []byte
			switch rng.IntN(7) {
			case 0:
				body = randomBytes(1 + rng.IntN(8192))
			case 1: // a valid request cut short
				body = []byte(validEval[:rng.IntN(len(validEval))])
			case 2: // a valid request with a byte replaced
				body = []byte(validEval)
				body[rng.IntN(len(body))] = byte(rng.UintN(256))
			case 3:
				body = []byte(oversized)
			case 4:
				body = []byte(deep)
			case 5:
				body = []byte(huge)
			case 6: // not HTTP: random bytes on a raw connection
				garbage.Add(1)
				conn, err := net.DialTimeout("tcp", strings.TrimPrefix(srv.URL, "http://"), 5*time.Second)
				if err != nil {
					fail("dial: %v", err)
					continue
				}
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				_, _ = conn.Write(append(randomBytes(1+rng.IntN(2048)), "\r\n\r\n"...))
				reply, _ := io.ReadAll(conn)
				conn.Close()
				if bytes.HasPrefix(reply, []byte("HTTP/1.1 5")) {
					garbage5xx.Add(1)
					fail("raw garbage answered %.40q", reply)
				}
				time.Sleep(pause)
				continue
			}
			path := endpoints[rng.IntN(len(endpoints))]
			resp, err := gclient.Post(srv.URL+path, "application/json", bytes.NewReader(body))
			garbage.Add(1)
			if err != nil {
				fail("garbage to %s: %v", path, err)
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				garbage5xx.Add(1)
				fail("garbage to %s: status %d for %.80q", path, resp.StatusCode, body)
			}
			time.Sleep(pause)
		}
	}()

	// Drain the log observer while the load runs.
	stopDrain := make(chan struct{})
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopDrain:
				return
			case <-tick.C:
				drainLogs()
			}
		}
	}()
	wg.Wait()
	close(stopDrain)
	<-drained

	// The final good version is served, and answers are still the same.
	acmeName := func() any { return srv.Get(t, "/v1/data/accounts/acme/name").JSON(t)["result"] }
	pdptest.Eventually(t, 10*time.Second, "the final data version", func() bool { return acmeName() == "Acme Inc. (final)" })
	for _, req := range reqs {
		if status, answer, err := send(req); err != nil || answer != req.want {
			t.Errorf("%s after the load: %d %v %s", req.name, status, err, answer)
		}
	}
	st := getStatus(t, srv)

	// Let connections close, then measure.
	transport.CloseIdleConnections()
	srv.Client.CloseIdleConnections()
	drainLogs()
	var endGoroutines int
	pdptest.Eventually(t, 10*time.Second, "goroutines back to their starting count", func() bool {
		endGoroutines = runtime.NumGoroutine()
		return endGoroutines <= startGoroutines+10
	})
	endHeap := heap()

	t.Logf("%s: %d valid requests (%d wrong), %d garbage (%d answered 5xx); %d data rewrites (%d good, %d broken) -> %d reloads ok, %d failed",
		duration, valids.Load(), wrong.Load(), garbage.Load(), garbage5xx.Load(), writesGood.Load()+writesBroken.Load(),
		writesGood.Load(), writesBroken.Load(), st.ReloadsOK, st.ReloadsFailed)
	t.Logf("heap %.1f MiB before, %.1f MiB after; goroutines %d before, %d after",
		float64(startHeap)/(1<<20), float64(endHeap)/(1<<20), startGoroutines, endGoroutines)

	for _, f := range failures {
		t.Error(f)
	}
	for _, e := range errorEntries {
		t.Errorf("logged %s", e)
	}
	if wrong.Load() != 0 || garbage5xx.Load() != 0 {
		t.Errorf("%d valid requests answered wrongly, %d garbage requests answered 5xx", wrong.Load(), garbage5xx.Load())
	}
	// Floors low enough for -race on a busy 2-core machine (~400 valid requests there).
	if valids.Load() < 200 || garbage.Load() < 20 {
		t.Errorf("too little load to mean anything: %d valid, %d garbage requests", valids.Load(), garbage.Load())
	}
	if st.ReloadsOK < 3 || st.ReloadsFailed < 1 {
		t.Errorf("reloads: %d ok, %d failed; want both to have happened during the load", st.ReloadsOK, st.ReloadsFailed)
	}
	if endHeap > startHeap+heapMargin {
		t.Errorf("heap grew from %d to %d bytes: more than the %d-byte margin", startHeap, endHeap, heapMargin)
	}
}
