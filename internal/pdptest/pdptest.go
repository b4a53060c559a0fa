// Package pdptest starts the real sidecar in-process for tests, on a
// loopback port or a Unix socket, and talks HTTP to it.
package pdptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/pdp-sidecar/pdp/internal/app"
	"github.com/pdp-sidecar/pdp/internal/config"
)

// Server is a running sidecar.
type Server struct {
	URL    string // base URL, e.g. http://127.0.0.1:40123 (http://pdp for a socket)
	Client *http.Client
	App    *app.App
	Logs   *observer.ObservedLogs // everything the sidecar logged
	done   chan error
	stop   context.CancelFunc
}

// RepoRoot returns the repository root (where go.mod is).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Config returns a config for tests: the repository's policies and data,
// a free loopback port, and quick reloads.
func Config(t testing.TB) config.Config {
	cfg := config.Default()
	root := RepoRoot()
	cfg.Addr = "127.0.0.1:0"
	cfg.Policies = filepath.Join(root, "policies")
	cfg.Data = filepath.Join(root, "data")
	cfg.DecisionLog = "off"
	cfg.ReloadDebounce = 20 * time.Millisecond
	cfg.ReloadMaxWait = 200 * time.Millisecond
	cfg.ShutdownTimeout = 5 * time.Second
	// Generous: tests run on small shared machines, and only the tests of
	// the timeout itself should ever see a decision time out.
	cfg.DecisionTimeout = 2 * time.Second
	return cfg
}

// Start starts the sidecar with cfg and stops it when the test ends.
// Logs records everything the sidecar logs, Debug included, whatever the
// log level.
func Start(t testing.TB, cfg config.Config) *Server {
	t.Helper()
	return start(t, cfg, false)
}

// StartLeveled is Start with the process log filtered as in production:
// by a level that starts at cfg.LogLevel and that PUT /v1/log-level
// changes, so Logs holds only what the sidecar would have written.
func StartLeveled(t testing.TB, cfg config.Config) *Server {
	t.Helper()
	return start(t, cfg, true)
}

func start(t testing.TB, cfg config.Config, leveled bool) *Server {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("invalid test config: %v", err)
	}
	level := zap.NewAtomicLevelAt(zap.InfoLevel)
	var enab zapcore.LevelEnabler = zap.DebugLevel
	if leveled {
		var err error
		if level, err = zap.ParseAtomicLevel(cfg.LogLevel); err != nil {
			t.Fatalf("invalid test config: %v", err)
		}
		enab = level
	}
	core, logs := observer.New(enab)
	log := zap.New(core)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, log, level)
	if err != nil {
		cancel()
		t.Fatalf("start pdp: %v", err)
	}
	s := &Server{App: a, Logs: logs, done: make(chan error, 1), stop: cancel}
	if cfg.Socket != "" {
		sock := a.Addr()
		s.URL = "http://pdp"
		s.Client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
		}}
	} else {
		s.URL = "http://" + a.Addr()
		s.Client = &http.Client{Timeout: 10 * time.Second}
	}
	go func() { s.done <- a.Run(ctx) }()
	t.Cleanup(func() { s.Stop(t) })
	// Run settles the first build, sets the watches up and compares the
	// files with what serves beside serving: wait for that, so that a
	// test's change to the files is seen as a change, not as part of
	// start-up.
	deadline := time.Now().Add(20 * time.Second)
	for !a.Settled() {
		select {
		case err := <-s.done:
			s.stop, s.done = nil, nil
			cancel()
			t.Fatalf("pdp stopped before it settled: %v", err)
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("pdp did not settle within 20s")
		}
	}
	if !cfg.Embedded && !a.Watching() {
		t.Fatal("pdp settled without watching its folders")
	}
	return s
}

// Stop shuts the sidecar down and waits for Run to return (idempotent).
func (s *Server) Stop(t testing.TB) {
	if s.stop == nil {
		return
	}
	s.stop()
	s.stop = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("pdp exited with error: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("pdp did not shut down within 15s")
	}
}

// Response is a decoded HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object (status %d): %v\n%s", r.Status, err, r.Body)
	}
	return m
}

// Do sends method path with body (a string, []byte, or anything to marshal;
// nil for none) and returns the answer. Headers come in pairs.
func (s *Server) Do(t testing.TB, method, path string, body any, headers ...string) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("marshal request: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// Post is Do with POST.
func (s *Server) Post(t testing.TB, path string, body any, headers ...string) Response {
	t.Helper()
	return s.Do(t, http.MethodPost, path, body, headers...)
}

// Get is Do with GET.
func (s *Server) Get(t testing.TB, path string, headers ...string) Response {
	t.Helper()
	return s.Do(t, http.MethodGet, path, nil, headers...)
}

// Eventually polls cond every 10ms until it is true or the deadline passes.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
