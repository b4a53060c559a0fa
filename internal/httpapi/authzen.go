package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pdp-sidecar/pdp/internal/decisionlog"
	"github.com/pdp-sidecar/pdp/internal/engine"
	"github.com/pdp-sidecar/pdp/internal/jsonwrite"
	"github.com/pdp-sidecar/pdp/internal/metrics"
)

type evaluationResponse struct {
	Decision bool               `json:"decision"`
	Context  *evaluationContext `json:"context,omitempty"`
}

type evaluationContext struct {
	DecisionID string       `json:"decision_id,omitempty"`
	Revision   string       `json:"revision,omitempty"`
	Reasons    []string     `json:"reasons,omitempty"`
	Error      *errorDetail `json:"error,omitempty"`
}

func (h *handlers) evaluation(c *gin.Context) {
	bp, err := readBody(c, false)
	if err != nil {
		writeError(c, err)
		return
	}
	req, ok := parseEvaluation(*bp)
	if ok {
		putBuf(bp)
		h.decide(c, req, metrics.EndpointEvaluation, time.Now())
		return
	}
	v, err := decodeJSON(*bp) // the general path: the request or the precise error
	putBuf(bp)
	var m map[string]any
	if err == nil {
		m, err = object(v, "request body")
	}
	if err != nil {
		writeError(c, err)
		return
	}
	h.single(c, m, metrics.EndpointEvaluation)
}

// single answers one access evaluation request.
func (h *handlers) single(c *gin.Context, m map[string]any, endpoint string) {
	start := time.Now()
	req, err := partsOf(m).evaluation("")
	if err != nil {
		writeError(c, err)
		return
	}
	h.decide(c, req, endpoint, start)
}

// decide answers the valid access evaluation request req.
func (h *handlers) decide(c *gin.Context, req engine.Request, endpoint string, start time.Time) {
	d, snap, err := h.engine.Evaluate(c.Request.Context(), req)
	if err != nil {
		writeError(c, err)
		return
	}
	ctx := h.context(d, snap.Revision)
	h.decided(c, endpoint, ctx.DecisionID, snap.Revision, &req, d, time.Since(start))
	writeJSON(c, http.StatusOK, evaluationResponse{Decision: d.Allow, Context: ctx}.appendJSON)
}

// appendJSON writes r as encoding/json would (same fields, same omitempty)
// without reflection: the one response every decision writes.
func (r evaluationResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"decision":`...)
	b = strconv.AppendBool(b, r.Decision)
	if c := r.Context; c != nil {
		b = append(b, `,"context":{`...)
		n := len(b)
		field := func(name string) {
			if len(b) > n {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, name...)
			b = append(b, `":`...)
		}
		if c.DecisionID != "" {
			field("decision_id")
			b = jsonwrite.String(b, c.DecisionID)
		}
		if c.Revision != "" {
			field("revision")
			b = jsonwrite.String(b, c.Revision)
		}
		if len(c.Reasons) > 0 {
			field("reasons")
			for i, r := range c.Reasons {
				if i == 0 {
					b = append(b, '[')
				} else {
					b = append(b, ',')
				}
				b = jsonwrite.String(b, r)
			}
			b = append(b, ']')
		}
		if e := c.Error; e != nil {
			field("error")
			b = append(b, `{"code":`...)
			b = jsonwrite.String(b, e.Code)
			b = append(b, `,"message":`...)
			b = jsonwrite.String(b, e.Message)
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func (h *handlers) context(d engine.Decision, revision string) *evaluationContext {
	return h.contextWithID(d, revision, newDecisionID())
}

func (h *handlers) contextWithID(d engine.Decision, revision, id string) *evaluationContext {
	ctx := &evaluationContext{DecisionID: id, Revision: revision, Reasons: d.Reasons}
	if d.Err != nil {
		ctx.Error = &errorDetail{Code: d.Err.Code, Message: d.Err.Message}
	}
	return ctx
}

func (h *handlers) evaluations(c *gin.Context) {
	start := time.Now()
	m, err := readObject(c)
	if err != nil {
		writeError(c, err)
		return
	}
	rawItems, ok := m["evaluations"]
	if !ok || rawItems == nil {
		h.single(c, m, metrics.EndpointEvaluations) // AuthZEN 1.0: no evaluations array means a single evaluation
		return
	}
	items, ok := rawItems.([]any)
	if !ok {
		writeError(c, badRequest("evaluations must be an array, got "+jsonType(rawItems)))
		return
	}
	if len(items) > h.maxBatch {
		writeError(c, badRequest(fmt.Sprintf("evaluations has %d items, more than the limit of %d (--max-batch)", len(items), h.maxBatch)))
		return
	}
	sem, withContext, err := batchOptions(m)
	if err != nil {
		writeError(c, err)
		return
	}
	defaults := partsOf(m)
	batch := make([]engine.BatchItem, len(items))
	for i, raw := range items {
		prefix := fmt.Sprintf("evaluations[%d].", i)
		item, err := object(raw, fmt.Sprintf("evaluations[%d]", i))
		if err == nil {
			batch[i].Request, err = defaults.override(item).evaluation(prefix)
		}
		if err != nil {
			batch[i].Invalid = &engine.EvalError{Code: codeInvalidRequest, Message: err.Error()}
		}
	}
	ds, snap, err := h.engine.EvaluateBatch(c.Request.Context(), batch, sem)
	if err != nil {
		writeError(c, err)
		return
	}
	took := time.Since(start)
	h.metrics.ObserveDuration(metrics.EndpointEvaluations, took)
	logging := h.dlog.Enabled()
	out := make([]evaluationResponse, len(ds))
	for i, d := range ds {
		out[i].Decision = d.Allow
		h.metrics.CountDecision(metrics.EndpointEvaluations, d.Allow, d.Err != nil)
		id := ""
		if withContext || logging {
			id = newDecisionID()
		}
		switch {
		case withContext:
			out[i].Context = h.contextWithID(d, snap.Revision, id)
		case d.Err != nil:
			out[i].Context = &evaluationContext{Error: &errorDetail{Code: d.Err.Code, Message: d.Err.Message}}
		}
		if logging {
			h.dlog.Log(&decisionlog.Entry{DecisionID: id, RequestID: c.GetHeader("X-Request-ID"), Revision: snap.Revision,
				Endpoint: metrics.EndpointEvaluations, Request: batch[i].Request, Decision: d, Duration: took, Batch: true, Index: i})
		}
	}
	writeJSON(c, http.StatusOK, func(b []byte) []byte {
		b = append(b, `{"evaluations":[`...)
		for i, r := range out {
			if i > 0 {
				b = append(b, ',')
			}
			b = r.appendJSON(b)
		}
		return append(b, "]}"...)
	})
}

// batchOptions reads options.evaluations_semantic and options.include_context.
func batchOptions(m map[string]any) (engine.Semantic, bool, error) {
	opts, err := optObject(m, "options", "options")
	if err != nil || opts == nil {
		return engine.ExecuteAll, false, err
	}
	sem := engine.ExecuteAll
	if v, ok := opts["evaluations_semantic"]; ok && v != nil {
		s, _ := v.(string)
		switch engine.Semantic(s) {
		case engine.ExecuteAll, engine.DenyOnFirstDeny, engine.PermitOnFirstPermit:
			sem = engine.Semantic(s)
		default:
			return sem, false, badRequest(fmt.Sprintf("options.evaluations_semantic %s is not one of execute_all, deny_on_first_deny, permit_on_first_permit", compact(v)))
		}
	}
	withContext := false
	if v, ok := opts["include_context"]; ok && v != nil {
		b, ok := v.(bool)
		if !ok {
			return sem, false, badRequest("options.include_context must be a boolean, got " + jsonType(v))
		}
		withContext = b
	}
	return sem, withContext, nil
}

type page struct {
	NextToken string `json:"next_token"`
}

type actionResult struct {
	Name string `json:"name"`
}

type subjectResult struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

func (h *handlers) searchAction(c *gin.Context) {
	start := time.Now()
	m, err := readObject(c)
	if err != nil {
		writeError(c, err)
		return
	}
	var req engine.Request
	if req.Subject, err = entity(m["subject"], "subject", true); err != nil {
		writeError(c, err)
		return
	}
	if req.Resource, err = entity(m["resource"], "resource", true); err != nil {
		writeError(c, err)
		return
	}
	if req.Context, err = optObject(m, "context", "context"); err != nil {
		writeError(c, err)
		return
	}
	after, limit, err := paging(m)
	if err != nil {
		writeError(c, err)
		return
	}
	names, snap, err := h.engine.SearchActions(c.Request.Context(), req)
	if err != nil {
		writeError(c, err)
		return
	}
	h.searched(c, metrics.EndpointSearchAction, snap.Revision, &req, names, time.Since(start))
	results := []actionResult{}
	next := ""
	for _, n := range names {
		if after != "" && n <= after {
			continue
		}
		if limit > 0 && len(results) == limit {
			next = encodeToken(results[len(results)-1].Name)
			break
		}
		results = append(results, actionResult{n})
	}
	c.JSON(http.StatusOK, gin.H{"results": results, "page": page{next}})
}

func (h *handlers) searchSubject(c *gin.Context) {
	start := time.Now()
	m, err := readObject(c)
	if err != nil {
		writeError(c, err)
		return
	}
	subj, err := entity(m["subject"], "subject", false)
	if err != nil {
		writeError(c, err)
		return
	}
	if subj.Type != "user" {
		writeError(c, badRequest(fmt.Sprintf("subject.type %q cannot be searched: only \"user\" subjects exist", subj.Type)))
		return
	}
	var req engine.Request
	if req.Action, req.ActionProperties, err = action(m["action"], "action"); err != nil {
		writeError(c, err)
		return
	}
	if req.Resource, err = entity(m["resource"], "resource", true); err != nil {
		writeError(c, err)
		return
	}
	if req.Context, err = optObject(m, "context", "context"); err != nil {
		writeError(c, err)
		return
	}
	after, limit, err := paging(m)
	if err != nil {
		writeError(c, err)
		return
	}
	ids, more, snap, err := h.engine.SearchSubjects(c.Request.Context(), req, after, limit)
	if err != nil {
		writeError(c, err)
		return
	}
	req.Subject = subj
	h.searched(c, metrics.EndpointSearchSubject, snap.Revision, &req, ids, time.Since(start))
	results := make([]subjectResult, len(ids))
	for i, id := range ids {
		results[i] = subjectResult{"user", id}
	}
	next := ""
	if more {
		next = encodeToken(ids[len(ids)-1])
	}
	c.JSON(http.StatusOK, gin.H{"results": results, "page": page{next}})
}

// searched records a search: counted as an allow when it found anything.
func (h *handlers) searched(c *gin.Context, endpoint, rev string, req *engine.Request, results []string, took time.Duration) {
	found := len(results) > 0
	h.metrics.ObserveDecision(endpoint, found, false, took)
	if h.dlog.Enabled() {
		h.dlog.Log(&decisionlog.Entry{DecisionID: newDecisionID(), RequestID: c.GetHeader("X-Request-ID"), Revision: rev,
			Endpoint: endpoint, Request: *req, Decision: engine.Decision{Allow: found}, Duration: took, Results: results})
	}
}

// paging reads AuthZEN's page.token and page.limit. Tokens are opaque to
// clients: the base64url of the last result returned.
func paging(m map[string]any) (after string, limit int, err error) {
	p, err := optObject(m, "page", "page")
	if err != nil || p == nil {
		return "", 0, err
	}
	if v, ok := p["token"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return "", 0, badRequest("page.token must be a string, got " + jsonType(v))
		}
		if s != "" {
			b, err := base64.RawURLEncoding.DecodeString(s)
			if err != nil || len(b) == 0 {
				return "", 0, badRequest("page.token is not a token this server issued")
			}
			after = string(b)
		}
	}
	if v, ok := p["limit"]; ok && v != nil {
		n, isNum := v.(json.Number)
		l, err := strconv.Atoi(string(n))
		if !isNum || err != nil || l < 0 {
			return "", 0, badRequest("page.limit must be a non-negative integer, got " + compact(v))
		}
		limit = l
	}
	return after, limit, nil
}

func encodeToken(last string) string { return base64.RawURLEncoding.EncodeToString([]byte(last)) }

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}

func (h *handlers) wellKnown(c *gin.Context) {
	base := "http://" + c.Request.Host
	if c.Request.Host == "" {
		base = "http://localhost"
	}
	c.JSON(http.StatusOK, gin.H{
		"policy_decision_point":       base,
		"access_evaluation_endpoint":  base + "/access/v1/evaluation",
		"access_evaluations_endpoint": base + "/access/v1/evaluations",
		"search_action_endpoint":      base + "/access/v1/search/action",
		"search_subject_endpoint":     base + "/access/v1/search/subject",
	})
}
