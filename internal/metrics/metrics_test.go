package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape GETs /metrics from m's handler and parses it as Prometheus does.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// find returns the metric of family name whose labels are exactly labels.
func find(fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		return m
	}
	return nil
}

func counter(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	m := find(fams, name, labels)
	if m == nil {
		t.Fatalf("no %s%v", name, labels)
	}
	return m.GetCounter().GetValue()
}

func TestScrape(t *testing.T) {
	m := New()

	fams := scrape(t, m)
	for _, e := range Endpoints {
		for _, d := range []string{"allow", "deny", "error"} {
			if v := counter(t, fams, "pdp_decisions_total", map[string]string{"endpoint": e, "decision": d}); v != 0 {
				t.Errorf("%s %s starts at %v", e, d, v)
			}
		}
	}
	for _, o := range []string{ReloadOK, ReloadFailed, ReloadUnchanged} {
		if v := counter(t, fams, "pdp_reloads_total", map[string]string{"outcome": o}); v != 0 {
			t.Errorf("reloads %s starts at %v", o, v)
		}
	}
	if v := counter(t, fams, "pdp_decision_log_errors_total", nil); v != 0 {
		t.Errorf("decision log errors start at %v", v)
	}
	if fams["pdp_snapshot_info"] != nil || fams["pdp_snapshot_loaded_timestamp_seconds"] != nil {
		t.Error("snapshot metrics before any snapshot")
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}

	m.ObserveDecision(EndpointEvaluation, true, false, 30*time.Microsecond)
	m.ObserveDecision(EndpointEvaluation, true, false, 2*time.Millisecond)
	m.ObserveDecision(EndpointEvaluation, false, false, 40*time.Microsecond)
	m.ObserveDecision(EndpointForwardAuth, false, true, 150*time.Millisecond)
	for _, allow := range []bool{true, false, true} {
		m.CountDecision(EndpointEvaluations, allow, false)
	}
	m.ObserveDuration(EndpointEvaluations, 90*time.Microsecond)
	m.ObserveHTTP("/access/v1/evaluation", 200)
	m.ObserveHTTP("/access/v1/evaluation", 200)
	m.ObserveHTTP("/access/v1/evaluation", 400)
	m.ObserveHTTP("", 404)
	m.Reload(ReloadOK)
	m.Reload(ReloadFailed)
	m.Reload(ReloadFailed)
	m.DecisionLogErrors(3)
	loaded := time.Date(2025, 3, 1, 12, 0, 0, 500_000_000, time.UTC)
	m.SetSnapshot("rev-1", loaded)

	fams = scrape(t, m)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"pdp_decisions_total", map[string]string{"endpoint": "evaluation", "decision": "allow"}, 2},
		{"pdp_decisions_total", map[string]string{"endpoint": "evaluation", "decision": "deny"}, 1},
		{"pdp_decisions_total", map[string]string{"endpoint": "evaluation", "decision": "error"}, 0},
		{"pdp_decisions_total", map[string]string{"endpoint": "forward_auth", "decision": "error"}, 1},
		{"pdp_decisions_total", map[string]string{"endpoint": "forward_auth", "decision": "deny"}, 0},
		{"pdp_decisions_total", map[string]string{"endpoint": "evaluations", "decision": "allow"}, 2},
		{"pdp_decisions_total", map[string]string{"endpoint": "evaluations", "decision": "deny"}, 1},
		{"pdp_http_requests_total", map[string]string{"route": "/access/v1/evaluation", "code": "200"}, 2},
		{"pdp_http_requests_total", map[string]string{"route": "/access/v1/evaluation", "code": "400"}, 1},
		{"pdp_http_requests_total", map[string]string{"route": "unmatched", "code": "404"}, 1},
		{"pdp_reloads_total", map[string]string{"outcome": "ok"}, 1},
		{"pdp_reloads_total", map[string]string{"outcome": "failed"}, 2},
		{"pdp_reloads_total", map[string]string{"outcome": "unchanged"}, 0},
		{"pdp_decision_log_errors_total", nil, 3},
	} {
		if got := counter(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	h := find(fams, "pdp_decision_duration_seconds", map[string]string{"endpoint": "evaluation"}).GetHistogram()
	if h.GetSampleCount() != 3 {
		t.Errorf("evaluation histogram count %d, want 3", h.GetSampleCount())
	}
	cum := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		cum[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	for le, want := range map[float64]uint64{10e-6: 0, 25e-6: 0, 50e-6: 2, 1e-3: 2, 2.5e-3: 3, 1: 3} {
		if cum[le] != want {
			t.Errorf("evaluation histogram le=%g: %d, want %d", le, cum[le], want)
		}
	}
	if len(h.GetBucket()) != len(DurationBuckets)+1 { // the text format adds +Inf
		t.Errorf("%d buckets, want %d", len(h.GetBucket()), len(DurationBuckets)+1)
	}
	if got := find(fams, "pdp_decision_duration_seconds", map[string]string{"endpoint": "evaluations"}).GetHistogram().GetSampleCount(); got != 1 {
		t.Errorf("evaluations histogram count %d, want 1 (one per batch)", got)
	}
	if got := find(fams, "pdp_decision_duration_seconds", map[string]string{"endpoint": "forward_auth"}).GetHistogram().GetSampleSum(); got != 0.15 {
		t.Errorf("forward_auth histogram sum %v, want 0.15", got)
	}

	checkSnapshot(t, fams, "rev-1", loaded)
	m.SetSnapshot("rev-2", loaded.Add(time.Minute))
	checkSnapshot(t, scrape(t, m), "rev-2", loaded.Add(time.Minute))
}

func checkSnapshot(t *testing.T, fams map[string]*dto.MetricFamily, revision string, loaded time.Time) {
	t.Helper()
	info := fams["pdp_snapshot_info"]
	if info == nil || len(info.GetMetric()) != 1 {
		t.Fatalf("pdp_snapshot_info: %v", info)
	}
	if m := find(fams, "pdp_snapshot_info", map[string]string{"revision": revision}); m == nil || m.GetGauge().GetValue() != 1 {
		t.Errorf("pdp_snapshot_info{revision=%q}: %v", revision, m)
	}
	ts := find(fams, "pdp_snapshot_loaded_timestamp_seconds", nil)
	if want := float64(loaded.UnixNano()) / 1e9; ts.GetGauge().GetValue() != want {
		t.Errorf("loaded timestamp %v, want %v", ts.GetGauge().GetValue(), want)
	}
}

func TestHotPathDoesNotAllocate(t *testing.T) {
	m := New()
	m.ObserveHTTP("/access/v1/evaluation", 200) // first sight of a route resolves it
	for _, e := range Endpoints {
		if n := testing.AllocsPerRun(1000, func() { m.ObserveDecision(e, true, false, 25*time.Microsecond) }); n != 0 {
			t.Errorf("ObserveDecision(%s): %v allocs", e, n)
		}
		if n := testing.AllocsPerRun(1000, func() { m.CountDecision(e, false, true) }); n != 0 {
			t.Errorf("CountDecision(%s): %v allocs", e, n)
		}
	}
	if n := testing.AllocsPerRun(1000, func() { m.ObserveHTTP("/access/v1/evaluation", 200) }); n != 0 {
		t.Errorf("ObserveHTTP: %v allocs", n)
	}
	if n := testing.AllocsPerRun(1000, func() { m.Reload(ReloadOK) }); n != 0 {
		t.Errorf("Reload: %v allocs", n)
	}
}

func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.ObserveDecision(EndpointData, true, false, time.Millisecond)
	m.CountDecision(EndpointData, true, false)
	m.ObserveDuration(EndpointData, time.Millisecond)
	m.ObserveHTTP("", 404)
	m.Reload(ReloadOK)
	m.SetSnapshot("r", time.Now())
	m.DecisionLogErrors(1)
}

func TestUnknownLabelsStillCount(t *testing.T) {
	m := New()
	m.ObserveDecision("other", true, false, time.Millisecond)
	m.Reload("weird")
	fams := scrape(t, m)
	if v := counter(t, fams, "pdp_decisions_total", map[string]string{"endpoint": "other", "decision": "allow"}); v != 1 {
		t.Errorf("unknown endpoint: %v", v)
	}
	if v := counter(t, fams, "pdp_reloads_total", map[string]string{"outcome": "weird"}); v != 1 {
		t.Errorf("unknown outcome: %v", v)
	}
}

func TestConcurrentUse(t *testing.T) {
	m := New()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				m.ObserveHTTP(fmt.Sprintf("/r%d", i%7), 200+g)
				m.ObserveDecision(Endpoints[i%len(Endpoints)], i%2 == 0, i%5 == 0, time.Duration(i)*time.Microsecond)
				if i%100 == 0 {
					m.SetSnapshot(fmt.Sprintf("rev-%d", i), time.Now())
				}
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			_ = scrape(t, m)
		}
	})
	wg.Wait()
	fams := scrape(t, m)
	var total float64
	for _, mm := range fams["pdp_http_requests_total"].GetMetric() {
		total += mm.GetCounter().GetValue()
	}
	if total != 2000 || len(fams["pdp_http_requests_total"].GetMetric()) != 28 {
		t.Errorf("%v requests in %d series, want 2000 in 28", total, len(fams["pdp_http_requests_total"].GetMetric()))
	}
	if len(fams["pdp_snapshot_info"].GetMetric()) != 1 {
		t.Errorf("%d snapshot_info series, want 1", len(fams["pdp_snapshot_info"].GetMetric()))
	}
}

func BenchmarkObserveDecision(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for range b.N {
		m.ObserveDecision(EndpointEvaluation, true, false, 25*time.Microsecond)
	}
}

func BenchmarkObserveHTTP(b *testing.B) {
	m := New()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveHTTP("/access/v1/evaluation", 200)
		}
	})
}
