package test

// End-to-end tests of what operators see of the sidecar (issue 5): the
// decision log, Prometheus metrics, the side servers (--metrics-addr,
// --pprof), the run-time log level and /v1/status. Every test runs the
// real server in-process and talks HTTP to it.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"

	"github.com/pdp-sidecar/pdp/internal/app"
	"github.com/pdp-sidecar/pdp/internal/pdptest"
	"github.com/pdp-sidecar/pdp/internal/policy"
)

// obsMask is the --decision-log-mask the decision log tests run with.
var obsMask = []string{"resource.properties.collaborators", "context.ip"}

// obsDocReq asks whether user may perform action on document doc-42 of
// acme's sales workspace, owned by owner and shared with dave for view,
// from IP 10.1.2.3: the collaborators and the IP are what obsMask hides.
func obsDocReq(user, action, owner string) map[string]any {
	return map[string]any{
		"subject": map[string]any{"type": "user", "id": user},
		"action":  map[string]any{"name": action},
		"resource": map[string]any{"type": "document", "id": "doc-42", "properties": map[string]any{
			"account": "acme", "workspace": "sales", "owner": owner, "collaborators": map[string]any{"dave": "view"},
		}},
		"context": map[string]any{"ip": "10.1.2.3", "client": "web"},
	}
}

// obsReadLog reads a decision log file: one JSON object per complete line
// (a line still being written is left for the next read). A missing file
// holds nothing.
func obsReadLog(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s line %d is not JSON: %v: %s", path, len(out)+1, err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// obsWaitLog waits until path holds n entries (writes are asynchronous)
// and returns them; more than n is an error.
func obsWaitLog(t *testing.T, path string, n int) []map[string]any {
	t.Helper()
	var got []map[string]any
	pdptest.Eventually(t, 10*time.Second, fmt.Sprintf("%d decision log entries in %s", n, path), func() bool {
		got = obsReadLog(t, path)
		return len(got) >= n
	})
	if len(got) != n {
		t.Fatalf("%s holds %d entries, want %d:\n%v", path, len(got), n, got)
	}
	return got
}

func obsContext(t *testing.T, r pdptest.Response) map[string]any {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	ctx, ok := r.JSON(t)["context"].(map[string]any)
	if !ok {
		t.Fatalf("no context in %s", r.Body)
	}
	return ctx
}

// obsStatus is GET /v1/status.
func obsStatus(t *testing.T, srv *pdptest.Server) map[string]any {
	t.Helper()
	r := srv.Get(t, "/v1/status")
	if r.Status != 200 {
		t.Fatalf("/v1/status: %d %s", r.Status, r.Body)
	}
	return r.JSON(t)
}

// obsWant is what one decision log entry must hold.
type obsWant struct {
	endpoint, requestID                         string
	subjectID, action, resourceType, resourceID string
	decision                                    bool
	reasons                                     []any
	index                                       int // -1: not a batch item
	path                                        string
	results                                     []any
	input                                       map[string]any // nil: not checked
	errCode                                     string
}

func TestObservabilityDecisionLogFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	cfg := pdptest.Config(t)
	cfg.DecisionLog = path
	cfg.DecisionLogMask = obsMask
	srv := pdptest.Start(t, cfg)
	rev, _ := obsStatus(t, srv)["revision"].(string)
	if !strings.HasPrefix(rev, "sha256:") {
		t.Fatalf("revision %q", rev)
	}

	// What the log must hold for an evaluation's input: the properties and
	// the context, collaborators and IP masked, the rest as sent.
	maskedInput := map[string]any{
		"resource": map[string]any{"properties": map[string]any{"account": "acme", "workspace": "sales", "owner": "carol", "collaborators": "***"}},
		"context":  map[string]any{"ip": "***", "client": "web"},
	}
	want := map[string]obsWant{} // by decision id
	record := func(id string, w obsWant) {
		t.Helper()
		if id == "" {
			t.Fatalf("no decision id for %+v", w)
		}
		if _, dup := want[id]; dup {
			t.Fatalf("decision id %s issued twice", id)
		}
		want[id] = w
	}
	reasonsOf := func(ctx map[string]any) []any {
		r, _ := ctx["reasons"].([]any)
		if len(r) == 0 {
			t.Errorf("a decision without reasons: %v", ctx)
		}
		return r
	}

	// Two single evaluations: an allow (dave views a document shared with
	// him) with X-Request-ID, a deny (view share does not allow edit) without.
	for _, tc := range []struct{ action, reqID string }{{"document.view", "obs-single-1"}, {"document.edit", ""}} {
		var h []string
		if tc.reqID != "" {
			h = []string{"X-Request-ID", tc.reqID}
		}
		r := srv.Post(t, "/access/v1/evaluation", obsDocReq("dave", tc.action, "carol"), h...)
		if got := r.Header.Get("X-Request-ID"); got != tc.reqID {
			t.Errorf("X-Request-ID echoed as %q, want %q", got, tc.reqID)
		}
		ctx := obsContext(t, r)
		if ctx["revision"] != rev {
			t.Errorf("revision %v, want %s", ctx["revision"], rev)
		}
		allow := r.JSON(t)["decision"] == true
		if allow != (tc.action == "document.view") {
			t.Errorf("%s: decision %v", tc.action, allow)
		}
		record(obsStr(ctx["decision_id"]), obsWant{endpoint: "evaluation", requestID: tc.reqID, subjectID: "dave", action: tc.action,
			resourceType: "document", resourceID: "doc-42", decision: allow, reasons: reasonsOf(ctx), index: -1, input: maskedInput})
	}

	// A batch of three with include_context: one entry per item, each
	// with the item's own decision id.
	batch := obsDocReq("dave", "", "carol")
	delete(batch, "action")
	batch["evaluations"] = []any{
		map[string]any{"action": map[string]any{"name": "document.view"}},
		map[string]any{"action": map[string]any{"name": "document.comment"}},
		map[string]any{"action": map[string]any{"name": "document.view"}, "subject": map[string]any{"type": "user", "id": "mallory"}},
	}
	batch["options"] = map[string]any{"include_context": true}
	br := srv.Post(t, "/access/v1/evaluations", batch, "X-Request-ID", "obs-batch")
	if br.Status != 200 {
		t.Fatalf("batch: %d %s", br.Status, br.Body)
	}
	items, _ := br.JSON(t)["evaluations"].([]any)
	if len(items) != 3 {
		t.Fatalf("batch answered %s", br.Body)
	}
	for i, it := range items {
		item, _ := it.(map[string]any)
		ctx, _ := item["context"].(map[string]any)
		if ctx == nil || ctx["revision"] != rev {
			t.Fatalf("batch item %d: %v", i, item)
		}
		subject, action := "dave", []string{"document.view", "document.comment", "document.view"}[i]
		if i == 2 {
			subject = "mallory"
		}
		record(obsStr(ctx["decision_id"]), obsWant{endpoint: "evaluations", requestID: "obs-batch", subjectID: subject, action: action,
			resourceType: "document", resourceID: "doc-42", decision: item["decision"] == true, reasons: reasonsOf(ctx), index: i, input: maskedInput})
	}
	if obsField(items[0], "decision") != true || obsField(items[2], "decision") != false {
		t.Errorf("batch decisions: %s", br.Body)
	}

	// A search: its response carries no decision id, so its entry is
	// found by endpoint.
	sr := srv.Post(t, "/access/v1/search/action", map[string]any{
		"subject":  map[string]any{"type": "user", "id": "dave"},
		"resource": obsDocReq("dave", "", "carol")["resource"],
		"context":  map[string]any{"ip": "10.1.2.3", "client": "web"},
	}, "X-Request-ID", "obs-search")
	if sr.Status != 200 {
		t.Fatalf("search: %d %s", sr.Status, sr.Body)
	}
	var searchResults []any
	results, _ := sr.JSON(t)["results"].([]any)
	for _, r := range results {
		searchResults = append(searchResults, obsField(r, "name"))
	}
	if !slices.Contains(searchResults, any("document.view")) {
		t.Errorf("search results %v lack document.view", searchResults)
	}

	// The Data API: its decision_id, its raw input logged masked.
	dr := srv.Post(t, "/v1/data/pdp/authz/decision", map[string]any{"input": obsDocReq("dave", "document.view", "carol")}, "X-Request-ID", "obs-data")
	if dr.Status != 200 {
		t.Fatalf("data: %d %s", dr.Status, dr.Body)
	}
	dbody := dr.JSON(t)
	if res, _ := dbody["result"].(map[string]any); res["allow"] != true {
		t.Errorf("data result: %s", dr.Body)
	}
	dataID, _ := dbody["decision_id"].(string)
	record(dataID, obsWant{endpoint: "data", requestID: "obs-data", decision: true, index: -1, path: "pdp/authz/decision",
		input: map[string]any{
			"subject":  map[string]any{"type": "user", "id": "dave"},
			"action":   map[string]any{"name": "document.view"},
			"resource": map[string]any{"type": "document", "id": "doc-42", "properties": obsField(maskedInput, "resource", "properties")},
			"context":  maskedInput["context"],
		}})

	// Forward authentication: the decision id is in X-Pdp-Decision-Id; the
	// collaborators come from X-Pdp-Collaborators and are masked too.
	fr := srv.Get(t, "/v1/forward-auth", "X-Original-Method", "GET", "X-Original-URI", wsPath+"/documents/d1",
		"X-User", "dave", "X-Pdp-Owner", "carol", "X-Pdp-Collaborators", "dave=view", "X-Request-ID", "obs-forward")
	if fr.Status != 200 || fr.Header.Get("X-Pdp-Revision") != rev {
		t.Fatalf("forward-auth: %d %v %s", fr.Status, fr.Header, fr.Body)
	}
	var fbody struct{ Reasons []any }
	if err := json.Unmarshal(fr.Body, &fbody); err != nil {
		t.Fatal(err)
	}
	record(fr.Header.Get("X-Pdp-Decision-Id"), obsWant{endpoint: "forward_auth", requestID: "obs-forward", subjectID: "dave", action: "document.view",
		resourceType: "document", resourceID: "d1", decision: true, reasons: fbody.Reasons, index: -1, path: "GET " + wsPath + "/documents/d1"})

	// Requests that decide nothing log nothing.
	if r := srv.Post(t, "/access/v1/evaluation", `{"subject":{"type":"user","id":"dave"}}`); r.Status != 400 {
		t.Errorf("invalid request: %d", r.Status)
	}
	if r := srv.Get(t, "/v1/forward-auth", "X-Original-Method", "GET", "X-Original-URI", wsPath); r.Status != 401 {
		t.Errorf("forward-auth without identity: %d", r.Status)
	}

	// A batch without include_context, one item invalid: the items carry
	// no decision ids (AuthZEN interop shape), so their entries are found
	// by request id; the invalid one's entry holds its error.
	eb := obsDocReq("dave", "", "carol")
	eb["evaluations"] = []any{
		map[string]any{"action": map[string]any{"name": "document.view"}},
		map[string]any{"action": map[string]any{"name": ""}},
	}
	ebr := srv.Post(t, "/access/v1/evaluations", eb, "X-Request-ID", "obs-batch-err")
	if ebr.Status != 200 {
		t.Fatalf("batch: %d %s", ebr.Status, ebr.Body)
	}
	if items, _ := ebr.JSON(t)["evaluations"].([]any); len(items) != 2 || !reflect.DeepEqual(items[0], map[string]any{"decision": true}) {
		t.Errorf("batch without include_context: %s", ebr.Body)
	}

	const total = 2 + 3 + 1 + 1 + 1 + 2
	entries := obsWaitLog(t, path, total)
	seen := map[string]bool{}
	var search map[string]any
	var batchErr []map[string]any
	for i, e := range entries {
		if e["logger"] != "decision" || e["msg"] != "decision" || e["level"] != "info" || e["revision"] != rev {
			t.Errorf("entry %d: %v", i, e)
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000Z0700", fmt.Sprint(e["time"])); err != nil {
			t.Errorf("entry %d: time: %v", i, err)
		}
		if d, ok := e["duration_us"].(float64); !ok || d < 0 || d != math.Trunc(d) {
			t.Errorf("entry %d: duration_us %v", i, e["duration_us"])
		}
		if _, ok := e["reasons"].([]any); !ok {
			t.Errorf("entry %d: reasons %v is not an array", i, e["reasons"])
		}
		if e["endpoint"] == "search_action" {
			search = e
			continue
		}
		if e["request_id"] == "obs-batch-err" {
			batchErr = append(batchErr, e)
			continue
		}
		id, _ := e["decision_id"].(string)
		w, ok := want[id]
		if !ok || seen[id] {
			t.Errorf("entry %d: decision_id %q matches no answered decision (or twice): %v", i, id, e)
			continue
		}
		seen[id] = true
		obsCheckEntry(t, e, w)
	}
	if len(seen) != len(want) {
		t.Errorf("%d of %d decisions logged", len(seen), len(want))
	}
	if search == nil {
		t.Fatal("no search_action entry")
	}
	if id, _ := search["decision_id"].(string); len(id) != 36 || want[id].endpoint != "" {
		t.Errorf("search entry decision_id %v", search["decision_id"])
	}
	obsCheckEntry(t, search, obsWant{endpoint: "search_action", requestID: "obs-search", subjectID: "dave", resourceType: "document", resourceID: "doc-42",
		decision: true, reasons: []any{}, index: -1, results: searchResults, input: maskedInput})
	if len(batchErr) != 2 {
		t.Fatalf("%d entries for the batch with an invalid item, want 2", len(batchErr))
	}
	obsCheckEntry(t, batchErr[0], obsWant{endpoint: "evaluations", requestID: "obs-batch-err", subjectID: "dave", action: "document.view",
		resourceType: "document", resourceID: "doc-42", decision: true, index: 0, input: maskedInput})
	// The invalid item's entry: a deny with its error (and whatever could
	// be read of the request, not checked here).
	if e := batchErr[1]; e["endpoint"] != "evaluations" || e["index"] != 1.0 || e["decision"] != false ||
		obsField(e, "error", "code") != "invalid_request" || !strings.Contains(fmt.Sprint(obsField(e, "error", "message")), "action.name") {
		t.Errorf("the invalid batch item's entry: %v", e)
	}
	for _, e := range batchErr {
		if id, _ := e["decision_id"].(string); len(id) != 36 || seen[id] || e["decision_id"] == batchErr[0]["decision_id"] && e["index"] != 0.0 {
			t.Errorf("batch entry decision_id %v", e["decision_id"])
		}
	}

	raw, err := os.ReadFile(path)
	check0(t, err)
	for _, secret := range []string{"10.1.2.3", `"dave":"view"`, "dave=view"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the decision log holds the masked value %s", secret)
		}
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm()&0o077 != 0 {
		t.Errorf("decision log mode: %v %v", st.Mode(), err)
	}
	if n := len(srv.Logs.FilterLoggerName("decision").All()); n != 0 {
		t.Errorf("%d decision entries on the process log", n)
	}

	// /v1/status shows the log's state (an entry is counted once its write
	// returns, a moment after it can be read from the file).
	var dl map[string]any
	pdptest.Eventually(t, 5*time.Second, "status decision_log counting every entry", func() bool {
		dl, _ = obsStatus(t, srv)["decision_log"].(map[string]any)
		return dl["entries_written"] == float64(total)
	})
	if dl["destination"] != path || !reflect.DeepEqual(dl["masked_paths"], []any{obsMask[0], obsMask[1]}) ||
		dl["entries_written"] != float64(total) || dl["errors"] != 0.0 || dl["last_error"] != nil {
		t.Errorf("status decision_log: %v", dl)
	}
}

// obsCheckEntry compares one decision log entry with what it must hold.
func obsCheckEntry(t *testing.T, e map[string]any, w obsWant) {
	t.Helper()
	str := func(key, want string) {
		t.Helper()
		got, present := e[key]
		if want == "" {
			if present {
				t.Errorf("%s entry %v: %s = %v, want none", w.endpoint, e["decision_id"], key, got)
			}
			return
		}
		if got != want {
			t.Errorf("%s entry %v: %s = %v, want %q", w.endpoint, e["decision_id"], key, got, want)
		}
	}
	str("endpoint", w.endpoint)
	str("request_id", w.requestID)
	str("subject.id", w.subjectID)
	str("action", w.action)
	str("resource.type", w.resourceType)
	str("resource.id", w.resourceID)
	if w.subjectID != "" {
		str("subject.type", "user")
	}
	if p, _ := e["path"].(string); p != w.path {
		t.Errorf("%s entry: path %q, want %q", w.endpoint, p, w.path)
	}
	if e["decision"] != w.decision {
		t.Errorf("%s entry %v: decision %v, want %v", w.endpoint, e["decision_id"], e["decision"], w.decision)
	}
	if w.reasons != nil && !reflect.DeepEqual(e["reasons"], w.reasons) {
		t.Errorf("%s entry %v: reasons %v, want %v", w.endpoint, e["decision_id"], e["reasons"], w.reasons)
	}
	if idx, ok := e["index"]; w.index < 0 && ok || w.index >= 0 && idx != float64(w.index) {
		t.Errorf("%s entry %v: index %v, want %d", w.endpoint, e["decision_id"], idx, w.index)
	}
	if w.results != nil && !reflect.DeepEqual(e["results"], w.results) {
		t.Errorf("%s entry: results %v, want %v", w.endpoint, e["results"], w.results)
	}
	if w.input != nil && !reflect.DeepEqual(e["input"], w.input) {
		t.Errorf("%s entry %v: input\n%v\nwant\n%v", w.endpoint, e["decision_id"], e["input"], w.input)
	}
	if in, ok := e["input"].(map[string]any); ok && w.endpoint == "forward_auth" {
		// The route table puts X-Pdp-Collaborators in the resource's properties.
		res, _ := in["resource"].(map[string]any)
		props, _ := res["properties"].(map[string]any)
		if props["collaborators"] != "***" || props["owner"] != "carol" {
			t.Errorf("forward_auth entry input %v: collaborators not masked or owner missing", in)
		}
	}
	errObj, hasErr := e["error"].(map[string]any)
	if (w.errCode != "") != hasErr || hasErr && errObj["code"] != w.errCode {
		t.Errorf("%s entry %v: error %v, want code %q", w.endpoint, e["decision_id"], e["error"], w.errCode)
	}
}

// obsField is v[keys[0]][keys[1]]...; nil when any is missing.
func obsField(v any, keys ...string) any {
	for _, k := range keys {
		o, _ := v.(map[string]any)
		v = o[k]
	}
	return v
}

func obsStr(v any) string {
	s, _ := v.(string)
	return s
}

func check0(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// With --decision-log off decisions are still answered and counted, but
// no entry is written anywhere: no file (not even one named "off"), no
// decision logger on the process log; /v1/status says so.
func TestObservabilityDecisionLogOff(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir) // a destination mistaken for a relative file name would land here
	cfg := pdptest.Config(t)
	cfg.DecisionLog = "off"
	cfg.DecisionLogMask = obsMask
	srv := pdptest.Start(t, cfg)
	before := obsScrape(t, srv.Client, srv.URL)

	for range 3 {
		if r := srv.Post(t, "/access/v1/evaluation", obsDocReq("dave", "document.view", "carol"), "X-Request-ID", "off-1"); r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	}
	b := obsDocReq("dave", "", "carol")
	b["evaluations"] = []any{map[string]any{"action": map[string]any{"name": "document.view"}}, map[string]any{"action": map[string]any{"name": "document.edit"}}}
	if r := srv.Post(t, "/access/v1/evaluations", b); r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if r := srv.Post(t, "/v1/data/pdp/authz/decision", map[string]any{"input": obsDocReq("dave", "document.view", "carol")}); r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}

	after := obsScrape(t, srv.Client, srv.URL)
	if d := obsDelta(before, after, "pdp_decisions_total", "endpoint", "evaluation", "decision", "allow"); d != 3 {
		t.Errorf("log off: %v evaluation allows counted, want 3", d)
	}
	if d := obsDelta(before, after, "pdp_decisions_total", "endpoint", "evaluations", "decision", "deny"); d != 1 {
		t.Errorf("log off: %v evaluations denies counted, want 1", d)
	}
	if v := obsValue(after, "pdp_decision_log_errors_total"); v != 0 {
		t.Errorf("pdp_decision_log_errors_total %v", v)
	}
	// The shipped policy runs wholly on the vm: nothing left to OPA's evaluator.
	if _, ok := after["pdp_vm_left_to_opa_total"]; !ok || obsValue(after, "pdp_vm_left_to_opa_total") != 0 {
		t.Errorf("pdp_vm_left_to_opa_total: present %v, value %v; want 0", ok, obsValue(after, "pdp_vm_left_to_opa_total"))
	}
	dl, _ := obsStatus(t, srv)["decision_log"].(map[string]any)
	if !reflect.DeepEqual(dl, map[string]any{"destination": "off", "masked_paths": []any{obsMask[0], obsMask[1]}, "entries_written": 0.0, "errors": 0.0}) {
		t.Errorf("status decision_log: %v", dl)
	}
	if n := len(srv.Logs.FilterLoggerName("decision").All()); n != 0 {
		t.Errorf("%d decision entries on the process log", n)
	}
	srv.Stop(t) // a flush on shutdown must not write anything either
	ents, err := os.ReadDir(dir)
	check0(t, err)
	if len(ents) != 0 {
		t.Errorf("the log off wrote %v", ents)
	}
}

// logrotate: rename the file, send SIGUSR1, and entries go to a new file
// at the configured path; the renamed file keeps what was written before.
func TestObservabilityDecisionLogReopenOnSIGUSR1(t *testing.T) {
	// Keep SIGUSR1 from killing the test binary whatever the timing: the
	// sidecar registers its handler when Run starts, which pdptest.Start
	// calls on another goroutine, and a signal arriving before that would
	// take the default action (exit).
	signal.Notify(make(chan os.Signal, 1), syscall.SIGUSR1)

	dir := t.TempDir()
	path := filepath.Join(dir, "decisions.log")
	cfg := pdptest.Config(t)
	cfg.DecisionLog = path
	srv := pdptest.Start(t, cfg)
	decide := func(reqID string) string {
		t.Helper()
		return obsStr(obsContext(t, srv.Post(t, "/access/v1/evaluation", obsDocReq("dave", "document.view", "carol"), "X-Request-ID", reqID))["decision_id"])
	}
	ids := func(entries []map[string]any) []any {
		var out []any
		for _, e := range entries {
			out = append(out, e["decision_id"])
		}
		return out
	}

	first := decide("rot-1")
	obsWaitLog(t, path, 1)
	check0(t, os.Rename(path, path+".1"))
	between := decide("rot-2") // still written to the renamed file, as by any logger before reopening
	obsWaitLog(t, path+".1", 2)

	polls := 0
	pdptest.Eventually(t, 10*time.Second, "the decision log reopened on SIGUSR1", func() bool {
		if polls%50 == 0 {
			check0(t, syscall.Kill(os.Getpid(), syscall.SIGUSR1))
		}
		polls++
		_, err := os.Stat(path)
		return err == nil
	})
	after := decide("rot-3")
	if got := ids(obsWaitLog(t, path, 1)); !reflect.DeepEqual(got, []any{after}) {
		t.Errorf("the new file holds %v, want [%s]", got, after)
	}
	if got := ids(obsReadLog(t, path+".1")); !reflect.DeepEqual(got, []any{first, between}) {
		t.Errorf("the rotated file holds %v, want [%s %s]", got, first, between)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm()&0o077 != 0 {
		t.Errorf("reopened file mode: %v %v", st.Mode(), err)
	}
	pdptest.Eventually(t, 5*time.Second, "the reopen logged", func() bool {
		return srv.Logs.FilterMessage("SIGUSR1: decision log reopened").Len() > 0
	})
	// The writer counts an entry once its write returns, a moment after the
	// entry can be read from the file.
	var dl map[string]any
	pdptest.Eventually(t, 5*time.Second, "status decision_log counting 3 entries", func() bool {
		dl, _ = obsStatus(t, srv)["decision_log"].(map[string]any)
		return dl["entries_written"] == 3.0
	})
	if dl["errors"] != 0.0 {
		t.Errorf("status decision_log: %v", dl)
	}
}

// obsScrape gets base+"/metrics" in the Prometheus text format and parses it.
func obsScrape(t *testing.T, client *http.Client, base string) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	check0(t, err)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := client.Do(req)
	check0(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s/metrics: %d %s", base, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("/metrics Content-Type %q", ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// obsMetric returns the series of family name whose labels are exactly
// the given name, value pairs; nil when there is none.
func obsMetric(fams map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, m := range fams[name].GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		for _, l := range m.GetLabel() {
			if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
				continue next
			}
		}
		return m
	}
	return nil
}

// obsValue is a series' value: a counter's or gauge's value, a histogram's
// sample count; 0 when the series does not exist.
func obsValue(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	m := obsMetric(fams, name, labels...)
	switch {
	case m == nil:
		return 0
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return math.NaN()
}

func obsDelta(before, after map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	return obsValue(after, name, labels...) - obsValue(before, name, labels...)
}

// obsCopyTree copies the repository's policies and data to a temp dir.
func obsCopyTree(t *testing.T) (policies, data string) {
	t.Helper()
	root := t.TempDir()
	policies, data = filepath.Join(root, "policies"), filepath.Join(root, "data")
	check0(t, os.CopyFS(policies, os.DirFS(filepath.Join(pdptest.RepoRoot(), "policies"))))
	check0(t, os.CopyFS(data, os.DirFS(filepath.Join(pdptest.RepoRoot(), "data"))))
	return policies, data
}

// obsReplace replaces p through a dot-named temporary file (which the
// loader skips) and a rename, as editors and config management do.
func obsReplace(t *testing.T, p string, body []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".tmp")
	check0(t, os.WriteFile(tmp, body, 0o644))
	check0(t, os.Rename(tmp, p))
}

func TestObservabilityMetrics(t *testing.T) {
	policies, data := obsCopyTree(t)
	cfg := pdptest.Config(t)
	cfg.Policies, cfg.Data = policies, data
	srv := pdptest.Start(t, cfg)
	st := obsStatus(t, srv)
	rev, _ := st["revision"].(string)
	if !strings.HasPrefix(rev, "sha256:") {
		t.Fatalf("status: %v", st)
	}

	before := obsScrape(t, srv.Client, srv.URL)
	// Every request below is counted by route pattern and status code...
	wantHTTP := map[[2]string]float64{{"/metrics", "200"}: 1} // the scrape above is counted once answered
	// ...and every decision by endpoint and decision; the duration
	// histogram counts decision requests (a batch once).
	wantDecisions := map[[2]string]float64{}
	wantDurations := map[string]float64{}
	do := func(method, path, route string, body any, headers ...string) pdptest.Response {
		t.Helper()
		r := srv.Do(t, method, path, body, headers...)
		wantHTTP[[2]string{route, fmt.Sprint(r.Status)}]++
		return r
	}
	decided := func(endpoint string, allow bool) {
		d := "deny"
		if allow {
			d = "allow"
		}
		wantDecisions[[2]string{endpoint, d}]++
	}

	for _, tc := range []struct {
		user, action string
		allow        bool
	}{{"dave", "document.view", true}, {"carol", "document.view", true}, {"dave", "document.edit", false}, {"mallory", "document.view", false}} {
		r := do("POST", "/access/v1/evaluation", "/access/v1/evaluation", obsDocReq(tc.user, tc.action, "carol"))
		if r.Status != 200 || r.JSON(t)["decision"] != tc.allow {
			t.Fatalf("%s %s: %d %s", tc.user, tc.action, r.Status, r.Body)
		}
		decided("evaluation", tc.allow)
		wantDurations["evaluation"]++
	}
	if r := do("POST", "/access/v1/evaluation", "/access/v1/evaluation", `{"subject":{"type":"user","id":"dave"}}`); r.Status != 400 {
		t.Fatalf("invalid request: %d", r.Status)
	}

	// A batch: allow, deny, and an invalid item (a deny counted as "error").
	b := obsDocReq("dave", "", "carol")
	b["evaluations"] = []any{
		map[string]any{"action": map[string]any{"name": "document.view"}},
		map[string]any{"action": map[string]any{"name": "document.edit"}},
		map[string]any{"action": map[string]any{"name": ""}},
	}
	br := do("POST", "/access/v1/evaluations", "/access/v1/evaluations", b)
	if br.Status != 200 {
		t.Fatalf("batch: %d %s", br.Status, br.Body)
	}
	var bres struct {
		Evaluations []struct {
			Decision bool
			Context  *struct{ Error *struct{ Code string } }
		}
	}
	check0(t, json.Unmarshal(br.Body, &bres))
	if len(bres.Evaluations) != 3 || !bres.Evaluations[0].Decision || bres.Evaluations[1].Decision || bres.Evaluations[2].Context == nil || bres.Evaluations[2].Context.Error == nil {
		t.Fatalf("batch: %s", br.Body)
	}
	decided("evaluations", true)
	decided("evaluations", false)
	wantDecisions[[2]string{"evaluations", "error"}]++
	wantDurations["evaluations"]++
	// Without an evaluations array, /evaluations decides once (AuthZEN 1.0).
	if r := do("POST", "/access/v1/evaluations", "/access/v1/evaluations", obsDocReq("dave", "document.view", "carol")); r.Status != 200 || r.JSON(t)["decision"] != true {
		t.Fatalf("batch as single: %d %s", r.Status, r.Body)
	}
	decided("evaluations", true)
	wantDurations["evaluations"]++

	// Searches count once each: an allow when they found anything.
	sa := do("POST", "/access/v1/search/action", "/access/v1/search/action", map[string]any{
		"subject": map[string]any{"type": "user", "id": "dave"}, "resource": obsDocReq("dave", "", "carol")["resource"]})
	if sa.Status != 200 {
		t.Fatalf("search action: %d %s", sa.Status, sa.Body)
	}
	saResults, _ := sa.JSON(t)["results"].([]any)
	decided("search_action", len(saResults) > 0)
	wantDurations["search_action"]++
	ss := do("POST", "/access/v1/search/subject", "/access/v1/search/subject", map[string]any{
		"subject": map[string]any{"type": "user"}, "action": map[string]any{"name": "document.view"}, "resource": obsDocReq("dave", "", "carol")["resource"]})
	if ss.Status != 200 {
		t.Fatalf("search subject: %d %s", ss.Status, ss.Body)
	}
	ssResults, _ := ss.JSON(t)["results"].([]any)
	decided("search_subject", len(ssResults) > 0)
	wantDurations["search_subject"]++

	// The Data API: an allowing decision document, and a plain value.
	if r := do("POST", "/v1/data/pdp/authz/decision", "/v1/data/*path", map[string]any{"input": obsDocReq("dave", "document.view", "carol")}); r.Status != 200 {
		t.Fatalf("data: %d %s", r.Status, r.Body)
	}
	decided("data", true)
	wantDurations["data"]++
	if r := do("GET", "/v1/data/accounts/acme/owner", "/v1/data/*path", nil); r.Status != 200 || r.JSON(t)["result"] != "alice" {
		t.Fatalf("data: %d %s", r.Status, r.Body)
	}
	decided("data", false)
	wantDurations["data"]++
	if r := do("PUT", "/v1/data", "/v1/data", `{}`); r.Status != 405 {
		t.Fatalf("PUT /v1/data: %d", r.Status)
	}

	// Forward authentication: allow, deny, Envoy style, and no identity
	// (answered 401, not a decision).
	orig := func(method, uri string) []string { return []string{"X-Original-Method", method, "X-Original-URI", uri} }
	for _, tc := range []struct {
		method, path, route string
		headers             []string
		status              int
	}{
		{"GET", "/v1/forward-auth", "/v1/forward-auth", append(orig("GET", "/accounts/acme/billing"), "X-User", "alice"), 200},
		{"GET", "/v1/forward-auth", "/v1/forward-auth", append(orig("GET", "/accounts/acme/billing"), "X-User", "dave"), 403},
		{"PUT", "/v1/forward-auth" + wsPath + "/settings", "/v1/forward-auth/*original", []string{"X-User", "bob"}, 200},
		{"GET", "/v1/forward-auth", "/v1/forward-auth", orig("GET", "/accounts/acme/billing"), 401},
	} {
		if r := do(tc.method, tc.path, tc.route, nil, tc.headers...); r.Status != tc.status {
			t.Fatalf("forward-auth %v: %d, want %d (%s)", tc.headers, r.Status, tc.status, r.Header.Get("X-Pdp-Reason"))
		}
		if tc.status != 401 {
			decided("forward_auth", tc.status == 200)
			wantDurations["forward_auth"]++
		}
	}

	// No route: counted under "unmatched", never under its path.
	if r := do("GET", "/no/such/thing", "unmatched", nil); r.Status != 404 {
		t.Fatalf("404 expected: %d", r.Status)
	}
	if r := do("GET", "/health", "/health", nil); r.Status != 200 {
		t.Fatalf("health: %d", r.Status)
	}

	after := obsScrape(t, srv.Client, srv.URL)
	for _, e := range []string{"evaluation", "evaluations", "search_action", "search_subject", "data", "forward_auth"} {
		for _, d := range []string{"allow", "deny", "error"} {
			if got, want := obsDelta(before, after, "pdp_decisions_total", "endpoint", e, "decision", d), wantDecisions[[2]string{e, d}]; got != want {
				t.Errorf("pdp_decisions_total{endpoint=%q,decision=%q} moved by %v, want %v", e, d, got, want)
			}
		}
		if got, want := obsDelta(before, after, "pdp_decision_duration_seconds", "endpoint", e), wantDurations[e]; got != want {
			t.Errorf("pdp_decision_duration_seconds_count{endpoint=%q} moved by %v, want %v", e, got, want)
		}
	}
	if n := len(after["pdp_decisions_total"].GetMetric()); n != 18 {
		t.Errorf("pdp_decisions_total has %d series, want 6 endpoints x 3 decisions", n)
	}
	// Every HTTP series moved by exactly the requests made.
	seenHTTP := map[[2]string]bool{}
	for _, m := range after["pdp_http_requests_total"].GetMetric() {
		var k [2]string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "route":
				k[0] = l.GetValue()
			case "code":
				k[1] = l.GetValue()
			}
		}
		seenHTTP[k] = true
		if got := obsDelta(before, after, "pdp_http_requests_total", "route", k[0], "code", k[1]); got != wantHTTP[k] {
			t.Errorf("pdp_http_requests_total{route=%q,code=%q} moved by %v, want %v", k[0], k[1], got, wantHTTP[k])
		}
		if strings.Contains(k[0], "no/such") {
			t.Errorf("a 404's path became a route label: %v", k)
		}
	}
	for k := range wantHTTP {
		if !seenHTTP[k] {
			t.Errorf("no pdp_http_requests_total{route=%q,code=%q}", k[0], k[1])
		}
	}

	// The histogram has sub-millisecond buckets and is consistent.
	h := obsMetric(after, "pdp_decision_duration_seconds", "endpoint", "evaluation").GetHistogram()
	subMs := 0
	for _, bk := range h.GetBucket() {
		if bk.GetUpperBound() < 1e-3 {
			subMs++
		}
		if bk.GetCumulativeCount() > h.GetSampleCount() {
			t.Errorf("bucket le=%v holds %d of %d samples", bk.GetUpperBound(), bk.GetCumulativeCount(), h.GetSampleCount())
		}
	}
	if subMs < 3 || h.GetSampleSum() <= 0 {
		t.Errorf("evaluation histogram: %d sub-millisecond buckets, sum %v", subMs, h.GetSampleSum())
	}

	// The snapshot: one info series, for the serving revision; its load time.
	obsCheckSnapshot(t, after, rev)
	loaded := obsValue(after, "pdp_snapshot_loaded_timestamp_seconds")
	loadedAt, err := time.Parse(time.RFC3339Nano, fmt.Sprint(st["loaded_at"]))
	check0(t, err)
	if math.Abs(loaded-float64(loadedAt.UnixNano())/1e9) > 1e-3 || time.Since(loadedAt) > time.Hour || time.Since(loadedAt) < 0 {
		t.Errorf("pdp_snapshot_loaded_timestamp_seconds %v, status loaded_at %v", loaded, loadedAt)
	}
	if v := obsMetric(after, "pdp_decision_log_errors_total"); v == nil || v.GetCounter().GetValue() != 0 {
		t.Errorf("pdp_decision_log_errors_total: %v", v)
	}
	// The Go runtime and process collectors.
	for _, name := range []string{"go_goroutines", "go_info", "go_memstats_alloc_bytes", "go_gc_duration_seconds",
		"process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds", "process_open_fds"} {
		if len(after[name].GetMetric()) == 0 {
			t.Errorf("no %s", name)
		}
	}
	for _, o := range []string{"ok", "failed", "unchanged"} {
		if obsMetric(after, "pdp_reloads_total", "outcome", o) == nil {
			t.Errorf("no pdp_reloads_total{outcome=%q} before any reload", o)
		}
	}

	// A reload: edit a data file; the ok counter moves by one and the info
	// metric switches to the new revision only.
	acmePath := filepath.Join(data, "accounts", "acme", "data.json")
	orig0, err := os.ReadFile(acmePath)
	check0(t, err)
	var acme map[string]any
	check0(t, json.Unmarshal(orig0, &acme))
	acme["name"] = "Acme Observed"
	edited, err := json.MarshalIndent(acme, "", "  ")
	check0(t, err)
	obsReplace(t, acmePath, edited)
	newSnap, err := policy.Build(context.Background(), policy.Sources{Policies: os.DirFS(policies), Data: os.DirFS(data)})
	check0(t, err)
	newRev := newSnap.Revision
	if newRev == rev {
		t.Fatal("the edit did not change the revision")
	}
	var cur map[string]*dto.MetricFamily
	pdptest.Eventually(t, 10*time.Second, "pdp_reloads_total{outcome=ok} to move and pdp_snapshot_info to show "+newRev, func() bool {
		cur = obsScrape(t, srv.Client, srv.URL)
		return obsDelta(after, cur, "pdp_reloads_total", "outcome", "ok") >= 1 && obsMetric(cur, "pdp_snapshot_info", "revision", newRev) != nil
	})
	if d := obsDelta(after, cur, "pdp_reloads_total", "outcome", "ok"); d != 1 {
		t.Errorf("pdp_reloads_total{outcome=ok} moved by %v for one edit", d)
	}
	if d := obsDelta(after, cur, "pdp_reloads_total", "outcome", "failed"); d != 0 {
		t.Errorf("pdp_reloads_total{outcome=failed} moved by %v", d)
	}
	obsCheckSnapshot(t, cur, newRev)
	if v := obsValue(cur, "pdp_snapshot_loaded_timestamp_seconds"); v <= loaded {
		t.Errorf("pdp_snapshot_loaded_timestamp_seconds %v did not move on from %v", v, loaded)
	}
	if got := obsContext(t, srv.Post(t, "/access/v1/evaluation", obsDocReq("dave", "document.view", "carol")))["revision"]; got != newRev {
		t.Errorf("decisions after the reload carry revision %v, want %s", got, newRev)
	}

	// A broken data file: the failed counter moves; the last good snapshot
	// keeps serving and stays the one reported.
	obsReplace(t, acmePath, []byte(`{"name": "Acme", "users": `))
	good := cur
	pdptest.Eventually(t, 10*time.Second, "pdp_reloads_total{outcome=failed} to move", func() bool {
		cur = obsScrape(t, srv.Client, srv.URL)
		return obsDelta(good, cur, "pdp_reloads_total", "outcome", "failed") >= 1
	})
	if d := obsDelta(good, cur, "pdp_reloads_total", "outcome", "ok"); d != 0 {
		t.Errorf("a broken file moved pdp_reloads_total{outcome=ok} by %v", d)
	}
	obsCheckSnapshot(t, cur, newRev)
	if v, w := obsValue(cur, "pdp_snapshot_loaded_timestamp_seconds"), obsValue(good, "pdp_snapshot_loaded_timestamp_seconds"); v != w {
		t.Errorf("a failed reload moved pdp_snapshot_loaded_timestamp_seconds from %v to %v", w, v)
	}
	if s := obsStatus(t, srv); s["revision"] != newRev || obsField(s, "last_reload", "ok") != false {
		t.Errorf("status after a failed reload: revision %v, last_reload %v", s["revision"], s["last_reload"])
	}

	// Putting the good file back rebuilds the serving revision: unchanged.
	broken := cur
	obsReplace(t, acmePath, edited)
	pdptest.Eventually(t, 10*time.Second, "pdp_reloads_total{outcome=unchanged} to move", func() bool {
		cur = obsScrape(t, srv.Client, srv.URL)
		return obsDelta(broken, cur, "pdp_reloads_total", "outcome", "unchanged") >= 1
	})
	if d := obsDelta(broken, cur, "pdp_reloads_total", "outcome", "ok"); d != 0 {
		t.Errorf("restoring the serving files moved pdp_reloads_total{outcome=ok} by %v", d)
	}
	obsCheckSnapshot(t, cur, newRev)
}

// obsCheckSnapshot checks that pdp_snapshot_info has one series, for rev, valued 1.
func obsCheckSnapshot(t *testing.T, fams map[string]*dto.MetricFamily, rev string) {
	t.Helper()
	ms := fams["pdp_snapshot_info"].GetMetric()
	if len(ms) != 1 || obsValue(fams, "pdp_snapshot_info", "revision", rev) != 1 {
		var got []string
		for _, m := range ms {
			got = append(got, m.String())
		}
		t.Errorf("pdp_snapshot_info: %v, want revision %s = 1 only", got, rev)
	}
}

// --metrics-addr and --pprof serve on their own listeners; pprof only on loopback.
func TestObservabilitySideServers(t *testing.T) {
	plain := pdptest.Start(t, pdptest.Config(t))
	if m, p := plain.App.SideAddr("metrics"), plain.App.SideAddr("pprof"); m != "" || p != "" {
		t.Errorf("side servers without the flags: metrics %q, pprof %q", m, p)
	}
	if r := plain.Get(t, "/debug/pprof/"); r.Status != 404 {
		t.Errorf("pprof on the API port without --pprof: %d", r.Status)
	}

	cfg := pdptest.Config(t)
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.PprofAddr = "127.0.0.1:0"
	srv := pdptest.Start(t, cfg)
	maddr, paddr := srv.App.SideAddr("metrics"), srv.App.SideAddr("pprof")
	if maddr == "" || paddr == "" || maddr == paddr || "http://"+maddr == srv.URL || "http://"+paddr == srv.URL {
		t.Fatalf("side addresses: metrics %q, pprof %q, API %s", maddr, paddr, srv.URL)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := client.Get(url)
		check0(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		check0(t, err)
		return resp.StatusCode, string(b)
	}

	// The metrics port serves the same registry as the API port.
	before := obsScrape(t, client, "http://"+maddr)
	if r := srv.Post(t, "/access/v1/evaluation", obsDocReq("dave", "document.view", "carol")); r.Status != 200 {
		t.Fatal(r.Status)
	}
	after := obsScrape(t, client, "http://"+maddr)
	if d := obsDelta(before, after, "pdp_decisions_total", "endpoint", "evaluation", "decision", "allow"); d != 1 {
		t.Errorf("metrics port: the decision moved pdp_decisions_total by %v", d)
	}
	if d := obsDelta(before, after, "pdp_http_requests_total", "route", "/metrics", "code", "200"); d != 0 {
		t.Errorf("scrapes of the metrics port counted as API requests: %v", d)
	}
	obsCheckSnapshot(t, after, fmt.Sprint(obsStatus(t, srv)["revision"]))
	if code, _ := get("http://" + maddr + "/v1/status"); code != 404 {
		t.Errorf("the metrics port serves the API: /v1/status %d", code)
	}
	if code, _ := get("http://" + maddr + "/debug/pprof/"); code != 404 {
		t.Errorf("the metrics port serves pprof: %d", code)
	}
	if r := srv.Get(t, "/metrics"); r.Status != 200 {
		t.Errorf("/metrics on the API port: %d", r.Status)
	}

	// pprof.
	if code, body := get("http://" + paddr + "/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("pprof index: %d %.200s", code, body)
	}
	if code, body := get("http://" + paddr + "/debug/pprof/goroutine?debug=1"); code != 200 || !strings.Contains(body, "goroutine profile") {
		t.Errorf("pprof goroutine: %d %.200s", code, body)
	}
	if code, _ := get("http://" + paddr + "/debug/pprof/cmdline"); code != 200 {
		t.Errorf("pprof cmdline: %d", code)
	}
	if code, _ := get("http://" + paddr + "/metrics"); code != 404 {
		t.Errorf("the pprof port serves metrics: %d", code)
	}
	if r := srv.Get(t, "/debug/pprof/"); r.Status != 404 {
		t.Errorf("pprof on the API port: %d", r.Status)
	}

	// Beyond loopback, --pprof is refused at start.
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "example.com:0"} {
		c := pdptest.Config(t)
		c.PprofAddr = addr
		a, err := app.New(context.Background(), c, zap.NewNop(), zap.NewAtomicLevel())
		if err == nil {
			t.Errorf("--pprof %s accepted (pprof at %q)", addr, a.SideAddr("pprof"))
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_ = a.Run(ctx)
			continue
		}
		if !strings.Contains(err.Error(), "loopback") {
			t.Errorf("--pprof %s: %v", addr, err)
		}
	}
}

// PUT /v1/log-level exists only with an admin token, needs it, and turns
// the Debug access log on and off at run time.
func TestObservabilityLogLevel(t *testing.T) {
	body := map[string]any{"level": "debug"}
	noAdmin := pdptest.StartLeveled(t, pdptest.Config(t))
	for _, m := range []string{"GET", "PUT"} {
		if r := noAdmin.Do(t, m, "/v1/log-level", body, "Authorization", "Bearer anything"); r.Status != 404 {
			t.Errorf("%s /v1/log-level without --admin-token-file: %d %s", m, r.Status, r.Body)
		}
	}

	tokenFile := filepath.Join(t.TempDir(), "admin-token")
	check0(t, os.WriteFile(tokenFile, []byte("adm1n-s3cret\n"), 0o600))
	cfg := pdptest.Config(t)
	cfg.AdminTokenFile = tokenFile
	srv := pdptest.StartLeveled(t, cfg)
	auth := []string{"Authorization", "Bearer adm1n-s3cret"}
	accessLines := func(reqID string) int {
		n := 0
		for _, e := range srv.Logs.FilterLoggerName("access").All() {
			if e.ContextMap()["request_id"] == reqID {
				n++
			}
		}
		return n
	}

	// At the default level (info) there is no access log.
	if r := srv.Get(t, "/v1/status", "X-Request-ID", "acc-info"); r.Status != 200 {
		t.Fatal(r.Status)
	}
	for _, tc := range []struct {
		name, method string
		headers      []string
		body         any
		status       int
	}{
		{"GET without a token", "GET", nil, nil, 401},
		{"PUT without a token", "PUT", nil, body, 401},
		{"PUT with a wrong token", "PUT", []string{"Authorization", "Bearer wrong"}, body, 401},
		{"PUT with the token not as bearer", "PUT", []string{"Authorization", "adm1n-s3cret"}, body, 401},
		{"an unknown level", "PUT", auth, map[string]any{"level": "verbose"}, 400},
		{"fatal is not settable", "PUT", auth, map[string]any{"level": "fatal"}, 400},
		{"no level", "PUT", auth, map[string]any{}, 400},
		{"level not a string", "PUT", auth, map[string]any{"level": 1}, 400},
	} {
		r := srv.Do(t, tc.method, "/v1/log-level", tc.body, tc.headers...)
		if r.Status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, r.Status, r.Body, tc.status)
		}
		if r.Status == 401 && r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", tc.name)
		}
	}
	if r := srv.Get(t, "/v1/log-level", auth...); r.Status != 200 || r.JSON(t)["level"] != "info" {
		t.Fatalf("GET /v1/log-level: %d %s (the refused PUTs must not have changed it)", r.Status, r.Body)
	}
	if n := len(srv.Logs.FilterLoggerName("access").All()); n != 0 {
		t.Errorf("%d access log lines at level info", n)
	}

	if r := srv.Do(t, "PUT", "/v1/log-level", body, auth...); r.Status != 200 || r.JSON(t)["level"] != "debug" {
		t.Fatalf("PUT debug: %d %s", r.Status, r.Body)
	}
	if r := srv.Get(t, "/v1/log-level", auth...); r.Status != 200 || r.JSON(t)["level"] != "debug" {
		t.Errorf("GET after PUT debug: %d %s", r.Status, r.Body)
	}
	if e := srv.Logs.FilterMessage("log level changed").All(); len(e) != 1 || e[0].ContextMap()["from"] != "info" || e[0].ContextMap()["to"] != "debug" {
		t.Errorf("level change logged as %v", e)
	}

	// At debug: one access line per request, with method, route, status and duration.
	srv.Post(t, "/access/v1/evaluation", obsDocReq("dave", "document.view", "carol"), "X-Request-ID", "acc-1")
	srv.Get(t, "/no/such/thing", "X-Request-ID", "acc-404")
	pdptest.Eventually(t, 5*time.Second, "access log lines", func() bool { return accessLines("acc-1") > 0 && accessLines("acc-404") > 0 })
	for _, e := range srv.Logs.FilterLoggerName("access").All() {
		f := e.ContextMap()
		if e.Level != zap.DebugLevel || e.Message != "request" || f["method"] == nil || f["status"] == nil || f["duration"] == nil {
			t.Errorf("access line %v %v", e.Entry, f)
		}
		switch f["request_id"] {
		case "acc-1":
			if f["method"] != "POST" || f["route"] != "/access/v1/evaluation" || f["status"] != int64(200) {
				t.Errorf("access line of an evaluation: %v", f)
			}
		case "acc-404":
			if f["method"] != "GET" || f["route"] != "" || f["path"] != "/no/such/thing" || f["status"] != int64(404) {
				t.Errorf("access line of a 404: %v", f)
			}
		}
	}
	if n := accessLines("acc-1") + accessLines("acc-404"); n != 2 {
		t.Errorf("%d access lines for 2 requests", n)
	}
	if accessLines("acc-info") != 0 {
		t.Error("a request made at level info was access-logged")
	}

	// Back to info: no more access lines. A request at debug made after
	// the one at info shows the log would have caught it.
	if r := srv.Do(t, "PUT", "/v1/log-level", map[string]any{"level": "INFO"}, auth...); r.Status != 200 || r.JSON(t)["level"] != "info" {
		t.Fatalf("PUT info: %d %s", r.Status, r.Body)
	}
	srv.Get(t, "/health", "X-Request-ID", "acc-quiet")
	srv.Do(t, "PUT", "/v1/log-level", body, auth...)
	srv.Get(t, "/health", "X-Request-ID", "acc-loud")
	pdptest.Eventually(t, 5*time.Second, "the access line of acc-loud", func() bool { return accessLines("acc-loud") == 1 })
	if accessLines("acc-quiet") != 0 {
		t.Error("a request made at level info was access-logged")
	}
	for _, e := range srv.Logs.All() {
		if strings.Contains(fmt.Sprint(e.Message, e.ContextMap()), "adm1n-s3cret") {
			t.Errorf("the admin token was logged: %v", e)
		}
	}

	// With an API token as well, each token opens its own endpoints only.
	apiFile := filepath.Join(t.TempDir(), "api-token")
	check0(t, os.WriteFile(apiFile, []byte("ap1-token"), 0o600))
	cfg.AuthTokenFile = apiFile
	both := pdptest.StartLeveled(t, cfg)
	api := []string{"Authorization", "Bearer ap1-token"}
	for _, tc := range []struct {
		name, method, path string
		headers            []string
		status             int
	}{
		{"log level with the API token", "PUT", "/v1/log-level", api, 401},
		{"log level with no token", "PUT", "/v1/log-level", nil, 401},
		{"log level with the admin token", "PUT", "/v1/log-level", auth, 200},
		{"status with the admin token", "GET", "/v1/status", auth, 401},
		{"status with the API token", "GET", "/v1/status", api, 200},
		{"metrics with no token", "GET", "/metrics", nil, 401},
	} {
		var b any
		if tc.method == "PUT" {
			b = body
		}
		if r := both.Do(t, tc.method, tc.path, b, tc.headers...); r.Status != tc.status {
			t.Errorf("API and admin tokens: %s: %d %s, want %d", tc.name, r.Status, r.Body, tc.status)
		}
	}
}

// /v1/status: uptime, revision, what the data holds, the last reload and
// the decision log.
func TestObservabilityStatus(t *testing.T) {
	cfg := pdptest.Config(t)
	srv := pdptest.Start(t, cfg)
	time.Sleep(20 * time.Millisecond)
	st := obsStatus(t, srv)
	rev := obsContext(t, srv.Post(t, "/access/v1/evaluation", obsDocReq("dave", "document.view", "carol")))["revision"]
	if st["revision"] != rev || !strings.HasPrefix(fmt.Sprint(rev), "sha256:") {
		t.Errorf("status revision %v, decisions %v", st["revision"], rev)
	}
	up, _ := st["uptime_seconds"].(float64)
	started, err := time.Parse(time.RFC3339Nano, fmt.Sprint(st["started_at"]))
	if up <= 0 || up > 600 || err != nil || time.Since(started) < time.Duration(up*float64(time.Second)) {
		t.Errorf("uptime_seconds %v, started_at %v (%v)", st["uptime_seconds"], st["started_at"], err)
	}
	policies, _ := st["policies"].([]any)
	dataFiles, _ := st["data"].([]any)
	if st["ready"] != true || st["loaded_at"] == nil || len(policies) == 0 || len(dataFiles) == 0 {
		t.Errorf("status: %v", st)
	}

	// The counts, from the shipped data files as read here.
	var want struct{ Accounts, Users, Workspaces, RoleGroups float64 }
	files, err := filepath.Glob(filepath.Join(cfg.Data, "accounts", "*", "data.json"))
	check0(t, err)
	if len(files) == 0 {
		t.Fatal("no accounts/*/data.json in the shipped data")
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		check0(t, err)
		var acct struct {
			Users      map[string]any `json:"users"`
			Workspaces map[string]any `json:"workspaces"`
			RoleGroups map[string]any `json:"role_groups"`
		}
		check0(t, json.Unmarshal(b, &acct))
		want.Accounts++
		want.Users += float64(len(acct.Users))
		want.Workspaces += float64(len(acct.Workspaces))
		want.RoleGroups += float64(len(acct.RoleGroups))
	}
	wantCounts := map[string]any{"accounts": want.Accounts, "users": want.Users, "workspaces": want.Workspaces, "role_groups": want.RoleGroups}
	if !reflect.DeepEqual(st["counts"], wantCounts) {
		t.Errorf("counts %v, want %v (from %d data files)", st["counts"], wantCounts, len(files))
	}

	// Reloads: none yet, then one (of unchanged files).
	if lr, ok := st["last_reload"]; !ok || lr != nil || st["reloads_ok"] != 0.0 || st["reloads_failed"] != 0.0 {
		t.Errorf("before any reload: last_reload %v, reloads_ok %v, reloads_failed %v", st["last_reload"], st["reloads_ok"], st["reloads_failed"])
	}
	check0(t, srv.App.Reloader().Reload(context.Background()))
	st2 := obsStatus(t, srv)
	lr, _ := st2["last_reload"].(map[string]any)
	at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(lr["at"]))
	if lr["ok"] != true || err != nil || time.Since(at) > time.Minute || st2["reloads_ok"] != 1.0 || st2["revision"] != rev {
		t.Errorf("after a reload: %v", st2)
	}
	if u2, _ := st2["uptime_seconds"].(float64); u2 <= up {
		t.Errorf("uptime_seconds went from %v to %v", up, u2)
	}

	dl, _ := st["decision_log"].(map[string]any)
	if !reflect.DeepEqual(dl, map[string]any{"destination": "off", "masked_paths": []any{}, "entries_written": 0.0, "errors": 0.0}) {
		t.Errorf("decision_log %v", dl)
	}
	if st["reload_watching"] != true {
		t.Errorf("reload_watching %v", st["reload_watching"])
	}
	// The collector's tuning (internal/gctune): --gc-headroom's bytes, and
	// a percentage that lets the live heap measured grow by the headroom
	// and by what a collection scans (within 1%: the three figures are
	// read one by one, and a collection may run between the reads).
	gc, _ := st["gc"].(map[string]any)
	percent, _ := gc["percent"].(float64)
	live, _ := gc["live_heap_bytes"].(float64)
	scan, _ := gc["scan_bytes"].(float64)
	headroom := float64(cfg.GCHeadroomMiB << 20)
	if gc["headroom_bytes"] != headroom || live <= 0 || scan <= 0 || gc["skipped"] != nil ||
		max(live, 4<<20)*percent/100 < 0.99*max(headroom, scan) {
		t.Errorf("gc %v, want headroom %d MiB tuned", gc, cfg.GCHeadroomMiB)
	}
	// The repository's policies run on package vm.
	if ev, _ := st["evaluator"].(map[string]any); !reflect.DeepEqual(ev, map[string]any{"configured": "vm", "serving": "vm", "left_to_opa": 0.0}) {
		t.Errorf("evaluator %v, want vm configured and serving", ev)
	}
}
