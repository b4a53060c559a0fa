package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/open-policy-agent/opa/v1/version"

	"github.com/pdp-sidecar/pdp/internal/config"
	"github.com/pdp-sidecar/pdp/internal/policy"
)

// Version is set at build time with -ldflags "-X github.com/pdp-sidecar/pdp/internal/app.Version=v1.2.3".
var Version = ""

// VersionString is what `pdp version` prints.
func VersionString() string {
	v := Version
	if v == "" {
		v = "devel"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	return fmt.Sprintf("pdp %s\nOPA %s", v, version.Version)
}

// DataCommand runs `pdp data validate DIR [--policies DIR]`: the same
// validation as start-up and reload, offline, for CI.
func DataCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "validate" {
		fmt.Fprintln(stderr, "usage: pdp data validate DIR [--policies DIR]")
		return 2
	}
	fs := flag.NewFlagSet("pdp data validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	policies := fs.String("policies", "", "policies `dir` whose catalogue the data is checked against (default: ./policies, else the embedded policies)")
	// Accept the directory before or after the flags.
	rest := args[1:]
	var dir string
	if len(rest) > 0 && rest[0] != "" && rest[0][0] != '-' {
		dir, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if dir == "" && fs.NArg() == 1 {
		dir = fs.Arg(0)
	} else if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: pdp data validate DIR [--policies DIR]")
		return 2
	}
	if dir == "" {
		fmt.Fprintln(stderr, "usage: pdp data validate DIR [--policies DIR]")
		return 2
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "pdp data validate: %s is not a directory\n", dir)
		return 2
	}
	cfg := config.Default()
	cfg.Data = dir
	switch {
	case *policies != "":
		cfg.Policies = *policies
	default:
		if st, err := os.Stat(cfg.Policies); err != nil || !st.IsDir() {
			cfg.Embedded = true
		}
	}
	src, err := Sources(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "pdp data validate: %v\n", err)
		return 1
	}
	src.Data = os.DirFS(dir)
	snap, err := policy.Build(ctx, src) // checked, never served
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "ok: %d files, %d accounts, %d users, %d workspaces, %d role groups (%s)\n",
		len(snap.DataFiles), snap.Stats.Accounts, snap.Stats.Users, snap.Stats.Workspaces, snap.Stats.RoleGroups, snap.Revision)
	return 0
}

// HealthCommand runs `pdp health [--addr A] [--socket S]`: exit 0 when the
// sidecar there answers /health with 200 (for container HEALTHCHECKs, where
// the image has no curl).
func HealthCommand(args []string, getenv func(string) string, stderr io.Writer) int {
	cfg := config.Default()
	if v := getenv("PDP_ADDR"); v != "" {
		cfg.Addr = v
	}
	cfg.Socket = getenv("PDP_SOCKET")
	fs := flag.NewFlagSet("pdp health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "sidecar `host:port`")
	fs.StringVar(&cfg.Socket, "socket", cfg.Socket, "sidecar Unix socket `path`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	client := &http.Client{Timeout: 2 * time.Second}
	host := cfg.Addr
	if h, p, err := net.SplitHostPort(cfg.Addr); err == nil && (h == "" || h == "0.0.0.0" || h == "::") {
		host = net.JoinHostPort("127.0.0.1", p)
	}
	if cfg.Socket != "" {
		sock := cfg.Socket
		host = "pdp"
		client.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}
	}
	resp, err := client.Get("http://" + host + "/health")
	if err != nil {
		fmt.Fprintf(stderr, "pdp health: %v\n", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "pdp health: %s\n", resp.Status)
		return 1
	}
	return 0
}
