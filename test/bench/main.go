// Command bench is pdp's performance benchmark: it generates role data and
// a realistic request mix, builds pdp, OPA (the version go.mod pins as a
// tool, i.e. `go tool opa`) and a Gin JSON-bind ceiling server, starts each
// in turn on loopback on the same files, loads it with the same HTTP load
// generator in interleaved rounds (pdp, opa, ceiling, pdp, opa, ceiling, …)
// and prints throughput, latency, memory and time to ready, with the
// ratios issue 6 sets targets for. It stops by itself.
//
//	go run ./test/bench                       # 1k users, 10s runs, 2 rounds (~2.5 min)
//	go run ./test/bench -users 100k -duration 5s
//	go run ./test/bench -users 100k -ready-only   # time to ready and idle RSS only
//	go run ./test/bench -users shipped -ready-only
//	go run ./test/bench -rego-profile 2000    # which Rego expressions a decision spends on
//
// See test/bench/README.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/pdp-sidecar/pdp/test/bench/load"
)

type config struct {
	users                     string
	accounts, usersPerAccount int
	requests                  int
	pool                      int
	zipf                      float64
	seed                      int64
	pdpFlags                  string

	servers      string
	rounds       int
	conns        int
	duration     time.Duration
	warmup       time.Duration
	rateDuration time.Duration
	batch        int
	verify       int
	readyOnly    bool
	readyTimeout time.Duration

	pprofDir    string
	regoProfile int
	keep        bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.users, "users", "1k", "dataset: 1k (10 accounts × 100 users), 100k (1,000 × 100) or shipped (the repository's data/)")
	fs.IntVar(&c.accounts, "accounts", 0, "generate this many accounts (overrides -users)")
	fs.IntVar(&c.usersPerAccount, "users-per-account", 100, "users per generated account (with -accounts)")
	fs.IntVar(&c.requests, "requests", 200000, "length of the request sequence each connection walks through (drawn from -pool)")
	fs.IntVar(&c.pool, "pool", 100000, "distinct requests in the mix")
	fs.Float64Var(&c.zipf, "zipf", 0.8, "popularity of the pool's requests in the sequence: Zipf exponent (0: uniform, each request as likely)")
	fs.StringVar(&c.pdpFlags, "pdp-flags", "", "extra pdp flags, space-separated (e.g. \"--decision-cache 0\")")
	fs.Int64Var(&c.seed, "seed", 1, "seed of the generated data and mix")
	fs.StringVar(&c.servers, "servers", "pdp,opa,ceiling", "servers to run, in this order each round")
	fs.IntVar(&c.rounds, "rounds", 2, "interleaved rounds")
	fs.IntVar(&c.conns, "c", 32, "concurrent keep-alive connections")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "length of each max-throughput run")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "unmeasured load before each server's runs")
	fs.DurationVar(&c.rateDuration, "rate-duration", 0, "length of each run at half of pdp's max throughput (default duration/2; 0s with -rate-duration=-1s to skip)")
	fs.IntVar(&c.batch, "batch", 10, "items per AuthZEN batch for the batch runs of pdp and the ceiling (0: no batch runs)")
	fs.IntVar(&c.verify, "verify", 500, "check that pdp and opa decide this many requests of the mix alike (first round)")
	fs.BoolVar(&c.readyOnly, "ready-only", false, "only start each server: time to ready and idle RSS, no load")
	fs.DurationVar(&c.readyTimeout, "ready-timeout", 2*time.Minute, "how long a server may take to become ready")
	fs.StringVar(&c.pprofDir, "pprof", "", "save pdp's CPU profile (first round's max-throughput run) and heap profile to this `dir`")
	fs.IntVar(&c.regoProfile, "rego-profile", 0, "profile this many decisions of the mix in process with OPA's expression profiler, print the costliest Rego lines, and exit")
	fs.IntVar(&regoProfileRows, "rego-profile-rows", regoProfileRows, "Rego lines -rego-profile prints")
	fs.BoolVar(&c.keep, "keep", false, "keep the work directory (data, binaries)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if c.rateDuration == 0 {
		c.rateDuration = c.duration / 2
	}
	if c.rounds < 1 || c.conns < 1 || c.duration <= 0 || c.requests < 1 || c.pool < 1 || c.zipf < 0 {
		fmt.Fprintln(stderr, "bench: -rounds, -c, -duration, -requests and -pool must be positive, -zipf not negative")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := bench(ctx, c, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	return 0
}

func bench(ctx context.Context, c config, stdout, stderr io.Writer) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", args...) }
	work, err := os.MkdirTemp("", "pdp-bench-")
	if err != nil {
		return err
	}
	if c.keep {
		logf("work directory %s (kept)", work)
	} else {
		defer os.RemoveAll(work)
	}

	var ds *dataset
	switch {
	case c.accounts > 0:
		ds, err = generated(work, c.accounts, c.usersPerAccount, c.pool, c.requests, c.zipf, c.seed)
	case c.users == "1k":
		ds, err = generated(work, 10, 100, c.pool, c.requests, c.zipf, c.seed)
	case c.users == "100k":
		ds, err = generated(work, 1000, 100, c.pool, c.requests, c.zipf, c.seed)
	case c.users == "shipped":
		ds, err = shipped(root)
	default:
		return fmt.Errorf("-users %q: want 1k, 100k or shipped (or -accounts N)", c.users)
	}
	if err != nil {
		return err
	}
	logf("dataset: %s, %d files, %.1f MiB in %s", ds.desc, ds.files, mib(ds.bytes), ds.dir)

	if c.regoProfile > 0 {
		return regoProfile(ctx, stdout, root, ds, c.regoProfile)
	}

	bin := filepath.Join(work, "bin")
	opaVersion := goListVersion(root, "github.com/open-policy-agent/opa")
	logf("building pdp, opa %s (go.mod's tool) and the ceiling server", opaVersion)
	for _, b := range []struct{ out, pkg string }{
		{"pdp", "./cmd/pdp"},
		{"opa", "github.com/open-policy-agent/opa"},
		{"ceiling", "./test/bench/ceiling"},
	} {
		if err := goBuild(ctx, root, filepath.Join(bin, b.out), b.pkg); err != nil {
			return err
		}
	}
	policies := filepath.Join(root, "policies")
	all := map[string]*spec{
		"pdp": {
			name: "pdp", bin: filepath.Join(bin, "pdp"),
			args: func(addr string) []string {
				return append([]string{"--addr", addr, "--policies", policies, "--data", ds.dir, "--decision-log", "off", "--log-level", "warn"},
					strings.Fields(c.pdpFlags)...)
			},
			path: "/access/v1/evaluation", body: same, batchPath: "/access/v1/evaluations",
		},
		"opa": {
			name: "opa", bin: filepath.Join(bin, "opa"),
			args: func(addr string) []string {
				return []string{"run", "--server", "--addr", addr, "--log-level", "error", "--skip-version-check",
					"--shutdown-grace-period", "1", policies, ds.dir}
			},
			path: "/v1/data/pdp/authz/decision", body: opaInput,
		},
		"ceiling": {
			name: "ceiling", bin: filepath.Join(bin, "ceiling"),
			args: func(addr string) []string { return []string{"-addr", addr} },
			path: "/access/v1/evaluation", body: same, batchPath: "/access/v1/evaluations",
		},
	}
	var order []*spec
	for _, name := range strings.Split(c.servers, ",") {
		s, ok := all[strings.TrimSpace(name)]
		if !ok {
			return fmt.Errorf("-servers: unknown server %q (want pdp, opa, ceiling)", name)
		}
		order = append(order, s)
	}

	r := &runner{c: c, ds: ds, logf: logf, batches: ds.batches(max(c.batch, 1))}
	r.env = environment(c, ds, opaVersion)
	for round := 1; round <= c.rounds; round++ {
		r.rate = 0
		for _, s := range order {
			m, err := r.measure(ctx, s, round)
			if err != nil {
				return err
			}
			r.results = append(r.results, m)
		}
	}
	r.env.loadAfter = loadavg()
	report(stdout, r)
	return nil
}

// runner runs the rounds and keeps what they measured.
type runner struct {
	c       config
	ds      *dataset
	logf    func(string, ...any)
	batches [][]byte
	env     env
	rate    float64 // this round's half of pdp's max throughput
	results []*measurement
	// decisions of the first -verify requests, by server, for the agreement check
	decisions map[string][]bool
}

// measurement is one server in one round.
type measurement struct {
	server  string
	round   int
	ready   time.Duration
	idleRSS int64

	max     *load.Result // closed loop, as fast as it answers
	maxCPU  time.Duration
	loadRSS int64 // largest VmRSS sampled during the max run
	hwm     int64 // VmHWM at the end of all runs

	rate   float64      // requests/s of the rate-limited run
	atRate *load.Result // open loop at rate

	batch *load.Result // AuthZEN batches of c.batch items, closed loop

	cache string // pdp: its decision cache's counters after the warm-up and max runs
}

// cacheState reads pdp's /v1/status decision_cache as a short phrase.
func cacheState(addr string) string {
	resp, err := http.Get("http://" + addr + "/v1/status")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	defer resp.Body.Close()
	var st struct {
		Cache struct {
			Enabled      bool
			Disabled     string
			Hits, Misses float64
			Entries      float64
		} `json:"decision_cache"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return "unknown (" + err.Error() + ")"
	}
	c := st.Cache
	if !c.Enabled {
		return "off: " + c.Disabled
	}
	return fmt.Sprintf("hit rate %.1f%% (%.0f hits, %.0f misses, %.0f entries)", 100*c.Hits/max(c.Hits+c.Misses, 1), c.Hits, c.Misses, c.Entries)
}

func (r *runner) measure(ctx context.Context, s *spec, round int) (*measurement, error) {
	c := r.c
	var extra []string
	var pprofAddr string
	if s.name == "pdp" && c.pprofDir != "" && round == 1 {
		var err error
		if pprofAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		extra = append(extra, "--pprof", pprofAddr)
	}
	p, err := start(ctx, s, extra, c.readyTimeout)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	m := &measurement{server: s.name, round: round, ready: p.ready}
	time.Sleep(250 * time.Millisecond)
	m.idleRSS, _, _ = p.memory()
	r.logf("round %d %s: ready in %s, idle RSS %.0f MiB", round, s.name, p.ready.Round(time.Millisecond), mib(m.idleRSS))
	if c.readyOnly {
		_, m.hwm, _ = p.memory()
		return m, nil
	}
	if round == 1 && c.verify > 0 && (s.name == "pdp" || s.name == "opa") {
		if err := r.record(p, min(c.verify, len(r.ds.bodies))); err != nil {
			return nil, err
		}
	}
	single := make([][]byte, len(r.ds.bodies))
	for i, b := range r.ds.bodies {
		single[i] = load.Request(s.path, s.body(b))
	}
	opts := load.Options{Addr: p.addr, Requests: single, Conns: c.conns}
	if c.warmup > 0 {
		opts.Duration = c.warmup
		if _, err := load.Run(ctx, opts); err != nil {
			return nil, err
		}
	}

	// As fast as it answers.
	opts.Duration = c.duration
	cpu0 := cpuTime(p)
	sample := p.sampleRSS()
	var profile func() error
	if pprofAddr != "" {
		profile = fetchProfileAsync(pprofAddr, c.pprofDir, c.duration)
	}
	if m.max, err = load.Run(ctx, opts); err != nil {
		return nil, err
	}
	m.loadRSS = sample()
	m.maxCPU = cpuTime(p) - cpu0
	if profile != nil {
		if err := profile(); err != nil {
			r.logf("pprof: %v", err)
		}
		if err := fetch("http://"+pprofAddr+"/debug/pprof/heap?gc=1", filepath.Join(c.pprofDir, "pdp-heap.pprof")); err != nil {
			r.logf("pprof: %v", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if m.max.OK == 0 {
		return nil, fmt.Errorf("%s answered nothing with 2xx: %v\n%s", s.name, m.max.FirstErr, p.out)
	}
	r.logf("round %d %s: %.0f decisions/s, p99 %s, %d failed, RSS %.0f MiB", round, s.name,
		m.max.Throughput(), m.max.Percentile(99), m.max.Failed, mib(m.loadRSS))
	if s.name == "pdp" {
		m.cache = cacheState(p.addr)
		r.logf("round %d pdp: decision cache %s", round, m.cache)
	}
	if s.name == "pdp" || r.rate == 0 {
		r.rate = m.max.Throughput() / 2
	}

	// At half of pdp's max throughput (this round's).
	if c.rateDuration > 0 {
		m.rate = r.rate
		opts.Duration, opts.Rate = c.rateDuration, r.rate
		if m.atRate, err = load.Run(ctx, opts); err != nil {
			return nil, err
		}
		r.logf("round %d %s: at %.0f/s p50 %s p99 %s (service p50 %s p99 %s)", round, s.name, m.rate, m.atRate.Percentile(50), m.atRate.Percentile(99),
			m.atRate.ServicePercentile(50), m.atRate.ServicePercentile(99))
	}

	// Batches.
	if c.batch > 0 && s.batchPath != "" {
		reqs := make([][]byte, len(r.batches))
		for i, b := range r.batches {
			reqs[i] = load.Request(s.batchPath, b)
		}
		bo := load.Options{Addr: p.addr, Requests: reqs, Conns: c.conns, Duration: max(c.duration/2, time.Second)}
		if m.batch, err = load.Run(ctx, bo); err != nil {
			return nil, err
		}
	}
	_, m.hwm, _ = p.memory()
	return m, ctx.Err()
}

// record asks p the first n requests of the mix one by one and keeps the decisions.
func (r *runner) record(p *proc, n int) error {
	if r.decisions == nil {
		r.decisions = map[string][]bool{}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	out := make([]bool, n)
	for i := range n {
		resp, err := client.Post("http://"+p.addr+p.spec.path, "application/json", strings.NewReader(string(p.spec.body(r.ds.bodies[i]))))
		if err != nil {
			return err
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answered %d to %s:\n%s", p.spec.name, resp.StatusCode, r.ds.bodies[i], raw)
		}
		var v struct {
			Decision *bool `json:"decision"`
			Result   *struct {
				Allow *bool `json:"allow"`
			} `json:"result"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("%s: %v in %s", p.spec.name, err, raw)
		}
		switch {
		case v.Decision != nil:
			out[i] = *v.Decision
		case v.Result != nil && v.Result.Allow != nil:
			out[i] = *v.Result.Allow
		default:
			return fmt.Errorf("%s gave no decision for %s: %s", p.spec.name, r.ds.bodies[i], raw)
		}
	}
	r.decisions[p.spec.name] = out
	return nil
}

// cpuTime is the user + system CPU time the process has used so far
// (/proc/<pid>/stat, in clock ticks of 10ms).
func cpuTime(p *proc) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	var utime, stime int64
	fmt.Sscan(fields[11], &utime)
	fmt.Sscan(fields[12], &stime)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// fetchProfileAsync starts a CPU profile over most of a run; the returned
// function waits for it and saves it.
func fetchProfileAsync(addr, dir string, d time.Duration) func() error {
	secs := max(int((d-time.Second)/time.Second), 1)
	done := make(chan error, 1)
	go func() {
		done <- fetch(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), filepath.Join(dir, "pdp-cpu.pprof"))
	}()
	return func() error { return <-done }
}

func fetch(url, file string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// env describes the run for the report.
type env struct {
	cpu, goVersion, opaVersion string
	cores                      int
	loadBefore, loadAfter      string
	when                       time.Time
}

func environment(c config, ds *dataset, opaVersion string) env {
	e := env{cpu: "unknown CPU", goVersion: runtime.Version(), opaVersion: opaVersion, cores: runtime.NumCPU(),
		loadBefore: loadavg(), when: time.Now().UTC()}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				e.cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	return e
}

func loadavg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
