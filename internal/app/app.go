// Package app is pdp's one composition root: it builds the logger, engine,
// reloader, watcher and router from a Config, and Run supervises them and
// shuts them down in order. Tests start it in-process.
package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/pdp-sidecar/pdp"
	"github.com/pdp-sidecar/pdp/internal/config"
	"github.com/pdp-sidecar/pdp/internal/engine"
	"github.com/pdp-sidecar/pdp/internal/httpapi"
	"github.com/pdp-sidecar/pdp/internal/policy"
)

// App is a started (listening) sidecar.
type App struct {
	cfg    config.Config
	level  zap.AtomicLevel
	log    *zap.Logger
	engine *engine.Engine
	srv    *http.Server
	ln     net.Listener
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
func New(ctx context.Context, cfg config.Config, log *zap.Logger, level zap.AtomicLevel) (*App, error) {
	src, err := Sources(cfg)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	snap, err := policy.Build(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("load policies and data: %w", err)
	}
	authToken, err := readToken(cfg.AuthTokenFile)
	if err != nil {
		return nil, err
	}
	eng := engine.New(cfg.DecisionTimeout)
	eng.Swap(snap)
	where := "directories"
	if cfg.Embedded {
		where = "embedded defaults"
	}
	log.Info("snapshot loaded", zap.String("revision", snap.Revision), zap.String("source", where),
		zap.Strings("policies", snap.PolicyFiles), zap.Strings("data", snap.DataFiles),
		zap.Duration("build", time.Since(start)))

	a := &App{cfg: cfg, log: log, level: level, engine: eng}
	a.srv = &http.Server{
		Handler: httpapi.New(httpapi.Deps{
			Engine:    eng,
			Log:       log,
			BodyLimit: cfg.BodyLimit,
			MaxBatch:  cfg.MaxBatch,
			Started:   start,

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
		return nil, err
	}
	return a, nil
}

// Addr is where the app listens ("127.0.0.1:port" or the socket path).
func (a *App) Addr() string { return a.ln.Addr().String() }

// Engine exposes the engine (for tests and benchmarks).
func (a *App) Engine() *engine.Engine { return a.engine }

// Run serves until ctx is cancelled, then shuts down in order: stop
// accepting, let in-flight requests finish (bounded), flush logs.
func (a *App) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
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
		return nil
	})
	err := g.Wait()
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
