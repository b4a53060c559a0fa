// Package app is pdp's one composition root: it builds the logger, engine,
// reloader and router from a Config, and Run sets up the watcher,
// supervises them all and shuts them down in order. Tests start it
// in-process.
package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/pdp-sidecar/pdp"
	"github.com/pdp-sidecar/pdp/internal/config"
	"github.com/pdp-sidecar/pdp/internal/decisionlog"
	"github.com/pdp-sidecar/pdp/internal/engine"
	"github.com/pdp-sidecar/pdp/internal/gctune"
	"github.com/pdp-sidecar/pdp/internal/httpapi"
	"github.com/pdp-sidecar/pdp/internal/metrics"
	"github.com/pdp-sidecar/pdp/internal/policy"
	"github.com/pdp-sidecar/pdp/internal/reload"
	"github.com/pdp-sidecar/pdp/internal/watch"
)

// App is a started (listening) sidecar.
type App struct {
	cfg    config.Config
	level  zap.AtomicLevel
	log    *zap.Logger
	engine *engine.Engine
	srv    *http.Server
	ln     net.Listener
	// reloader is nil when serving the embedded defaults.
	reloader *reload.Reloader
	src      policy.Sources
	metrics  *metrics.Metrics
	dlog     *decisionlog.Logger
	gc       *gctune.Tuner
	first    *firstBuild // settled by Run
	watching atomic.Bool // the folders are watched (Run sets the watches up)
	settled  atomic.Bool // Run's start-up work beside serving is done (Settled)
	// side serves --metrics-addr and --pprof, each on its own listener.
	side []sideServer
}

type sideServer struct {
	name string
	srv  *http.Server
	ln   net.Listener
}

// Sources returns where cfg says policies and data come from.
func Sources(cfg config.Config) (policy.Sources, error) {
	if cfg.Embedded {
		p, err := fs.Sub(pdp.Defaults, "policies")
		if err != nil {
			return policy.Sources{}, err
		}
		d, err := fs.Sub(pdp.Defaults, "data")
		if err != nil {
			return policy.Sources{}, err
		}
		return policy.Sources{Policies: p, Data: d}, nil
	}
	return policy.Sources{Policies: os.DirFS(cfg.Policies), Data: os.DirFS(cfg.Data)}, nil
}

// New builds the first snapshot (an error names the broken file), then
// listens. The returned App serves once Run is called.
func New(ctx context.Context, cfg config.Config, log *zap.Logger, level zap.AtomicLevel) (_ *App, err error) {
	src, err := Sources(cfg)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	containerLimit := gctune.ContainerMemoryLimit(os.ReadFile)
	// Keep the collector's heap goal at the live heap plus --gc-headroom,
	// so a small snapshot is not collected every few hundred decisions
	// (internal/gctune; it retunes after every collection). It starts once
	// the first build settles.
	gc := gctune.New(uint64(cfg.GCHeadroomMiB)<<20, os.Getenv, containerLimit)
	defer func() {
		if err != nil {
			gc.Stop()
		}
	}()
	listing, err := policy.List(src)
	if err != nil {
		return nil, fmt.Errorf("load policies and data: %w", err)
	}
	first := prepareHeap(cfg, listing.DataBytes(), containerLimit, gc, log)
	policyFiles, dataFiles, err := listing.Read()
	// The role data is decoded into its compact store, unless OPA's
	// evaluator decides every request: it reads the data's AST faster.
	keepAST := engine.Evaluator(cfg.Evaluator) == engine.Topdown
	var snap *policy.Snapshot
	if err == nil {
		if keepAST {
			snap, err = policy.BuildFilesUncompacted(ctx, policyFiles, dataFiles)
		} else {
			snap, err = policy.BuildFiles(ctx, policyFiles, dataFiles)
		}
	}
	first.built()
	if err != nil {
		return nil, fmt.Errorf("load policies and data: %w", err)
	}
	if cfg.ReloadRequireTests {
		// The gate applies to the first snapshot too: a policy set whose own
		// tests fail is not served.
		rep, err := snap.RunTests(ctx, time.Minute)
		if err == nil {
			err = rep.Err()
		}
		if err != nil {
			return nil, fmt.Errorf("--reload-require-tests: %w", err)
		}
	}
	authToken, err := readToken(cfg.AuthTokenFile)
	if err != nil {
		return nil, err
	}
	adminToken, err := readToken(cfg.AdminTokenFile)
	if err != nil {
		return nil, err
	}
	m := metrics.New()
	m.SetSnapshot(snap.Revision, snap.LoadedAt)
	dlog, err := decisionlog.New(decisionlog.Config{Destination: cfg.DecisionLog, Mask: cfg.DecisionLogMask,
		OnError: m.DecisionLogErrors, Log: log})
	if err != nil {
		return nil, fmt.Errorf("--decision-log: %w", err)
	}
	eng := engine.New(cfg.DecisionTimeout, cfg.DecisionCache, engine.Evaluator(cfg.Evaluator))
	eng.Swap(snap)
	m.DecisionCache(func() (uint64, uint64, int) {
		st := eng.CacheStats()
		return st.Hits, st.Misses, st.Entries
	})
	m.LeftToOPA(func() uint64 { return eng.EvaluatorState().LeftToOPA })
	if st := eng.CacheStats(); !st.Enabled && cfg.DecisionCache > 0 {
		log.Warn("decision cache off", zap.String("reason", st.Disabled))
	}
	if st := eng.EvaluatorState(); st.Refused != "" {
		log.Warn("the decision rule stays on OPA's evaluator", zap.String("reason", st.Refused))
	}
	warnUnfolded(log, eng)
	where := "directories"
	if cfg.Embedded {
		where = "embedded defaults"
	}
	log.Info("snapshot loaded", zap.String("revision", snap.Revision), zap.String("source", where),
		zap.Strings("policies", snap.PolicyFiles), zap.Strings("data", snap.DataFiles),
		zap.Duration("build", time.Since(start)))

	a := &App{cfg: cfg, log: log, level: level, engine: eng, metrics: m, dlog: dlog, gc: gc, first: first, src: src}
	var reloadStatus func() reload.Status
	if !cfg.Embedded {
		a.reloader = reload.New(reload.Deps{Sources: src, Engine: eng, Log: log, RequireTests: cfg.ReloadRequireTests, KeepAST: keepAST,
			OnReload: func(outcome string, s *policy.Snapshot) {
				m.Reload(outcome)
				if s != nil {
					m.SetSnapshot(s.Revision, s.LoadedAt)
				}
				if outcome == metrics.ReloadOK {
					warnUnfolded(log, eng)
				}
				// Every reload leaves garbage, now or soon: the files it
				// read, when they were unchanged; the snapshot it built,
				// when they were broken; the previous one, once the
				// reloader and the requests in flight let it go. An idle
				// sidecar would keep it until enough allocation brought a
				// collection (at 100k users, 224 MiB after one reload and
				// 346 MiB after two, against 116): a moment later, collect
				// it and return its memory.
				time.AfterFunc(releaseDelay, releaseMemory)
			}})
		reloadStatus = a.reloader.Status
	}
	a.srv = &http.Server{
		Handler: httpapi.New(httpapi.Deps{
			Engine:    eng,
			Log:       log,
			BodyLimit: cfg.BodyLimit,
			MaxBatch:  cfg.MaxBatch,

			RequestTimeout: cfg.RequestTimeout,
			Started:        start,

			ReloadStatus: reloadStatus,
			ExtraStatus: func() map[string]any {
				return map[string]any{"decision_log": dlog.State(), "decision_cache": cacheState(eng.CacheStats()), "gc": gc.State(), "evaluator": evaluatorState(eng.EvaluatorState()), "reload_watching": a.watching.Load(), "role_data": roleDataState(eng.Snapshot())}
			},
			DecisionLog: dlog,
			Metrics:     m,
			AdminToken:  adminToken,
			Level:       &a.level,

			ForwardAuthUserHeader: cfg.ForwardAuthUserHeader,
			AuthToken:             authToken,
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
	if a.ln, err = listen(cfg, log); err != nil {
		a.closeAll()
		return nil, err
	}
	if cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", m.Handler())
		if err := a.addSide("metrics", cfg.MetricsAddr, mux); err != nil {
			a.closeAll()
			return nil, err
		}
	}
	if cfg.PprofAddr != "" {
		if host, _, _ := net.SplitHostPort(cfg.PprofAddr); !isLoopback(host) {
			a.closeAll()
			return nil, fmt.Errorf("--pprof %s: must be a loopback address", cfg.PprofAddr)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		if err := a.addSide("pprof", cfg.PprofAddr, mux); err != nil {
			a.closeAll()
			return nil, err
		}
	}
	return a, nil
}

func (a *App) addSide(name, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--%s listen on %s: %w", name, addr, err)
	}
	a.side = append(a.side, sideServer{name, &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}, ln})
	a.log.Info("serving "+name, zap.String("addr", ln.Addr().String()))
	return nil
}

// releaseDelay is how long after a reload the snapshot it left over is
// collected and its memory returned: longer than a decision, a batch or a
// search usually takes.
const releaseDelay = time.Second

// releaseMemory collects twice, then returns the free memory to the OS.
// Once is not enough after a build: what OPA's evaluator pooled while
// validating and preparing (sync.Pools, which a collection only empties
// into a victim cache that the next one drops) still reaches the data of
// the snapshot that build made.
func releaseMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}

// SideAddr is where the named side server (metrics, pprof) listens, or "".
func (a *App) SideAddr(name string) string {
	for _, s := range a.side {
		if s.name == name {
			return s.ln.Addr().String()
		}
	}
	return ""
}

// closeAll releases what New opened, when New fails part-way (New's own
// deferred Stop gives the collector back).
func (a *App) closeAll() {
	if a.ln != nil {
		a.ln.Close()
	}
	for _, s := range a.side {
		s.ln.Close()
	}
	_ = a.dlog.Close()
}

// Addr is where the app listens ("127.0.0.1:port" or the socket path).
func (a *App) Addr() string { return a.ln.Addr().String() }

// Engine exposes the engine (for tests and benchmarks).
func (a *App) Engine() *engine.Engine { return a.engine }

// Watching says whether the folders are watched: false when serving the
// embedded defaults, and until Run has set the watches up.
func (a *App) Watching() bool { return a.watching.Load() }

// Settled says whether Run has done its start-up work beside serving: the
// first build settled (its garbage collected, the collector tuned), the
// watches set up and the files compared with what serves (a reload
// triggered if they differ), or given up on that because Run stops.
func (a *App) Settled() bool { return a.settled.Load() }

// Reloader exposes the reloader (for tests); nil when serving the embedded defaults.
func (a *App) Reloader() *reload.Reloader { return a.reloader }

// Run serves until ctx is cancelled, then shuts down in order: stop
// accepting, let in-flight requests finish (bounded), flush logs.
func (a *App) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	// The watcher and reloader stop only after the HTTP server has.
	bgCtx, stopBackground := context.WithCancel(context.Background())
	defer stopBackground()
	// Beside serving: the first build settles (firstBuild.settle: the
	// garbage it left collected and returned to the OS, the collector given
	// back to the tuner), then the folders are watched. Setting up the
	// watches (one per folder, a thousand with one folder per account)
	// took 35-55 ms, which would otherwise delay being ready; reloads start
	// once the collector is tuned again. A watch that cannot be set up
	// stops pdp: Run returns the error, after pdp was ready.
	g.Go(func() error {
		defer a.settled.Store(true)
		a.first.settle()
		// gctx ends when shutting down (or when another part of Run
		// failed): then nothing more is set up.
		if a.reloader == nil || gctx.Err() != nil {
			return nil
		}
		w, err := watch.New([]string{a.cfg.Policies, a.cfg.Data}, a.cfg.ReloadDebounce, a.cfg.ReloadMaxWait, a.log.Named("watch"))
		if err != nil {
			return fmt.Errorf("hot reload: %w", err)
		}
		if gctx.Err() != nil {
			w.Close()
			return nil
		}
		g.Go(func() error { return w.Run(bgCtx) })
		g.Go(func() error { return a.reloader.Run(bgCtx, w.Changes()) })
		a.watching.Store(true)
		// A file changed after the first build read it and before its
		// folder was watched would otherwise go unnoticed until the next
		// change: what is on disk now is compared with what serves, once
		// the watches are in place.
		if changed, err := changedOnDisk(a.src, a.engine.Snapshot().Revision); err == nil && changed && gctx.Err() == nil {
			a.log.Info("the files changed since the first snapshot was read: reloading")
			a.reloader.Trigger()
		}
		return nil
	})
	if a.reloader != nil {
		g.Go(func() error {
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			for {
				select {
				case <-bgCtx.Done():
					return nil
				case <-hup:
					a.log.Info("SIGHUP: reloading policies and data")
					a.reloader.Trigger()
				}
			}
		})
	}
	// Registered here, not in the goroutine, so that once Run is called a
	// SIGUSR1 (logrotate's postrotate) reopens the decision log rather than
	// taking its default action, which kills the process.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	g.Go(func() error {
		defer signal.Stop(usr1)
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-usr1:
				if err := a.dlog.Reopen(); err != nil {
					a.log.Warn("decision log reopen failed", zap.Error(err))
				} else {
					a.log.Info("SIGUSR1: decision log reopened")
				}
			}
		}
	})
	for _, s := range a.side {
		g.Go(func() error {
			if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serve %s: %w", s.name, err)
			}
			return nil
		})
	}
	g.Go(func() error {
		a.log.Info("serving", zap.String("addr", a.Addr()))
		if err := a.srv.Serve(a.ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		a.log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
		defer cancel()
		if err := a.srv.Shutdown(sctx); err != nil {
			a.log.Warn("shutdown: in-flight requests cut off", zap.Error(err))
		}
		for _, s := range a.side {
			_ = s.srv.Shutdown(sctx)
		}
		stopBackground()
		return nil
	})
	err := g.Wait()
	a.gc.Stop()
	if cerr := a.dlog.Close(); cerr != nil {
		a.log.Warn("decision log flush failed", zap.Error(cerr))
	}
	if a.cfg.Socket != "" {
		_ = os.Remove(a.cfg.Socket)
	}
	_ = a.log.Sync()
	return err
}

func listen(cfg config.Config, log *zap.Logger) (net.Listener, error) {
	if cfg.Socket == "" {
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
		}
		if host, _, _ := net.SplitHostPort(cfg.Addr); !isLoopback(host) {
			log.Warn("listening beyond loopback: any host that reaches this address can ask for decisions; prefer 127.0.0.1 or --socket, or set --auth-token-file",
				zap.String("addr", ln.Addr().String()))
		}
		return ln, nil
	}
	// Remove a stale socket left by a previous run, but never a regular file.
	if st, err := os.Lstat(cfg.Socket); err == nil {
		if st.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("--socket %s: exists and is not a socket", cfg.Socket)
		}
		if err := os.Remove(cfg.Socket); err != nil {
			return nil, fmt.Errorf("remove stale socket %s: %w", cfg.Socket, err)
		}
	}
	ln, err := net.Listen("unix", cfg.Socket)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Socket, err)
	}
	if err := os.Chmod(cfg.Socket, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod %s: %w", cfg.Socket, err)
	}
	return ln, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// readToken reads a token file (surrounding white space trimmed); "" when no file is set.
func readToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return tok, nil
}

// warnUnfolded says which rules over the data the vm could not compute
// for the snapshot being served: decisions that need them take OPA's
// evaluator, much slower.
func warnUnfolded(log *zap.Logger, eng *engine.Engine) {
	if u := eng.EvaluatorState().Unfolded; len(u) > 0 {
		log.Warn("rules over the role data took too long to compute at snapshot build; decisions that need them are left to OPA's evaluator",
			zap.Strings("rules", u))
	}
}

// evaluatorState is the evaluator part of /v1/status.
func evaluatorState(st engine.EvaluatorState) map[string]any {
	out := map[string]any{"configured": st.Configured, "serving": st.Serving, "left_to_opa": st.LeftToOPA}
	if st.Refused != "" {
		out["vm_refused"] = st.Refused
	}
	if len(st.Unfolded) > 0 {
		out["vm_unfolded"] = st.Unfolded
	}
	return out
}

// roleDataState is how the serving snapshot holds its role data, for
// /v1/status: "compact" (internal/docstore, with its size) or "ast".
func roleDataState(s *policy.Snapshot) map[string]any {
	if n := s.CompactBytes(); n > 0 {
		return map[string]any{"form": "compact", "bytes": n}
	}
	return map[string]any{"form": "ast"}
}

func cacheState(st engine.CacheStats) map[string]any {
	out := map[string]any{"enabled": st.Enabled, "hits": st.Hits, "misses": st.Misses}
	if st.Enabled {
		out["entries"], out["capacity"] = st.Entries, st.Capacity
		out["route_entries"], out["route_hits"] = st.RouteEntries, st.RouteHits
	} else {
		out["disabled"] = st.Disabled
	}
	return out
}
