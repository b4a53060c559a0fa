package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/open-policy-agent/opa/v1/ast"
	opametrics "github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/server/types"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/lineage"

	"github.com/pdp-sidecar/pdp/internal/decisionlog"
	"github.com/pdp-sidecar/pdp/internal/engine"
	"github.com/pdp-sidecar/pdp/internal/metrics"
	"github.com/pdp-sidecar/pdp/internal/policy"
)

// dataResponse mirrors OPA's Data API response.
type dataResponse struct {
	Result      *any             `json:"result,omitempty"`
	DecisionID  string           `json:"decision_id"`
	Metrics     map[string]any   `json:"metrics,omitempty"`
	Explanation *json.RawMessage `json:"explanation,omitempty"`
}

// data answers GET and POST /v1/data/{path} as `opa run --server` does.
func (h *handlers) data(c *gin.Context) {
	start := time.Now()
	ref, err := dataRef(c.Param("path"))
	if err != nil {
		writeError(c, err)
		return
	}
	var input ast.Value
	var rawInput any
	if c.Request.Method == http.MethodPost {
		body, err := readJSON(c, true)
		if err != nil {
			writeError(c, err)
			return
		}
		if body != nil {
			m, err := object(body, "request body")
			if err != nil {
				writeError(c, err)
				return
			}
			if in, ok := m["input"]; ok {
				rawInput = in
				if input, err = ast.InterfaceToValue(in); err != nil {
					writeError(c, badRequest("input: "+err.Error()))
					return
				}
			}
		}
	}
	q := c.Request.URL.Query()
	pretty := flagParam(q, "pretty")
	var opts []rego.EvalOption
	var m opametrics.Metrics
	if flagParam(q, "metrics") {
		m = opametrics.New()
		opts = append(opts, rego.EvalMetrics(m))
	}
	var tracer *topdown.BufferTracer
	explain := q.Get("explain")
	switch explain {
	case "", "off":
	case "notes", "fails", "full", "debug":
		tracer = topdown.NewBufferTracer()
		opts = append(opts, rego.EvalQueryTracer(tracer))
	default:
		writeError(c, badRequest("explain must be one of notes, fails, full, debug, off"))
		return
	}
	result, defined, snap, err := h.engine.Data(c.Request.Context(), ref, input, opts...)
	resp := dataResponse{DecisionID: newDecisionID()}
	// The path is logged as OPA's decision logs have it: "pdp/authz/decision".
	h.dataDecided(c, resp.DecisionID, snap, strings.TrimPrefix(c.Param("path"), "/"), rawInput, result, err, time.Since(start))
	if err != nil {
		writeError(c, err)
		return
	}
	if defined {
		resp.Result = &result
	}
	if tracer != nil {
		trace := []*topdown.Event(*tracer)
		switch explain {
		case "notes":
			trace = lineage.Notes(trace)
		case "fails":
			trace = lineage.Fails(trace)
		case "full":
			trace = lineage.Full(trace)
		case "debug":
			trace = lineage.Debug(trace)
		}
		tv, err := types.NewTraceV1(trace, pretty)
		if err != nil {
			writeError(c, err)
			return
		}
		raw := json.RawMessage(tv)
		resp.Explanation = &raw
	}
	if m != nil {
		resp.Metrics = m.All()
		resp.Metrics["timer_server_handler_ns"] = time.Since(start).Nanoseconds()
	}
	if pretty {
		c.IndentedJSON(http.StatusOK, resp)
		return
	}
	c.JSON(http.StatusOK, resp)
}

// dataDecided records a Data API query. It counts as an allow when the
// result is true or an object whose allow is true (an OPA-style decision).
func (h *handlers) dataDecided(c *gin.Context, id string, snap *policy.Snapshot, path string, input, result any, err error, took time.Duration) {
	if snap == nil {
		return // not ready: no decision was made
	}
	d := engine.Decision{Allow: result == true}
	if m, ok := result.(map[string]any); ok && m["allow"] == true {
		d.Allow = true
	}
	var ee *engine.EvalError
	if errors.As(err, &ee) {
		d = engine.Decision{Reasons: []string{ee.Message}, Err: ee}
	}
	h.metrics.ObserveDecision(metrics.EndpointData, d.Allow, d.Err != nil, took)
	if h.dlog.Enabled() {
		h.dlog.Log(&decisionlog.Entry{DecisionID: id, RequestID: c.GetHeader("X-Request-ID"), Revision: snap.Revision,
			Endpoint: metrics.EndpointData, Path: path, Input: input, Decision: d, Duration: took})
	}
}

// dataRef turns /v1/data's path into a data reference, as OPA's server does:
// segments are unescaped, integers become numbers, and "." or ".." segments
// are refused.
func dataRef(p string) (ast.Ref, error) {
	ref := ast.Ref{ast.DefaultRootDocument}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" {
			continue
		}
		if u, err := url.PathUnescape(seg); err == nil {
			seg = u
		}
		if seg == "." || seg == ".." || strings.ContainsAny(seg, "\"\x00") {
			return nil, badRequest("invalid path segment " + strconv.Quote(seg) + " in /v1/data path")
		}
		if i, err := strconv.Atoi(seg); err == nil {
			ref = append(ref, ast.IntNumberTerm(i))
		} else {
			ref = append(ref, ast.StringTerm(seg))
		}
	}
	return ref, nil
}

func flagParam(q url.Values, name string) bool {
	v, ok := q[name]
	if !ok {
		return false
	}
	return len(v) == 0 || v[0] == "" || v[0] == "true" || v[0] == "1"
}

func (h *handlers) readOnly(c *gin.Context) {
	writeError(c, &apiError{http.StatusMethodNotAllowed, codeMethodNotAllowed,
		c.Request.Method + " is not offered: pdp's policies and data change only through their files (edit them; they are hot-reloaded)"})
}
