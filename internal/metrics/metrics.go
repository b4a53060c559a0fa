// Package metrics holds all of pdp's Prometheus collectors in one registry
// (never the global default one) and serves them. Label values are fixed
// sets or come from the code (endpoint names, Gin route patterns), never
// from requests, so cardinality stays bounded. The methods called per
// request do not allocate, and all of them may be called on a nil
// *Metrics (metrics off), and concurrently.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The endpoints that make decisions, as their metrics and decision log
// entries name them.
const (
	EndpointEvaluation    = "evaluation"
	EndpointEvaluations   = "evaluations"
	EndpointSearchAction  = "search_action"
	EndpointSearchSubject = "search_subject"
	EndpointData          = "data"
	EndpointForwardAuth   = "forward_auth"
)

// Endpoints lists them all.
var Endpoints = []string{EndpointEvaluation, EndpointEvaluations, EndpointSearchAction, EndpointSearchSubject, EndpointData, EndpointForwardAuth}

// Reload outcomes.
const (
	ReloadOK        = "ok"        // a new snapshot was built and swapped in
	ReloadFailed    = "failed"    // the build failed; the last good snapshot still serves
	ReloadUnchanged = "unchanged" // the files changed on disk but the revision did not
)

// RouteUnmatched is the route label of requests no route matched (404s).
const RouteUnmatched = "unmatched"

// DurationBuckets are the decision latency histogram's upper bounds in
// seconds: a decision usually takes tens of microseconds.
var DurationBuckets = []float64{
	10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6,
	1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1,
}

// Metrics is pdp's registry and collectors.
type Metrics struct {
	reg       *prometheus.Registry
	decisions *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	requests  *prometheus.CounterVec
	reloads   *prometheus.CounterVec
	dlErrors  prometheus.Counter

	// Children resolved at construction for the fixed label sets, so the
	// hot path is a map read (no locking, no allocation). Read-only.
	endpoints map[string]*endpoint
	outcomes  map[string]prometheus.Counter

	// routes caches pdp_http_requests_total children by route and code:
	// an immutable map replaced (copy on write, under routesMu) when a new
	// pair appears, which happens a bounded number of times.
	routes   atomic.Pointer[map[routeCode]prometheus.Counter]
	routesMu sync.Mutex

	snapshot atomic.Pointer[snapshotInfo]
}

type endpoint struct {
	allow, deny, failed prometheus.Counter
	duration            prometheus.Observer
}

type routeCode struct {
	route string
	code  int
}

type snapshotInfo struct {
	revision string
	loadedAt time.Time
}

// New builds the registry with every pdp collector, the Go runtime
// collector and the process collector.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pdp_decisions_total",
			Help: "Decisions made, by endpoint and decision (allow, deny, or error: a deny because evaluation failed). A batch counts each item; a search counts once.",
		}, []string{"endpoint", "decision"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pdp_decision_duration_seconds",
			Help:    "Time to answer a decision request, by endpoint (a whole batch for evaluations, a whole search for search_*).",
			Buckets: DurationBuckets,
		}, []string{"endpoint"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pdp_http_requests_total",
			Help: `HTTP requests answered, by route pattern ("unmatched" when no route matched) and status code.`,
		}, []string{"route", "code"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pdp_reloads_total",
			Help: "Policy and data reloads, by outcome: ok (swapped in), failed (the last good snapshot still serves), unchanged (same revision).",
		}, []string{"outcome"}),
		dlErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pdp_decision_log_errors_total",
			Help: "Decision log entries lost: the destination failed or could not keep up. Decisions are never affected.",
		}),
		endpoints: make(map[string]*endpoint, len(Endpoints)),
		outcomes:  make(map[string]prometheus.Counter, 3),
	}
	for _, e := range Endpoints {
		m.endpoints[e] = m.resolve(e)
	}
	for _, o := range []string{ReloadOK, ReloadFailed, ReloadUnchanged} {
		m.outcomes[o] = m.reloads.WithLabelValues(o)
	}
	empty := map[routeCode]prometheus.Counter{}
	m.routes.Store(&empty)
	m.reg.MustRegister(
		m.decisions, m.duration, m.requests, m.reloads, m.dlErrors,
		&snapshotCollector{m: m},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *Metrics) resolve(e string) *endpoint {
	return &endpoint{
		allow:    m.decisions.WithLabelValues(e, "allow"),
		deny:     m.decisions.WithLabelValues(e, "deny"),
		failed:   m.decisions.WithLabelValues(e, "error"),
		duration: m.duration.WithLabelValues(e),
	}
}

func (m *Metrics) endpoint(name string) *endpoint {
	if e, ok := m.endpoints[name]; ok {
		return e
	}
	return m.resolve(name) // not one of Endpoints: correct, but allocates
}

// Registry is the registry, to register more collectors or gather in tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text (or negotiated) format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:      m.reg, // counts promhttp_metric_handler_errors_total
		ErrorHandling: promhttp.ContinueOnError,
	}))
}

// ObserveDecision counts one decision of endpoint and records how long it
// took. failed means the evaluation failed (the decision is then a deny,
// counted as "error"). Shorthand for CountDecision + ObserveDuration.
func (m *Metrics) ObserveDecision(endpoint string, allow, failed bool, d time.Duration) {
	if m == nil {
		return
	}
	e := m.endpoint(endpoint)
	e.count(allow, failed)
	e.duration.Observe(d.Seconds())
}

// CountDecision counts one decision without a duration: an item of a batch
// whose request is timed once with ObserveDuration.
func (m *Metrics) CountDecision(endpoint string, allow, failed bool) {
	if m == nil {
		return
	}
	m.endpoint(endpoint).count(allow, failed)
}

// ObserveDuration records how long a decision request of endpoint took.
func (m *Metrics) ObserveDuration(endpoint string, d time.Duration) {
	if m == nil {
		return
	}
	m.endpoint(endpoint).duration.Observe(d.Seconds())
}

func (e *endpoint) count(allow, failed bool) {
	switch {
	case failed:
		e.failed.Inc()
	case allow:
		e.allow.Inc()
	default:
		e.deny.Inc()
	}
}

// ObserveHTTP counts one answered request. route is Gin's FullPath (the
// route pattern); "" (no route matched) is counted as "unmatched".
func (m *Metrics) ObserveHTTP(route string, code int) {
	if m == nil {
		return
	}
	if route == "" {
		route = RouteUnmatched
	}
	k := routeCode{route, code}
	if c, ok := (*m.routes.Load())[k]; ok {
		c.Inc()
		return
	}
	m.routesMu.Lock()
	old := *m.routes.Load()
	c, ok := old[k]
	if !ok {
		c = m.requests.WithLabelValues(route, strconv.Itoa(code))
		next := make(map[routeCode]prometheus.Counter, len(old)+1)
		for k, v := range old {
			next[k] = v
		}
		next[k] = c
		m.routes.Store(&next)
	}
	m.routesMu.Unlock()
	c.Inc()
}

// Reload counts one reload with its outcome (ReloadOK, ReloadFailed or
// ReloadUnchanged).
func (m *Metrics) Reload(outcome string) {
	if m == nil {
		return
	}
	if c, ok := m.outcomes[outcome]; ok {
		c.Inc()
		return
	}
	m.reloads.WithLabelValues(outcome).Inc()
}

// SetSnapshot records the snapshot now serving: pdp_snapshot_info then
// carries this revision only, and pdp_snapshot_loaded_timestamp_seconds
// its load time. A scrape sees the old revision or the new one, never
// both or neither.
func (m *Metrics) SetSnapshot(revision string, loadedAt time.Time) {
	if m == nil {
		return
	}
	m.snapshot.Store(&snapshotInfo{revision: revision, loadedAt: loadedAt})
}

// DecisionLogErrors counts n lost decision log entries; it fits
// decisionlog.Config.OnError.
func (m *Metrics) DecisionLogErrors(n int) {
	if m == nil {
		return
	}
	m.dlErrors.Add(float64(n))
}

// snapshotCollector reports the serving snapshot at scrape time from one
// atomic load, so the info metric switches revisions atomically (a
// GaugeVec Reset followed by a Set could be scraped in between).
type snapshotCollector struct{ m *Metrics }

var (
	snapshotInfoDesc = prometheus.NewDesc("pdp_snapshot_info",
		"The policy and data snapshot serving decisions: 1 for its revision.", []string{"revision"}, nil)
	snapshotLoadedDesc = prometheus.NewDesc("pdp_snapshot_loaded_timestamp_seconds",
		"When the serving snapshot was built, in seconds since the Unix epoch.", nil, nil)
)

func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- snapshotInfoDesc
	ch <- snapshotLoadedDesc
}

func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.snapshot.Load()
	if s == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(snapshotInfoDesc, prometheus.GaugeValue, 1, s.revision)
	ch <- prometheus.MustNewConstMetric(snapshotLoadedDesc, prometheus.GaugeValue, float64(s.loadedAt.UnixNano())/1e9)
}

// LeftToOPA exposes pdp_vm_left_to_opa_total, read from count: decisions
// the vm began and OPA's evaluator answered (each costs both).
func (m *Metrics) LeftToOPA(count func() uint64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "pdp_vm_left_to_opa_total",
		Help: "Decisions the vm began and left to OPA's evaluator (a conflict or a built-in's error, a rule over the data not computed at snapshot build, a key only OPA's evaluator reads).",
	}, func() float64 { return float64(count()) }))
}

// DecisionCache registers the decision cache's counters, read from stats at
// each scrape: pdp_decision_cache_lookups_total{result="hit|miss"} and
// pdp_decision_cache_entries.
func (m *Metrics) DecisionCache(stats func() (hits, misses uint64, entries int)) {
	lookups := func(result string, pick func(h, mi uint64) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "pdp_decision_cache_lookups_total",
			Help:        "Decision cache lookups, by result: hit (answered from the cache) or miss (evaluated). Decisions that cannot be cached are not counted.",
			ConstLabels: prometheus.Labels{"result": result},
		}, func() float64 {
			h, mi, _ := stats()
			return float64(pick(h, mi))
		})
	}
	m.reg.MustRegister(
		lookups("hit", func(h, _ uint64) uint64 { return h }),
		lookups("miss", func(_, mi uint64) uint64 { return mi }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "pdp_decision_cache_entries",
			Help: "Decisions held in the current revision's cache.",
		}, func() float64 {
			_, _, n := stats()
			return float64(n)
		}),
	)
}
