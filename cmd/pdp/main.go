// Command pdp is the policy decision point sidecar.
//
//	pdp [flags]                       serve decisions (see --help)
//	pdp version                       print pdp's and OPA's versions
//	pdp data validate DIR [--policies DIR]   validate role data offline
//	pdp health [--addr A | --socket S]       exit 0 when the sidecar is healthy
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/pdp-sidecar/pdp/internal/app"
	"github.com/pdp-sidecar/pdp/internal/config"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "version":
			fmt.Println(app.VersionString())
			return 0
		case "health":
			return app.HealthCommand(args[1:], os.Getenv, os.Stderr)
		case "data":
			return app.DataCommand(context.Background(), args[1:], os.Stdout, os.Stderr)
		}
	}
	cfg, err := config.Load(args, os.Getenv, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pdp: invalid configuration:\n%v\n", err)
		return 2
	}
	log, level, err := app.NewLogger(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pdp: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, cfg, log, level)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pdp: %v\n", err)
		_ = log.Sync()
		return 1
	}
	if err := a.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "pdp: %v\n", err)
		return 1
	}
	return 0
}
