package httpapi

import (
	"crypto/subtle"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/pdp-sidecar/pdp/internal/metrics"
)

// recovery turns a panic in a handler into a 500 (never an allow) and logs the stack.
func recovery(log *zap.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				log.Error("handler panicked", zap.Any("panic", r), zap.String("path", c.Request.URL.Path),
					zap.ByteString("stack", debug.Stack()))
				writeError(c, &apiError{http.StatusInternalServerError, codeInternal, "internal error"})
			}
		}()
		c.Next()
	}
}

// requestID echoes the caller's X-Request-ID.
func requestID(c *gin.Context) {
	if id := c.GetHeader("X-Request-ID"); id != "" {
		c.Header("X-Request-ID", id)
	}
	c.Next()
}

// bodyLimit caps request bodies; readBody turns the overflow into a 413.
func bodyLimit(limit int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		}
		c.Next()
	}
}

// accessLog writes one Debug line per request; at other levels it costs one check.
func accessLog(log *zap.Logger) gin.HandlerFunc {
	log = log.Named("access")
	return func(c *gin.Context) {
		if !log.Core().Enabled(zapcore.DebugLevel) {
			c.Next()
			return
		}
		start := time.Now()
		c.Next()
		log.Debug("request",
			zap.String("method", c.Request.Method),
			zap.String("route", c.FullPath()),
			zap.String("path", c.Request.URL.Path),
			zap.Int("status", c.Writer.Status()),
			zap.Duration("duration", time.Since(start)),
			zap.String("request_id", c.GetHeader("X-Request-ID")))
	}
}

// bearerAuth requires "Authorization: Bearer <token>" on every endpoint but
// /health when a token is configured. The comparison is constant-time and
// the token is never logged.
func bearerAuth(token string) gin.HandlerFunc {
	require := requireBearer(token)
	return func(c *gin.Context) {
		// /health stays open for probes; /v1/log-level checks the admin token itself.
		if p := c.Request.URL.Path; p == "/health" || p == "/v1/log-level" {
			c.Next()
			return
		}
		require(c)
	}
}

// requireBearer answers 401 unless the request carries
// "Authorization: Bearer <token>", whatever its path (the admin routes use
// it directly: bearerAuth exempts them from the API token).
func requireBearer(token string) gin.HandlerFunc {
	want := []byte("Bearer " + token)
	return func(c *gin.Context) {
		got := []byte(c.GetHeader("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			c.Header("WWW-Authenticate", `Bearer realm="pdp"`)
			writeError(c, &apiError{http.StatusUnauthorized, codeUnauthorized, "missing or wrong bearer token: send Authorization: Bearer <token>"})
			return
		}
		c.Next()
	}
}

// httpMetrics counts every answer by route and status (404s as one route).
func httpMetrics(m *metrics.Metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		m.ObserveHTTP(c.FullPath(), c.Writer.Status())
	}
}

// deadline bounds the whole request: a batch or a search whose decisions
// together take longer stops deciding (what is left is denied), and
// evaluation sees the request's context cancelled.
func deadline(d time.Duration) gin.HandlerFunc {
	if d <= 0 {
		return func(c *gin.Context) { c.Next() }
	}
	return func(c *gin.Context) {
		ctx := withDeadline(c.Request.Context(), time.Now().Add(d))
		defer ctx.release()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}
