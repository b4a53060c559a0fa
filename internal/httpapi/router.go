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

	"github.com/pdp-sidecar/pdp/internal/decisionlog"
	"github.com/pdp-sidecar/pdp/internal/engine"
	"github.com/pdp-sidecar/pdp/internal/metrics"
	"github.com/pdp-sidecar/pdp/internal/reload"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// Deps is what the router needs.
type Deps struct {
	Engine    *engine.Engine
	Log       *zap.Logger
	BodyLimit int64
	MaxBatch  int
	// RequestTimeout bounds a whole request (0: no bound beyond each
	// decision's own timeout).
	RequestTimeout time.Duration
	Started        time.Time
	ReloadStatus   func() reload.Status  // optional
	ExtraStatus    func() map[string]any // optional: more /v1/status fields
	Extra          func(r *gin.Engine)   // optional: more routes (metrics, admin)
	// ForwardAuthUserHeader carries the caller's identity on /v1/forward-auth.
	ForwardAuthUserHeader string
	// AuthToken, when set, is required as a bearer token on every endpoint but /health.
	AuthToken string
	// AdminToken enables GET/PUT /v1/log-level for holders of this bearer
	// token (the routes do not exist without it); Level is what they change.
	AdminToken string
	Level      *zap.AtomicLevel
	// DecisionLog and Metrics record decisions; nil turns each off.
	DecisionLog *decisionlog.Logger
	Metrics     *metrics.Metrics
}

type handlers struct {
	engine       *engine.Engine
	maxBatch     int
	started      time.Time
	reloadStatus func() reload.Status
	extraStatus  func() map[string]any
	userHeader   string
	dlog         *decisionlog.Logger
	metrics      *metrics.Metrics
}

// New returns the router serving the API of spec/api.md.
func New(d Deps) http.Handler {
	h := &handlers{engine: d.Engine, maxBatch: d.MaxBatch, started: d.Started,
		reloadStatus: d.ReloadStatus, extraStatus: d.ExtraStatus, userHeader: d.ForwardAuthUserHeader,
		dlog: d.DecisionLog, metrics: d.Metrics}
	if h.userHeader == "" {
		h.userHeader = "X-User"
	}
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.Use(httpMetrics(d.Metrics), recovery(d.Log), requestID, accessLog(d.Log), bodyLimit(d.BodyLimit), deadline(d.RequestTimeout))
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

	if d.AdminToken != "" && d.Level != nil {
		admin := r.Group("/v1/log-level", requireBearer(d.AdminToken))
		admin.GET("", logLevel(d.Level))
		admin.PUT("", setLogLevel(d.Level, d.Log))
	}
	if d.Metrics != nil {
		r.GET("/metrics", gin.WrapH(d.Metrics.Handler()))
	}

	r.GET("/health", h.health)
	r.GET("/v1/status", h.status)
	if d.Extra != nil {
		d.Extra(r)
	}
	return r
}

// decided counts a decision and writes its decision log entry. The entry
// is built only when the log is on, so with it off this allocates nothing.
func (h *handlers) decided(c *gin.Context, endpoint, id, rev string, req *engine.Request, d engine.Decision, took time.Duration) {
	h.metrics.ObserveDecision(endpoint, d.Allow, d.Err != nil, took)
	if h.dlog.Enabled() {
		h.dlog.Log(&decisionlog.Entry{DecisionID: id, RequestID: c.GetHeader("X-Request-ID"), Revision: rev,
			Endpoint: endpoint, Request: *req, Decision: d, Duration: took})
	}
}
