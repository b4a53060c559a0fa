// Package config turns flags and PDP_* environment variables into a
// validated Config. Defaults -> environment -> flags -> Validate, at start-up only.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// Config is everything the sidecar is started with.
type Config struct {
	Addr     string // TCP listen address; ignored when Socket is set
	Socket   string // Unix socket path
	Policies string // policies directory
	Data     string // role data directory
	// Embedded is true when neither directory was named and the default
	// ./policies or ./data is missing: the sidecar then serves the copies
	// compiled into the binary (and has nothing to watch).
	Embedded bool

	LogLevel  string
	LogFormat string

	BodyLimit       int64
	MaxBatch        int
	DecisionCache   int    // entries; 0 turns the decision cache off
	GCHeadroomMiB   int    // heap growth the GC allows beyond the live heap; 0 leaves GOGC alone
	HugePages       bool   // advise transparent huge pages for the heap a large snapshot fills
	Evaluator       string // "vm" or "topdown": what evaluates the decision rule
	DecisionTimeout time.Duration
	RequestTimeout  time.Duration
	ShutdownTimeout time.Duration

	ReloadDebounce     time.Duration
	ReloadMaxWait      time.Duration
	ReloadRequireTests bool

	DecisionLog     string   // stdout, stderr, off or a file path
	DecisionLogMask []string // JSON paths replaced by "***"

	MetricsAddr    string
	PprofAddr      string
	AdminTokenFile string
	AuthTokenFile  string

	ForwardAuthUserHeader string
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Addr:                  "127.0.0.1:8181",
		Policies:              "policies",
		Data:                  "data",
		LogLevel:              "info",
		LogFormat:             "json",
		BodyLimit:             1 << 20,
		MaxBatch:              1000,
		DecisionCache:         10000,
		GCHeadroomMiB:         16,
		HugePages:             true,
		Evaluator:             "vm",
		DecisionTimeout:       100 * time.Millisecond,
		RequestTimeout:        5 * time.Second,
		ShutdownTimeout:       10 * time.Second,
		ReloadDebounce:        150 * time.Millisecond,
		ReloadMaxWait:         time.Second,
		DecisionLog:           "stdout",
		ForwardAuthUserHeader: "X-User",
	}
}

// Load applies PDP_* environment variables (looked up with getenv) and then
// command-line flags over Default(), and validates the result. Every problem
// is reported at once.
func Load(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	c := Default()
	fs := flag.NewFlagSet("pdp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mask string
	fs.StringVar(&c.Addr, "addr", c.Addr, "TCP address to listen on (`host:port`)")
	fs.StringVar(&c.Socket, "socket", c.Socket, "listen on this Unix socket `path` instead of TCP")
	fs.StringVar(&c.Policies, "policies", c.Policies, "policies `dir` (*.rego)")
	fs.StringVar(&c.Data, "data", c.Data, "role data `dir` (*.json, *.yaml)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "json or console")
	fs.Int64Var(&c.BodyLimit, "body-limit", c.BodyLimit, "largest request body in `bytes`")
	fs.IntVar(&c.MaxBatch, "max-batch", c.MaxBatch, "most items in one /access/v1/evaluations request")
	fs.IntVar(&c.DecisionCache, "decision-cache", c.DecisionCache, "decisions kept per policy revision, keyed by the complete input (0: off)")
	fs.IntVar(&c.GCHeadroomMiB, "gc-headroom", c.GCHeadroomMiB, "`MiB` the heap may grow beyond the live heap before the garbage collector runs (never less than the collector scans; 0, or the GOGC variable set, leaves the collector alone)")
	fs.BoolVar(&c.HugePages, "huge-pages", c.HugePages, "on Linux, ask for transparent huge pages for the heap the first build of a large role data set (4 MiB or more) fills, for that build only: fewer page faults while loading it, fewer TLB misses reading it")
	fs.StringVar(&c.Evaluator, "evaluator", c.Evaluator, "what evaluates the decision rule: vm (its compiled plan; a policy the vm cannot run stays on OPA's evaluator) or topdown (OPA's evaluator)")
	fs.DurationVar(&c.DecisionTimeout, "decision-timeout", c.DecisionTimeout, "deny a decision that takes longer")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", c.RequestTimeout, "longest a whole request (a batch, a search) may take: batch items not decided by then are denied, a search fails")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long in-flight requests may finish on shutdown")
	fs.DurationVar(&c.ReloadDebounce, "reload-debounce", c.ReloadDebounce, "quiet period after a file change before reloading")
	fs.DurationVar(&c.ReloadMaxWait, "reload-max-wait", c.ReloadMaxWait, "longest a stream of changes may postpone a reload")
	fs.BoolVar(&c.ReloadRequireTests, "reload-require-tests", c.ReloadRequireTests, "accept a new snapshot only when the *_test.rego tests pass")
	fs.StringVar(&c.DecisionLog, "decision-log", c.DecisionLog, "decision log: stdout, stderr, off or a file `path`")
	fs.StringVar(&mask, "decision-log-mask", strings.Join(c.DecisionLogMask, ","), "comma-separated JSON `paths` masked in decision logs")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "also serve /metrics on this address")
	fs.StringVar(&c.PprofAddr, "pprof", c.PprofAddr, "serve net/http/pprof on this loopback address (off when empty)")
	fs.StringVar(&c.AdminTokenFile, "admin-token-file", c.AdminTokenFile, "file holding the token for admin endpoints (PUT /v1/log-level)")
	fs.StringVar(&c.AuthTokenFile, "auth-token-file", c.AuthTokenFile, "when set, every endpoint but /health needs Authorization: Bearer <token from this file>")
	fs.StringVar(&c.ForwardAuthUserHeader, "forward-auth-user-header", c.ForwardAuthUserHeader, "header carrying the caller's user id for /v1/forward-auth")

	// Environment first, so flags override it: PDP_ADDR, PDP_LOG_LEVEL, ...
	var envErrs []error
	set := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		name := "PDP_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if err := f.Value.Set(v); err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s: %v", name, err))
			}
			set[f.Name] = true
		}
	})
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		envErrs = append(envErrs, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " ")))
	}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if mask != "" {
		c.DecisionLogMask = strings.Split(mask, ",")
	}
	// Neither directory named and the defaults are absent: serve the
	// embedded copies (go run ./cmd/pdp outside the repository root).
	if !set["policies"] && !set["data"] && !isDir(c.Policies) && !isDir(c.Data) {
		c.Embedded = true
	}
	return c, errors.Join(append(envErrs, c.Validate())...)
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Socket == "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			add("--addr %q: %v", c.Addr, err)
		}
	}
	if !c.Embedded {
		if !isDir(c.Policies) {
			add("--policies %q: not a directory", c.Policies)
		}
		if !isDir(c.Data) {
			add("--data %q: not a directory", c.Data)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "console":
	default:
		add("--log-format %q: want json or console", c.LogFormat)
	}
	if c.BodyLimit < 1024 {
		add("--body-limit %d: must be at least 1024", c.BodyLimit)
	}
	if c.GCHeadroomMiB < 0 || c.GCHeadroomMiB > 1<<20 {
		add("--gc-headroom %d: must be between 0 (off) and 1048576 MiB", c.GCHeadroomMiB)
	}
	switch c.Evaluator {
	case "vm", "topdown":
	default:
		add("--evaluator %q: want vm or topdown", c.Evaluator)
	}
	if c.DecisionCache < 0 {
		add("--decision-cache %d: must be 0 (off) or more", c.DecisionCache)
	}
	if c.MaxBatch < 1 {
		add("--max-batch %d: must be at least 1", c.MaxBatch)
	}
	if c.RequestTimeout <= 0 {
		add("--request-timeout %s: must be positive", c.RequestTimeout)
	}
	if c.DecisionTimeout <= 0 {
		add("--decision-timeout %s: must be positive", c.DecisionTimeout)
	}
	if c.ShutdownTimeout <= 0 {
		add("--shutdown-timeout %s: must be positive", c.ShutdownTimeout)
	}
	if c.ReloadDebounce <= 0 {
		add("--reload-debounce %s: must be positive", c.ReloadDebounce)
	}
	if c.ReloadMaxWait < c.ReloadDebounce {
		add("--reload-max-wait %s: must be at least --reload-debounce (%s)", c.ReloadMaxWait, c.ReloadDebounce)
	}
	if c.DecisionLog == "" {
		add("--decision-log: want stdout, stderr, off or a file path")
	}
	for _, p := range c.DecisionLogMask {
		if strings.TrimSpace(p) == "" {
			add("--decision-log-mask: empty path")
		}
	}
	for name, addr := range map[string]string{"--metrics-addr": c.MetricsAddr, "--pprof": c.PprofAddr} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			add("%s %q: %v", name, addr, err)
		}
	}
	for name, f := range map[string]string{"--admin-token-file": c.AdminTokenFile, "--auth-token-file": c.AuthTokenFile} {
		if f == "" {
			continue
		}
		if b, err := os.ReadFile(f); err != nil {
			add("%s: %v", name, err)
		} else if strings.TrimSpace(string(b)) == "" {
			add("%s %q: file is empty", name, f)
		}
	}
	if strings.TrimSpace(c.ForwardAuthUserHeader) == "" {
		add("--forward-auth-user-header: must not be empty")
	}
	return errors.Join(errs...)
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
