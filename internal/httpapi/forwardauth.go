package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pdp-sidecar/pdp/internal/decisionlog"
	"github.com/pdp-sidecar/pdp/internal/engine"
	"github.com/pdp-sidecar/pdp/internal/metrics"
)

const forwardAuthPath = "/v1/forward-auth"

// forwardAuth answers nginx auth_request, Traefik forwardAuth and Envoy
// ext_authz (HTTP): 200 allow, 403 deny, 401 no identity, 500 when the
// sidecar cannot decide — never 200 on an error, so the proxy's own
// fail-closed setting applies.
func (h *handlers) forwardAuth(c *gin.Context) {
	start := time.Now()
	method, path, err := originalRequest(c.Request)
	if err != nil {
		h.forwardAnswer(c, http.StatusBadRequest, err.Error())
		return
	}
	user := strings.TrimSpace(c.GetHeader(h.userHeader))
	if user == "" {
		h.forwardAnswer(c, http.StatusUnauthorized, "no identity: the "+h.userHeader+" header is missing")
		return
	}
	// The route table sees only the X-Pdp-* headers the app sets (never
	// cookies or credentials), which also makes its answers cacheable.
	headers := make(map[string]string, 4)
	for k, v := range c.Request.Header {
		if lk := strings.ToLower(k); len(v) > 0 && strings.HasPrefix(lk, "x-pdp-") {
			headers[lk] = v[0]
		}
	}
	d, req, snap, err := h.engine.ForwardAuth(c.Request.Context(), engine.HTTPRequest{Method: method, Path: path, User: user, Headers: headers})
	id := newDecisionID()
	if snap != nil {
		var ee *engine.EvalError
		if err != nil && errors.As(err, &ee) {
			d = engine.Decision{Reasons: []string{ee.Message}, Err: ee}
		}
		if req.Subject.ID == "" {
			req.Subject = engine.Entity{Type: "user", ID: user}
		}
		h.metrics.ObserveDecision(metrics.EndpointForwardAuth, d.Allow, d.Err != nil, time.Since(start))
		if h.dlog.Enabled() {
			h.dlog.Log(&decisionlog.Entry{DecisionID: id, RequestID: c.GetHeader("X-Request-ID"), Revision: snap.Revision,
				Endpoint: metrics.EndpointForwardAuth, Path: method + " " + path, Request: req, Decision: d, Duration: time.Since(start)})
		}
	}
	if err != nil {
		msg := err.Error()
		if errors.Is(err, engine.ErrNotReady) {
			msg = "cannot decide: " + msg
		}
		h.forwardAnswer(c, http.StatusInternalServerError, msg)
		return
	}
	c.Header("X-Pdp-Decision-Id", id)
	c.Header("X-Pdp-Revision", snap.Revision)
	if !d.Allow {
		h.forwardAnswer(c, http.StatusForbidden, strings.Join(d.Reasons, "; "))
		return
	}
	c.JSON(http.StatusOK, gin.H{"decision": true, "reasons": d.Reasons})
}

func (h *handlers) forwardAnswer(c *gin.Context, status int, reason string) {
	c.Header("X-Pdp-Reason", headerSafe(reason))
	code := map[int]string{http.StatusBadRequest: codeInvalidRequest, http.StatusUnauthorized: codeUnauthorized,
		http.StatusForbidden: "forbidden", http.StatusInternalServerError: codeInternal}[status]
	c.AbortWithStatusJSON(status, errorBody{errorDetail{code, reason}})
}

// originalRequest finds the proxied request's method and path: nginx's
// X-Original-Method/X-Original-URI, else Traefik's and Envoy's
// X-Forwarded-Method/X-Forwarded-Uri, else (Envoy ext_authz with a
// path_prefix) this request's own method and the path after
// /v1/forward-auth. The path must be canonical: a path the upstream could
// read differently from us (dot segments, encoded slashes, backslashes) is
// refused rather than guessed at.
func originalRequest(r *http.Request) (method, path string, err error) {
	method = first(r.Header, "X-Original-Method", "X-Forwarded-Method")
	uri := first(r.Header, "X-Original-Uri", "X-Forwarded-Uri")
	if uri == "" {
		if rest, ok := strings.CutPrefix(r.URL.EscapedPath(), forwardAuthPath); ok && rest != "" {
			uri = rest
			if r.URL.RawQuery != "" {
				uri += "?" + r.URL.RawQuery
			}
			if method == "" {
				method = r.Method
			}
		}
	}
	if uri == "" {
		return "", "", errors.New("no original request: send X-Original-URI (nginx) or X-Forwarded-Uri (Traefik, Envoy)")
	}
	if method == "" {
		return "", "", errors.New("no original method: send X-Original-Method (nginx) or X-Forwarded-Method (Traefik, Envoy)")
	}
	return parseOriginal(method, uri)
}

// parseOriginal validates a method and a request URI and returns the
// method upper-cased and the unescaped path without query.
func parseOriginal(method, uri string) (string, string, error) {
	method = strings.ToUpper(strings.TrimSpace(method))
	if method == "" || len(method) > 16 || strings.IndexFunc(method, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
		return "", "", fmt.Errorf("original method %q is not an HTTP method", method)
	}
	if len(uri) > 8192 {
		return "", "", errors.New("original URI is longer than 8192 bytes")
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(u.Path, "/") {
		return "", "", fmt.Errorf("original URI %q is not an origin-form request URI", truncate(uri))
	}
	raw := u.EscapedPath()
	lower := strings.ToLower(raw)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") || strings.Contains(raw, "\\") || strings.Contains(lower, "%00") {
		return "", "", fmt.Errorf("original path %q holds an encoded slash, backslash or NUL", truncate(raw))
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return "", "", fmt.Errorf("original path %q holds a dot segment", truncate(u.Path))
		}
	}
	if strings.Contains(u.Path, "//") {
		return "", "", fmt.Errorf("original path %q holds an empty segment", truncate(u.Path))
	}
	return method, u.Path, nil
}

func first(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

func truncate(s string) string {
	if len(s) > 128 {
		return s[:128] + "…"
	}
	return s
}

// headerSafe keeps a reason usable as a header value.
func headerSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 512 {
		s = s[:512]
	}
	return s
}
