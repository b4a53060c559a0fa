package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pdp-sidecar/pdp/internal/config"
	"github.com/pdp-sidecar/pdp/internal/datagen"
	"github.com/pdp-sidecar/pdp/internal/pdptest"
	"github.com/pdp-sidecar/pdp/internal/policy"
	"github.com/pdp-sidecar/pdp/internal/testfs"
)

// The reload tests serve a small model of their own from temp dirs, so that
// they test reloading apart from the shipped role model: a member of a
// workspace is allowed, with the reason "<role> of <account name>", so a
// change to the account's name shows in decisions.
const (
	reloadAuthzRego = `package pdp.authz

workspace_permissions := {"documents.view_others"}

account_permissions := {"billing"}

builtin_roles := {"admin", "member"}

default decision := {"allow": false, "reasons": ["no role in this workspace"]}

decision := {"allow": true, "reasons": [sprintf("%s of %s", [role, data.accounts[a].name])]} if {
	a := input.resource.properties.account
	role := data.accounts[a].workspaces[input.resource.properties.workspace].members[input.subject.id]
}
`
	reloadAuthzTestRego = `package pdp.authz_test

import data.pdp.authz

test_bob_may_act if {
	authz.decision.allow with input as {"subject": {"id": "bob"}, "resource": {"properties": {"account": "acme", "workspace": "sales"}}}
}
`
	globexJSON = `{"name": "Globex", "owner": "hank", "users": {"hank": {}}}` + "\n"
)

// acmeAccount is account acme named name, with bob a member of sales.
func acmeAccount(name string) string {
	return fmt.Sprintf(`{"name": %q, "owner": "alice",
 "users": {"alice": {}, "bob": {}},
 "workspaces": {"sales": {"members": {"bob": "member"}}, "legal": {"members": {}}}}
`, name)
}

// reloadTree is a policies and a data directory holding the model.
type reloadTree struct{ policies, data string }

func newReloadTree(t *testing.T) reloadTree {
	t.Helper()
	tr := reloadTree{policies: filepath.Join(t.TempDir(), "policies"), data: filepath.Join(t.TempDir(), "data")}
	testfs.WriteAll(t, tr.policies, map[string]string{
		"pdp/authz/authz.rego":      reloadAuthzRego,
		"pdp/authz/authz_test.rego": reloadAuthzTestRego,
	})
	testfs.WriteAll(t, tr.data, map[string]string{
		"accounts/acme.json":   acmeAccount("Acme 0"),
		"accounts/globex.json": globexJSON,
	})
	return tr
}

func (tr reloadTree) path(rel string) string {
	if p, ok := strings.CutPrefix(rel, "policies/"); ok {
		return filepath.Join(tr.policies, filepath.FromSlash(p))
	}
	return filepath.Join(tr.data, filepath.FromSlash(strings.TrimPrefix(rel, "data/")))
}

// revision is what a snapshot built from the files as they are now is called.
func (tr reloadTree) revision(t *testing.T) string {
	t.Helper()
	s, err := policy.Build(context.Background(), policy.Sources{Policies: os.DirFS(tr.policies), Data: os.DirFS(tr.data)})
	if err != nil {
		t.Fatalf("the files do not build: %v", err)
	}
	return s.Revision
}

func startReload(t *testing.T, tr reloadTree, mutate func(*config.Config)) *pdptest.Server {
	t.Helper()
	cfg := pdptest.Config(t)
	cfg.Policies, cfg.Data = tr.policies, tr.data
	if mutate != nil {
		mutate(&cfg)
	}
	return pdptest.Start(t, cfg)
}

type reloadStatus struct {
	Revision   string `json:"revision"`
	LastReload *struct {
		At    time.Time `json:"at"`
		OK    bool      `json:"ok"`
		Error string    `json:"error"`
	} `json:"last_reload"`
	ReloadsOK     uint64 `json:"reloads_ok"`
	ReloadsFailed uint64 `json:"reloads_failed"`
}

func getStatus(t *testing.T, srv *pdptest.Server) reloadStatus {
	t.Helper()
	resp := srv.Get(t, "/v1/status")
	var st reloadStatus
	if resp.Status != 200 {
		t.Fatalf("/v1/status: %d %s", resp.Status, resp.Body)
	}
	if err := json.Unmarshal(resp.Body, &st); err != nil {
		t.Fatalf("/v1/status: %v\n%s", err, resp.Body)
	}
	return st
}

// bobInSales asks whether bob may act in acme's sales workspace.
func bobInSales(user string) map[string]any {
	return map[string]any{
		"subject":  map[string]any{"type": "user", "id": user},
		"action":   map[string]any{"name": "document.view"},
		"resource": map[string]any{"type": "document", "id": "d1", "properties": map[string]any{"account": "acme", "workspace": "sales"}},
	}
}

// waitServes waits until the files as they are now serve, then checks that
// decisions and the Data API see acme named name.
func waitServes(t *testing.T, srv *pdptest.Server, tr reloadTree, name string) string {
	t.Helper()
	want := tr.revision(t)
	pdptest.Eventually(t, 5*time.Second, "revision "+want, func() bool { return getStatus(t, srv).Revision == want })
	if name == "" {
		return want
	}
	d := srv.Post(t, "/access/v1/evaluation", bobInSales("bob")).JSON(t)
	ctx, _ := d["context"].(map[string]any)
	if d["decision"] != true || ctx["revision"] != want || !slices.Equal(toStrings(ctx["reasons"]), []string{"member of " + name}) {
		t.Errorf("decision on the new revision: %v", d)
	}
	if got := srv.Get(t, "/v1/data/accounts/acme/name").JSON(t)["result"]; got != name {
		t.Errorf("data.accounts.acme.name = %v, want %q", got, name)
	}
	return want
}

func toStrings(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// writeAtomically replaces p through a temporary file (whose dot name the
// loader skips) and a rename.
func writeAtomically(t *testing.T, p, body string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".tmp")
	testfs.WritePath(t, tmp, body)
	check(t, os.Rename(tmp, p))
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// configMapMount turns dir into what the kubelet mounts for a ConfigMap:
// the files in a "..<timestamp>" folder, "..data" linking to it, and one
// link per file through "..data".
func configMapMount(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	check(t, os.RemoveAll(dir))
	testfs.WriteAll(t, filepath.Join(dir, "..2026_x"), files)
	check(t, os.Symlink("..2026_x", filepath.Join(dir, "..data")))
	for name := range files {
		check(t, os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)))
	}
}

// configMapUpdate swaps the mount's content as the kubelet does: a new
// timestamped folder, a temporary link to it renamed over "..data", and
// the old folder removed.
func configMapUpdate(t *testing.T, dir, stamp string, files map[string]string) {
	t.Helper()
	old, err := os.Readlink(filepath.Join(dir, "..data"))
	check(t, err)
	testfs.WriteAll(t, filepath.Join(dir, stamp), files)
	check(t, os.Symlink(stamp, filepath.Join(dir, "..data_tmp")))
	check(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	check(t, os.RemoveAll(filepath.Join(dir, old)))
}

func TestReloadSituations(t *testing.T) {
	acme := "data/accounts/acme.json"
	cases := []struct {
		name   string
		setup  func(t *testing.T, tr reloadTree) // before the server starts
		change func(t *testing.T, tr reloadTree)
		// verify checks what the change did, once its revision serves;
		// by default, that acme is now called "Acme 1".
		verify func(t *testing.T, srv *pdptest.Server)
	}{
		{name: "in-place write", change: func(t *testing.T, tr reloadTree) {
			testfs.WritePath(t, tr.path(acme), acmeAccount("Acme 1"))
		}},
		{name: "truncate then write in chunks", change: func(t *testing.T, tr reloadTree) {
			f, err := os.OpenFile(tr.path(acme), os.O_WRONLY|os.O_TRUNC, 0)
			check(t, err)
			body := acmeAccount("Acme 1")
			for i := 0; i < len(body); i += 16 {
				_, err := f.WriteString(body[i:min(i+16, len(body))])
				check(t, err)
				check(t, f.Sync())
			}
			check(t, f.Close())
		}},
		{name: "write temp then mv", change: func(t *testing.T, tr reloadTree) {
			writeAtomically(t, tr.path(acme), acmeAccount("Acme 1"))
		}},
		{name: "vim-style rename save", change: func(t *testing.T, tr reloadTree) {
			// vim probes the folder, moves the original to a backup,
			// writes the new file and deletes the backup.
			probe := tr.path("data/accounts/4913")
			testfs.WritePath(t, probe, "")
			check(t, os.Remove(probe))
			check(t, os.Rename(tr.path(acme), tr.path(acme)+"~"))
			testfs.WritePath(t, tr.path(acme), acmeAccount("Acme 1"))
			check(t, os.Remove(tr.path(acme)+"~"))
		}},
		{name: "delete and recreate", change: func(t *testing.T, tr reloadTree) {
			check(t, os.Remove(tr.path(acme)))
			testfs.WritePath(t, tr.path(acme), acmeAccount("Acme 1"))
		}},
		{name: "new file in a new subfolder",
			change: func(t *testing.T, tr reloadTree) {
				testfs.WritePath(t, tr.path("data/extra/new/flag.json"), `{"on": true}`)
			},
			verify: func(t *testing.T, srv *pdptest.Server) {
				if got := srv.Get(t, "/v1/data/extra/new/flag/on").JSON(t)["result"]; got != true {
					t.Errorf("data.extra.new.flag.on = %v", got)
				}
			}},
		{name: "new policy file in a new subfolder",
			change: func(t *testing.T, tr reloadTree) {
				testfs.WritePath(t, tr.path("policies/pdp/extra/extra.rego"), "package pdp.extra\n\nanswer := 42\n")
			},
			verify: func(t *testing.T, srv *pdptest.Server) {
				if got := srv.Get(t, "/v1/data/pdp/extra/answer").JSON(t)["result"]; got != float64(42) {
					t.Errorf("data.pdp.extra.answer = %v", got)
				}
			}},
		{name: "configmap mount, ..data re-pointed",
			setup: func(t *testing.T, tr reloadTree) {
				configMapMount(t, tr.path("data/accounts"), map[string]string{"acme.json": acmeAccount("Acme 0"), "globex.json": globexJSON})
			},
			change: func(t *testing.T, tr reloadTree) {
				configMapUpdate(t, tr.path("data/accounts"), "..2026_y", map[string]string{"acme.json": acmeAccount("Acme 1"), "globex.json": globexJSON})
			}},
		{name: "removed data file",
			change: func(t *testing.T, tr reloadTree) { check(t, os.Remove(tr.path("data/accounts/globex.json"))) },
			verify: func(t *testing.T, srv *pdptest.Server) {
				if body := srv.Get(t, "/v1/data/accounts/globex").JSON(t); body["result"] != nil {
					t.Errorf("globex is still served: %v", body)
				}
				if got := srv.Get(t, "/v1/data/accounts/acme/name").JSON(t)["result"]; got != "Acme 0" {
					t.Errorf("acme changed: %v", got)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := newReloadTree(t)
			if tc.setup != nil {
				tc.setup(t, tr)
			}
			srv := startReload(t, tr, nil)
			before := getStatus(t, srv)
			if before.Revision != tr.revision(t) || before.LastReload != nil {
				t.Fatalf("start: %+v", before)
			}
			if got := srv.Get(t, "/v1/data/accounts/globex/name").JSON(t)["result"]; got != "Globex" {
				t.Fatalf("start: globex is %v", got)
			}
			tc.change(t, tr)
			name := "Acme 1"
			if tc.verify != nil {
				name = ""
			}
			now := waitServes(t, srv, tr, name)
			if now == before.Revision {
				t.Fatal("the revision did not change")
			}
			if tc.verify != nil {
				tc.verify(t, srv)
			}
			if st := getStatus(t, srv); st.LastReload == nil || !st.LastReload.OK || st.ReloadsOK == 0 {
				t.Errorf("status after the change: %+v", st)
			}
		})
	}
}

func TestReloadRejectsBrokenFiles(t *testing.T) {
	acme := "data/accounts/acme.json"
	authz := "policies/pdp/authz/authz.rego"
	cases := []struct {
		name         string
		requireTests bool
		file, body   string
		want         []string // in last_reload.error
		fix          string   // a good new version of file
	}{
		{name: "invalid json", file: acme, body: `{"name": "Acme", "owner": `,
			want: []string{"accounts/acme.json", "line 1"}, fix: acmeAccount("Acme fixed")},
		{name: "data rule: unknown workspace member", file: acme,
			body: strings.Replace(acmeAccount("Acme 1"), `"bob": "member"`, `"dave": "member"`, 1),
			want: []string{`accounts/acme.json: workspaces.sales.members.dave: unknown user "dave"`}, fix: acmeAccount("Acme fixed")},
		{name: "rego syntax error", file: authz, body: reloadAuthzRego + "\nbroken := {\n",
			want: []string{"pdp/authz/authz.rego:", "rego_parse_error"}, fix: reloadAuthzRego + "\n# fixed\n"},
		{name: "rego strict: unused import", file: authz,
			body: strings.Replace(reloadAuthzRego, "package pdp.authz\n", "package pdp.authz\n\nimport data.nothing\n", 1),
			want: []string{"pdp/authz/authz.rego:3", "import data.nothing unused"}, fix: reloadAuthzRego + "\n# fixed\n"},
		{name: "rego strict: unused local", file: authz, body: reloadAuthzRego + "\nodd if {\n\tx := 1\n\tinput.y\n}\n",
			want: []string{"pdp/authz/authz.rego:", "x unused"}, fix: reloadAuthzRego + "\n# fixed\n"},
		{name: "failing policy test under --reload-require-tests", requireTests: true, file: acme,
			body: strings.Replace(acmeAccount("Acme 1"), `"sales": {"members": {"bob": "member"}}, "legal": {"members": {}}`,
				`"sales": {"members": {}}, "legal": {"members": {"bob": "member"}}`, 1),
			want: []string{"pdp.authz_test.test_bob_may_act", "require-tests"}, fix: acmeAccount("Acme fixed")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := newReloadTree(t)
			srv := startReload(t, tr, func(c *config.Config) { c.ReloadRequireTests = tc.requireTests })
			before := getStatus(t, srv)

			// Replace the file in one step, so that no reload can see it
			// half-written and fail for another reason than tc's.
			writeAtomically(t, tr.path(tc.file), tc.body)
			var st reloadStatus
			pdptest.Eventually(t, 5*time.Second, "a failed reload", func() bool {
				st = getStatus(t, srv)
				return st.ReloadsFailed > before.ReloadsFailed
			})
			if st.Revision != before.Revision {
				t.Errorf("revision changed to %s after a broken file", st.Revision)
			}
			if st.LastReload == nil || st.LastReload.OK || st.LastReload.At.IsZero() {
				t.Fatalf("last_reload: %+v", st.LastReload)
			}
			for _, w := range tc.want {
				if !strings.Contains(st.LastReload.Error, w) {
					t.Errorf("last_reload.error does not contain %q:\n%s", w, st.LastReload.Error)
				}
			}
			if resp := srv.Get(t, "/health"); resp.Status != 200 {
				t.Errorf("/health %d while the last good snapshot serves", resp.Status)
			}
			d := srv.Post(t, "/access/v1/evaluation", bobInSales("bob")).JSON(t)
			if ctx, _ := d["context"].(map[string]any); d["decision"] != true || ctx["revision"] != before.Revision {
				t.Errorf("decision after a failed reload: %v", d)
			}
			warns := srv.Logs.FilterMessage("reload failed; the last good snapshot keeps serving").All()
			if len(warns) == 0 || warns[0].LoggerName != "reload" || warns[0].Level.String() != "warn" {
				t.Errorf("want a Warn from logger reload, got %+v", warns)
			}

			testfs.WritePath(t, tr.path(tc.file), tc.fix)
			name := ""
			if tc.file == acme {
				name = "Acme fixed"
			}
			if waitServes(t, srv, tr, name) == before.Revision {
				t.Error("the fix did not change the revision")
			}
			if st := getStatus(t, srv); st.LastReload == nil || !st.LastReload.OK {
				t.Errorf("last_reload after the fix: %+v", st.LastReload)
			}
		})
	}
}

// SIGHUP forces a reload; a reload of unchanged files keeps the revision.
func TestReloadSIGHUPAndNoOp(t *testing.T) {
	// Keep SIGHUP from killing the test binary whatever the timing: the
	// sidecar registers its own handler only once Run has started.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP)
	tr := newReloadTree(t)
	srv := startReload(t, tr, func(c *config.Config) {
		// The watcher stays quiet for the length of the test: only SIGHUP reloads.
		c.ReloadDebounce, c.ReloadMaxWait = time.Hour, time.Hour
	})
	before := getStatus(t, srv)
	testfs.WritePath(t, tr.path("data/accounts/acme.json"), acmeAccount("Acme 1"))
	want := tr.revision(t)
	polls := 0
	pdptest.Eventually(t, 5*time.Second, "a reload on SIGHUP", func() bool {
		if polls%20 == 0 {
			check(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
		}
		polls++
		return getStatus(t, srv).Revision == want
	})
	waitServes(t, srv, tr, "Acme 1")
	if before.Revision == want {
		t.Fatal("the change did not change the revision")
	}

	// No-op: files byte-identical to the serving snapshot.
	st := getStatus(t, srv)
	if err := srv.App.Reloader().Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := getStatus(t, srv)
	if after.Revision != st.Revision || after.ReloadsOK != st.ReloadsOK+1 || !after.LastReload.OK || !after.LastReload.At.After(st.LastReload.At) {
		t.Errorf("no-op reload: before %+v, after %+v", st, after)
	}
}

// The time from the last write to the new revision serving, with the
// default debounce (150 ms) and maximum wait (1 s).
func TestReloadLatency(t *testing.T) {
	tr := newReloadTree(t)
	srv := startReload(t, tr, func(c *config.Config) {
		d := config.Default()
		c.ReloadDebounce, c.ReloadMaxWait = d.ReloadDebounce, d.ReloadMaxWait
	})
	var samples []time.Duration
	for i := range 5 {
		testfs.WritePath(t, tr.path("data/accounts/acme.json"), acmeAccount(fmt.Sprintf("Acme %d", i+1)))
		wrote := time.Now()
		want := tr.revision(t)
		var took time.Duration
		pdptest.Eventually(t, 5*time.Second, "the new revision", func() bool {
			took = time.Since(wrote)
			return getStatus(t, srv).Revision == want
		})
		samples = append(samples, took)
	}
	slices.Sort(samples)
	t.Logf("last write -> new revision serving (debounce 150ms, max wait 1s): min %s, median %s, max %s",
		samples[0].Round(time.Millisecond), samples[len(samples)/2].Round(time.Millisecond), samples[len(samples)-1].Round(time.Millisecond))
	if samples[len(samples)-1] > time.Second {
		t.Errorf("a reload took %s, more than 1s", samples[len(samples)-1])
	}
}

// Clients decide continuously while the data is replaced over and over,
// with good and broken versions mixed: every answer is a 200 decided on a
// revision that was valid, and each batch on one revision.
func TestReloadUnderLoad(t *testing.T) {
	const (
		clients  = 4
		duration = 5 * time.Second
		every    = 30 * time.Millisecond // one replacement per tick
		good     = 5
	)
	tr := newReloadTree(t)
	acme := tr.path("data/accounts/acme.json")

	// The revisions the good versions build to, and the name each serves.
	nameOf := map[string]string{}
	bodies := make([]string, good)
	for i := range good {
		bodies[i] = acmeAccount(fmt.Sprintf("Acme %d", i))
		scratch := newReloadTree(t)
		testfs.WritePath(t, scratch.path("data/accounts/acme.json"), bodies[i])
		nameOf[scratch.revision(t)] = fmt.Sprintf("Acme %d", i)
	}
	broken := []string{
		`{"name": "Acme", "owner": `,
		strings.Replace(bodies[1], `"bob": "member"`, `"dave": "member"`, 1),
	}

	srv := startReload(t, tr, nil)
	if _, ok := nameOf[getStatus(t, srv).Revision]; !ok {
		t.Fatal("the first revision is not among the good ones")
	}

	single, _ := json.Marshal(bobInSales("bob"))
	batchReq := bobInSales("bob")
	batchReq["options"] = map[string]any{"include_context": true}
	batchReq["evaluations"] = []any{map[string]any{}, map[string]any{"subject": map[string]any{"type": "user", "id": "alice"}}, map[string]any{}, map[string]any{}}
	batch, _ := json.Marshal(batchReq)

	var requests, failures atomic.Int64
	seen := sync.Map{} // revision -> true
	fail := func(format string, args ...any) {
		if failures.Add(1) <= 10 {
			t.Errorf(format, args...)
		}
	}
	// checkItem verifies one decision for bob (alice's is a deny) and returns its revision.
	checkItem := func(item map[string]any, user string) string {
		ctx, _ := item["context"].(map[string]any)
		rev, _ := ctx["revision"].(string)
		name, ok := nameOf[rev]
		if !ok {
			fail("decision on revision %q, which was never valid: %v", rev, item)
			return rev
		}
		seen.Store(rev, true)
		want := []string{"member of " + name}
		if user == "alice" {
			want = []string{"no role in this workspace"}
		}
		if got := toStrings(ctx["reasons"]); !slices.Equal(got, want) {
			fail("revision %s (%s) answered %v, want %v", rev[:15], name, got, want)
		}
		return rev
	}
	post := func(path string, body []byte) (map[string]any, bool) {
		resp, err := srv.Client.Post(srv.URL+path, "application/json", bytes.NewReader(body))
		if err != nil {
			fail("%s: %v", path, err)
			return nil, false
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		requests.Add(1)
		if resp.StatusCode != http.StatusOK {
			fail("%s: status %d: %s", path, resp.StatusCode, raw)
			return nil, false
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			fail("%s: %v: %s", path, err, raw)
			return nil, false
		}
		return m, true
	}

	stop := time.Now().Add(duration)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := 0; time.Now().Before(stop); i++ {
				if (i+c)%2 == 0 {
					if m, ok := post("/access/v1/evaluation", single); ok {
						checkItem(m, "bob")
					}
					continue
				}
				m, ok := post("/access/v1/evaluations", batch)
				if !ok {
					continue
				}
				items, _ := m["evaluations"].([]any)
				if len(items) != 4 {
					fail("batch answered %d items: %v", len(items), m)
					continue
				}
				revs := map[string]bool{}
				for j, it := range items {
					item, _ := it.(map[string]any)
					user := "bob"
					if j == 1 {
						user = "alice"
					}
					revs[checkItem(item, user)] = true
				}
				if len(revs) != 1 {
					fail("one batch decided on %d revisions", len(revs))
				}
			}
		})
	}

	// Replace the file every tick: good versions (in place, or through a
	// temp file and a rename) and broken ones mixed.
	replaced := 0
	tick := time.NewTicker(every)
	for time.Now().Before(stop) {
		<-tick.C
		switch {
		case replaced%4 == 3:
			testfs.WritePath(t, acme, broken[(replaced/4)%len(broken)])
		case replaced%2 == 0:
			testfs.WritePath(t, acme, bodies[replaced%good])
		default:
			tmp := acme + ".tmp~"
			testfs.WritePath(t, tmp, bodies[replaced%good])
			check(t, os.Rename(tmp, acme))
		}
		replaced++
	}
	tick.Stop()
	wg.Wait()

	// The last version written may be broken: end on a good one.
	testfs.WritePath(t, acme, bodies[0])
	waitServes(t, srv, tr, "Acme 0")
	st := getStatus(t, srv)
	revisions := 0
	seen.Range(func(any, any) bool { revisions++; return true })
	t.Logf("%d requests by %d clients in %s while the data was replaced %d times: %d reloads ok, %d failed, %d revisions served",
		requests.Load(), clients, duration, replaced, st.ReloadsOK, st.ReloadsFailed, revisions)
	if replaced < 100 {
		t.Errorf("only %d replacements, want at least 100", replaced)
	}
	if st.ReloadsFailed == 0 || st.ReloadsOK == 0 || revisions < 2 {
		t.Errorf("the load did not exercise reloads: %+v, %d revisions served", st, revisions)
	}
}

// The shipped model reloads too.
func TestReloadShippedModel(t *testing.T) {
	root := pdptest.RepoRoot()
	src := policy.Sources{Policies: os.DirFS(filepath.Join(root, "policies")), Data: os.DirFS(filepath.Join(root, "data"))}
	if _, err := policy.Build(context.Background(), src); err != nil {
		t.Fatalf("the repository's policies and data do not build: %v", err)
	}
	tr := reloadTree{policies: filepath.Join(t.TempDir(), "policies"), data: filepath.Join(t.TempDir(), "data")}
	check(t, os.CopyFS(tr.policies, src.Policies))
	check(t, os.CopyFS(tr.data, src.Data))
	srv := startReload(t, tr, nil)
	before := getStatus(t, srv).Revision
	testfs.WritePath(t, tr.path("data/extra/reload_probe.json"), `{"probe": 1}`)
	if waitServes(t, srv, tr, "") == before {
		t.Fatal("the revision did not change")
	}
	if got := srv.Get(t, "/v1/data/extra/reload_probe/probe").JSON(t)["result"]; got != float64(1) {
		t.Errorf("probe = %v", got)
	}
}

// TestChangeDuringFirstBuildIsSeen rewrites a data file while the first
// snapshot is being built, after the build has read it: the sidecar must
// serve the new content soon after it starts (it watches the folders once
// serving, and then compares the files with what serves), not the content
// the build read.
func TestChangeDuringFirstBuildIsSeen(t *testing.T) {
	d := datagen.Generate(260, 100, 3) // a build of a few hundred ms
	dir := t.TempDir()
	if _, err := d.WriteIn(dir, datagen.FolderLayout); err != nil {
		t.Fatal(err)
	}
	policies := filepath.Join(pdptest.RepoRoot(), "policies")
	began := time.Now()
	if _, err := policy.Build(context.Background(), policy.Sources{Policies: os.DirFS(policies), Data: os.DirFS(dir)}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)

	// The account's owner becomes its second user, who may then create
	// workspaces (an owner-only action).
	acct := &d.Accounts[0]
	newOwner := acct.UserIDs[1]
	req := map[string]any{
		"subject":  map[string]any{"type": "user", "id": newOwner},
		"action":   map[string]any{"name": "account.create_workspace"},
		"resource": map[string]any{"type": "account", "id": acct.ID},
	}
	acct.Owner = newOwner
	files, err := d.FilesIn(datagen.FolderLayout)
	if err != nil {
		t.Fatal(err)
	}
	changed := make(chan error, 1)
	go func() {
		// Half-way through a build like the one above: the files are read
		// in its first fifth.
		time.Sleep(took / 2)
		// Written aside and renamed over: the build never reads half a file.
		p := filepath.Join(dir, filepath.FromSlash(files[0].Path))
		if err := os.WriteFile(p+".new", files[0].Raw, 0o644); err != nil {
			changed <- err
			return
		}
		changed <- os.Rename(p+".new", p)
	}()
	cfg := pdptest.Config(t)
	cfg.Data = dir
	cfg.DecisionCache = 0
	srv := pdptest.Start(t, cfg)
	if err := <-changed; err != nil {
		t.Fatal(err)
	}
	pdptest.Eventually(t, 10*time.Second, "the owner changed during the first build", func() bool {
		return srv.Post(t, "/access/v1/evaluation", req).JSON(t)["decision"] == true
	})
}

// TestReloadReleasesTheSnapshotItLeftOver reloads an idle sidecar holding a
// large snapshot, once with the files unchanged (SIGHUP) and once after a
// change: a few seconds after each, the heap must hold one snapshot, not
// the one the reload built or replaced as well, without any allocation or
// collection of the test's to bring that about.
func TestReloadReleasesTheSnapshotItLeftOver(t *testing.T) {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP) // see TestReloadSIGHUPAndNoOp
	d := datagen.Generate(260, 100, 3)
	dir := t.TempDir()
	size, err := d.WriteIn(dir, datagen.FolderLayout)
	if err != nil {
		t.Fatal(err)
	}
	cfg := pdptest.Config(t)
	cfg.Data = dir
	srv := pdptest.Start(t, cfg)
	time.Sleep(2 * time.Second) // the collection after the first build
	before := heapObjects()
	snapshot := 6 * uint64(size) // a snapshot keeps about seven times its data's bytes
	settled := func(what string) {
		t.Helper()
		pdptest.Eventually(t, 10*time.Second, what+": a heap of one snapshot", func() bool {
			return heapObjects() < before+snapshot/2
		})
	}

	reloads := getStatus(t, srv).ReloadsOK
	check(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	pdptest.Eventually(t, 10*time.Second, "the reload on SIGHUP", func() bool {
		st := getStatus(t, srv)
		return st.LastReload != nil && st.ReloadsOK > reloads
	})
	settled("after a reload of unchanged files")

	rev := getStatus(t, srv).Revision
	d.Accounts[0].Name = "renamed"
	files, err := d.FilesIn(datagen.FolderLayout)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, filepath.FromSlash(files[0].Path))
	check(t, os.WriteFile(p+".new", files[0].Raw, 0o644))
	check(t, os.Rename(p+".new", p))
	pdptest.Eventually(t, 10*time.Second, "the reload of the change", func() bool { return getStatus(t, srv).Revision != rev })
	settled("after a reload of a change")
}

// heapObjects is the bytes of the heap's objects, live or not yet collected.
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
