// Package httpapi is pdp's HTTP surface: the Gin router, thin handlers that
// translate requests for the engine and its answers back, the middleware
// (request ids, body limits, recovery, access log) and the one mapping of
// errors to status codes.
package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/pdp-sidecar/pdp/internal/engine"
	"github.com/pdp-sidecar/pdp/internal/reload"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// Deps is what the router needs.
type Deps struct {
	Engine       *engine.Engine
	Log          *zap.Logger
	BodyLimit    int64
	MaxBatch     int
	Started      time.Time
	ReloadStatus func() reload.Status  // optional
	ExtraStatus  func() map[string]any // optional: more /v1/status fields
	Extra        func(r *gin.Engine)   // optional: more routes (metrics, admin)
	// ForwardAuthUserHeader carries the caller's identity on /v1/forward-auth.
	ForwardAuthUserHeader string
	// AuthToken, when set, is required as a bearer token on every endpoint but /health.
	AuthToken string
}

type handlers struct {
	engine       *engine.Engine
	maxBatch     int
	started      time.Time
	reloadStatus func() reload.Status
	extraStatus  func() map[string]any
	userHeader   string
}

// New returns the router serving the API of spec/api.md.
func New(d Deps) http.Handler {
	h := &handlers{engine: d.Engine, maxBatch: d.MaxBatch, started: d.Started,
		reloadStatus: d.ReloadStatus, extraStatus: d.ExtraStatus, userHeader: d.ForwardAuthUserHeader}
	if h.userHeader == "" {
		h.userHeader = "X-User"
	}
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.Use(recovery(d.Log), requestID, accessLog(d.Log), bodyLimit(d.BodyLimit))
	if d.AuthToken != "" {
		r.Use(bearerAuth(d.AuthToken))
	}
	r.NoRoute(func(c *gin.Context) {
		writeError(c, &apiError{http.StatusNotFound, codeNotFound, "no such endpoint: " + c.Request.Method + " " + c.Request.URL.Path})
	})
	r.NoMethod(func(c *gin.Context) {
		writeError(c, &apiError{http.StatusMethodNotAllowed, codeMethodNotAllowed, c.Request.Method + " is not allowed on " + c.Request.URL.Path})
	})

	r.POST("/access/v1/evaluation", h.evaluation)
	r.POST("/access/v1/evaluations", h.evaluations)
	r.POST("/access/v1/search/action", h.searchAction)
	r.POST("/access/v1/search/subject", h.searchSubject)
	r.GET("/.well-known/authzen-configuration", h.wellKnown)

	for _, p := range []string{"/v1/data", "/v1/data/*path"} {
		r.GET(p, h.data)
		r.POST(p, h.data)
	}
	for _, p := range []string{"/v1/data", "/v1/data/*path", "/v1/policies", "/v1/policies/*path"} {
		r.PUT(p, h.readOnly)
		r.PATCH(p, h.readOnly)
		r.DELETE(p, h.readOnly)
	}

	r.Any(forwardAuthPath, h.forwardAuth)
	r.Any(forwardAuthPath+"/*original", h.forwardAuth) // Envoy ext_authz with path_prefix

	r.GET("/health", h.health)
	r.GET("/v1/status", h.status)
	if d.Extra != nil {
		d.Extra(r)
	}
	return r
}
