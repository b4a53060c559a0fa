// Command ceiling is the HTTP ceiling pdp's benchmark compares against: a
// Gin server in release mode, with no middleware, whose handlers only bind
// the AuthZEN JSON into a struct and answer a constant decision. No
// decision service can be faster with Gin and encoding/json, so pdp ÷
// ceiling says how much of the budget policy evaluation leaves.
//
//	ceiling -addr 127.0.0.1:8282
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
)

type entity struct {
	Type       string         `json:"type"`
	ID         string         `json:"id"`
	Properties map[string]any `json:"properties"`
}

type action struct {
	Name       string         `json:"name"`
	Properties map[string]any `json:"properties"`
}

// evaluation is an AuthZEN access evaluation request.
type evaluation struct {
	Subject  *entity        `json:"subject"`
	Action   *action        `json:"action"`
	Resource *entity        `json:"resource"`
	Context  map[string]any `json:"context"`
}

// evaluations is an AuthZEN batch.
type evaluations struct {
	evaluation
	Options     map[string]any `json:"options"`
	Evaluations []evaluation   `json:"evaluations"`
}

type decision struct {
	Decision bool `json:"decision"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8282", "listen `address`")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/health", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{}) })
	r.POST("/access/v1/evaluation", func(c *gin.Context) {
		var req evaluation
		if err := c.ShouldBindJSON(&req); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, decision{Decision: true})
	})
	r.POST("/access/v1/evaluations", func(c *gin.Context) {
		var req evaluations
		if err := c.ShouldBindJSON(&req); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		out := make([]decision, len(req.Evaluations))
		for i := range out {
			out[i].Decision = true
		}
		c.JSON(http.StatusOK, gin.H{"evaluations": out})
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
