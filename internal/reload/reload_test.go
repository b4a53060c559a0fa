package reload

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/pdp-sidecar/pdp/internal/engine"
	"github.com/pdp-sidecar/pdp/internal/policy"
	"github.com/pdp-sidecar/pdp/internal/testfs"
)

// A small model: a member of a workspace is allowed, and the reason names
// the account (so a data change shows in decisions).
const (
	authzRego = `package pdp.authz

workspace_permissions := {"documents.view_others"}

account_permissions := {"billing"}

builtin_roles := {"admin", "member"}

default decision := {"allow": false, "reasons": ["no role in this workspace"]}

decision := {"allow": true, "reasons": [sprintf("%s of %s", [role, data.accounts[a].name])]} if {
	a := input.resource.properties.account
	role := data.accounts[a].workspaces[input.resource.properties.workspace].members[input.subject.id]
}
`
	authzTestRego = `package pdp.authz_test

import data.pdp.authz

test_bob_may_act if {
	authz.decision.allow with input as {"subject": {"id": "bob"}, "resource": {"properties": {"account": "acme", "workspace": "sales"}}}
}
`
	acmeJSON = `{"name": "Acme", "owner": "alice",
 "users": {"alice": {}, "bob": {}},
 "workspaces": {"sales": {"members": {"bob": "member"}}}}
`
)

type fixture struct {
	policies, data string
	eng            *engine.Engine
	logs           *observer.ObservedLogs
	mu             sync.Mutex
	outcomes       []string
}

// newFixture writes the model into temp dirs and serves its first snapshot.
func newFixture(t *testing.T, requireTests bool) (*fixture, *Reloader) {
	t.Helper()
	f := &fixture{policies: t.TempDir(), data: t.TempDir(), eng: engine.New(time.Second, 0, engine.VM)}
	testfs.Write(t, f.policies, "pdp/authz/authz.rego", authzRego)
	testfs.Write(t, f.policies, "pdp/authz/authz_test.rego", authzTestRego)
	testfs.Write(t, f.data, "accounts/acme.json", acmeJSON)
	src := policy.Sources{Policies: os.DirFS(f.policies), Data: os.DirFS(f.data)}
	snap, err := policy.Build(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	f.eng.Swap(snap)
	core, logs := observer.New(zap.DebugLevel)
	f.logs = logs
	r := New(Deps{Sources: src, Engine: f.eng, Log: zap.New(core), RequireTests: requireTests,
		OnReload: func(outcome string, s *policy.Snapshot) {
			if s == nil {
				t.Errorf("OnReload(%s) got no snapshot", outcome)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			f.outcomes = append(f.outcomes, outcome)
		}})
	return f, r
}

func (f *fixture) lastOutcome() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.outcomes) == 0 {
		return ""
	}
	return f.outcomes[len(f.outcomes)-1]
}

func (f *fixture) reloads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.outcomes)
}

func TestReloadSwapsInANewSnapshot(t *testing.T) {
	f, r := newFixture(t, false)
	old := f.eng.Snapshot()
	testfs.Write(t, f.data, "accounts/acme.json", strings.Replace(acmeJSON, `"Acme"`, `"Acme Inc."`, 1))
	if err := r.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	now := f.eng.Snapshot()
	if now == old || now.Revision == old.Revision {
		t.Fatalf("snapshot not swapped: %s", now.Revision)
	}
	st := r.Status()
	if st.ReloadsOK != 1 || st.ReloadsFailed != 0 || st.LastReload == nil || !st.LastReload.OK || st.LastReload.Error != "" {
		t.Errorf("status %+v", st)
	}
	if f.lastOutcome() != OutcomeOK {
		t.Errorf("outcome %q", f.lastOutcome())
	}
	if got := f.logs.FilterMessage("reloaded").Len(); got != 1 {
		t.Errorf("%d 'reloaded' log lines", got)
	}
}

func TestReloadOfIdenticalFilesIsANoOp(t *testing.T) {
	f, r := newFixture(t, false)
	old := f.eng.Snapshot()
	// Rewriting the same bytes (a touch, a ConfigMap resync) changes nothing.
	testfs.Write(t, f.data, "accounts/acme.json", acmeJSON)
	if err := r.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.eng.Snapshot() != old {
		t.Fatal("identical files swapped in a new snapshot")
	}
	if st := r.Status(); st.ReloadsOK != 1 || !st.LastReload.OK {
		t.Errorf("status %+v", st)
	}
	if f.lastOutcome() != OutcomeUnchanged {
		t.Errorf("outcome %q", f.lastOutcome())
	}
}

func TestReloadFailureKeepsTheLastGoodSnapshot(t *testing.T) {
	cases := []struct {
		name, root, file, body string
		want                   []string // in the error
	}{
		{"invalid json", "data", "accounts/acme.json", `{"name": "Acme",`, []string{"accounts/acme.json", "line 1"}},
		{"data rule broken", "data", "accounts/acme.json", strings.Replace(acmeJSON, `"bob": "member"`, `"dave": "member"`, 1),
			[]string{"accounts/acme.json", `workspaces.sales.members.dave: unknown user "dave"`}},
		{"rego syntax error", "policies", "pdp/authz/extra.rego", "package pdp.authz\n\nx := {\n", []string{"pdp/authz/extra.rego:"}},
		{"rego strict error", "policies", "pdp/authz/extra.rego", "package pdp.authz\n\nimport data.nothing\n\nx := 1\n", []string{"pdp/authz/extra.rego:3", "import"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, r := newFixture(t, false)
			old := f.eng.Snapshot()
			root := f.data
			if tc.root == "policies" {
				root = f.policies
			}
			testfs.Write(t, root, tc.file, tc.body)
			err := r.Reload(context.Background())
			if err == nil {
				t.Fatal("broken files accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
			if f.eng.Snapshot() != old {
				t.Fatal("a failed reload replaced the snapshot")
			}
			st := r.Status()
			if st.ReloadsFailed != 1 || st.ReloadsOK != 0 || st.LastReload.OK || st.LastReload.Error != err.Error() {
				t.Errorf("status %+v", st)
			}
			if f.lastOutcome() != OutcomeFailed {
				t.Errorf("outcome %q", f.lastOutcome())
			}
			warns := f.logs.FilterLevelExact(zapcore.WarnLevel).All()
			if len(warns) != 1 || warns[0].LoggerName != "reload" || !strings.Contains(warns[0].ContextMap()["error"].(string), tc.file) {
				t.Errorf("want one Warn from logger reload naming %s, got %+v", tc.file, warns)
			}
			// Putting the old file back (or removing the extra one) recovers.
			if tc.root == "policies" {
				if err := os.Remove(filepath.Join(root, tc.file)); err != nil {
					t.Fatal(err)
				}
			} else {
				testfs.Write(t, root, tc.file, acmeJSON)
			}
			if err := r.Reload(context.Background()); err != nil {
				t.Fatal(err)
			}
			if st := r.Status(); !st.LastReload.OK || st.ReloadsOK != 1 {
				t.Errorf("after the fix: %+v", st)
			}
		})
	}
}

func TestRequireTests(t *testing.T) {
	// bob is no longer in sales: the data is valid, but the policy test fails.
	moved := strings.Replace(acmeJSON, `"sales"`, `"legal"`, 1)
	t.Run("gate on: rejected, naming the test", func(t *testing.T) {
		f, r := newFixture(t, true)
		old := f.eng.Snapshot()
		testfs.Write(t, f.data, "accounts/acme.json", moved)
		err := r.Reload(context.Background())
		if err == nil || !strings.Contains(err.Error(), "pdp.authz_test.test_bob_may_act") {
			t.Fatalf("error %v, want the failing test named", err)
		}
		if f.eng.Snapshot() != old {
			t.Fatal("snapshot replaced")
		}
		testfs.Write(t, f.data, "accounts/acme.json", strings.Replace(acmeJSON, `"Acme"`, `"Acme 2"`, 1))
		if err := r.Reload(context.Background()); err != nil {
			t.Fatalf("passing tests still rejected: %v", err)
		}
	})
	t.Run("gate off: accepted", func(t *testing.T) {
		f, r := newFixture(t, false)
		testfs.Write(t, f.data, "accounts/acme.json", moved)
		if err := r.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// Requests that arrive during a build cause exactly one more build.
func TestRunCoalescesRequests(t *testing.T) {
	f, r := newFixture(t, false)
	inFirst, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hook := r.d.OnReload
	r.d.OnReload = func(outcome string, s *policy.Snapshot) {
		hook(outcome, s)
		once.Do(func() {
			close(inFirst)
			<-release // the first reload is still running (it holds the lock)
		})
	}
	changes := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, changes) }()
	defer cancel()

	changes <- struct{}{}
	<-inFirst
	for range 5 {
		r.Trigger()
		select {
		case changes <- struct{}{}:
		default:
		}
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for f.reloads() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d reloads, want 2", f.reloads())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The second build took every pending request: none is left for a third.
	if len(changes) != 0 || len(r.trigger) != 0 {
		t.Errorf("requests left after the second build: changes %d, trigger %d", len(changes), len(r.trigger))
	}
	cancel()
	<-done
	if n := f.reloads(); n != 2 {
		t.Errorf("%d reloads for 11 requests made during one build, want 2", n)
	}
}
