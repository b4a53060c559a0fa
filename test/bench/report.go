package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// report prints the run as Markdown: the set-up, every run, the medians
// over rounds and the ratios issue 6 sets targets for.
func report(w io.Writer, r *runner) {
	c, e := r.c, r.env
	fmt.Fprintf(w, "## pdp benchmark: %s\n\n", r.ds.desc)
	fmt.Fprintf(w, "- machine: %s, %d CPUs, %s; load average %s before, %s after (on a shared machine absolute figures are noisy: compare the ratios, measured in one run)\n",
		e.cpu, e.cores, e.goVersion, e.loadBefore, e.loadAfter)
	mix := fmt.Sprintf("%d AuthZEN requests", len(r.ds.bodies))
	if r.ds.pool > 0 {
		mix = fmt.Sprintf("a sequence of %d AuthZEN requests drawn from %d distinct ones, recurring by Zipf %.2g (each connection starts at its own place in it)", len(r.ds.bodies), r.ds.pool, r.ds.zipf)
	}
	fmt.Fprintf(w, "- data: %d files, %.1f MiB (accounts/<id>/data.json, loaded alike by pdp and opa); mix: %s\n",
		r.ds.files, mib(r.ds.bytes), mix)
	fmt.Fprintf(w, "- servers: pdp (--decision-log off --log-level warn), opa %s (`go tool opa run --server --log-level error`, same policies/ and data), ceiling (Gin JSON bind, constant decision)\n", e.opaVersion)
	if !c.readyOnly {
		fmt.Fprintf(w, "- load: %d keep-alive connections, %s per run after %s warm-up, %d interleaved round(s); the load generator runs in the harness process and shares the %d cores with the server (as wrk would)\n",
			c.conns, c.duration, c.warmup, c.rounds, e.cores)
		fmt.Fprintf(w, "- command: go run ./test/bench %s   (%s)\n", strings.Join(argsOf(c), " "), e.when.Format("2006-01-02 15:04 UTC"))
	}
	for _, m := range r.of("pdp") {
		if m.cache != "" {
			fmt.Fprintf(w, "- round %d pdp decision cache after its max-throughput run: %s\n", m.round, m.cache)
		}
	}
	if agree := r.agreement(); agree != "" {
		fmt.Fprintf(w, "- %s\n", agree)
	}
	fmt.Fprintln(w)

	if !c.readyOnly {
		t := table{head: []string{"round", "server", "decisions/s", "p50", "p99", "failed", "server CPU/decision", "RSS under load", fmt.Sprintf("p99 at half pdp max"), "batch decisions/s"}}
		for _, m := range r.results {
			row := []string{fmt.Sprint(m.round), m.server, rate(m.max.Throughput()), dur(m.max.Percentile(50)), dur(m.max.Percentile(99)),
				fmt.Sprint(m.max.Failed), dur(cpuPerDecision(m)), fmt.Sprintf("%.0f MiB", mib(m.loadRSS)), "–", "–"}
			if m.atRate != nil {
				row[8] = fmt.Sprintf("%s at %s/s", dur(m.atRate.Percentile(99)), rate(m.rate))
			}
			if m.batch != nil {
				row[9] = fmt.Sprintf("%s (%d/request)", rate(m.batch.Throughput()*float64(c.batch)), c.batch)
			}
			t.add(row...)
		}
		fmt.Fprintln(w, "Every run:")
		fmt.Fprintln(w)
		t.print(w)
		fmt.Fprintln(w)
	}

	t := table{head: []string{"server", "time to ready", "idle RSS", "VmHWM"}}
	if !c.readyOnly {
		t.head = append(t.head, "RSS under load", "decisions/s", "p99", "p99 at half pdp max", "server CPU/decision")
	}
	for _, name := range r.servers() {
		ms := r.of(name)
		row := []string{name, dur(medianDur(ms, func(m *measurement) time.Duration { return m.ready })),
			fmt.Sprintf("%.0f MiB", mib(int64(median(ms, func(m *measurement) float64 { return float64(m.idleRSS) })))),
			fmt.Sprintf("%.0f MiB", mib(int64(median(ms, func(m *measurement) float64 { return float64(m.hwm) }))))}
		if !c.readyOnly {
			row = append(row,
				fmt.Sprintf("%.0f MiB", mib(int64(median(ms, func(m *measurement) float64 { return float64(m.loadRSS) })))),
				rate(median(ms, func(m *measurement) float64 { return m.max.Throughput() })),
				dur(medianDur(ms, func(m *measurement) time.Duration { return m.max.Percentile(99) })),
				"–",
				dur(medianDur(ms, cpuPerDecision)))
			if ms[0].atRate != nil {
				row[7] = dur(medianDur(ms, func(m *measurement) time.Duration { return m.atRate.Percentile(99) }))
			}
		}
		t.add(row...)
	}
	fmt.Fprintf(w, "Medians over %d round(s):\n\n", c.rounds)
	t.print(w)
	fmt.Fprintln(w)

	rt := table{head: []string{"figure (median of per-round ratios)", "measured", "target", ""}}
	ratio := func(figure, target string, want float64, atLeast bool, num, den string, f func(m *measurement) float64) {
		var vs []float64
		for round := 1; round <= c.rounds; round++ {
			a, b := r.find(num, round), r.find(den, round)
			if a == nil || b == nil || f(b) == 0 {
				return
			}
			vs = append(vs, f(a)/f(b))
		}
		v := medianOf(vs)
		rt.add(figure, fmt.Sprintf("%.2f×", v), target, verdict(want == 0 || (atLeast && v >= want) || (!atLeast && v <= want), want == 0))
	}
	tput := func(m *measurement) float64 { return m.max.Throughput() }
	// The 3× targets are the for 100k users: elsewhere the ratios
	// are shown without a verdict.
	threeX, three := "", 0.0
	if r.ds.users >= 100_000 {
		threeX, three = "≥ 3 (100k users)", 3
	}
	if !c.readyOnly {
		ratio("HTTP decisions/s, pdp ÷ opa", "≥ 2.0", 2, true, "pdp", "opa", tput)
		ratio("HTTP decisions/s, pdp ÷ ceiling", "≥ 0.75", 0.75, true, "pdp", "ceiling", tput)
		ratio("server CPU per decision, opa ÷ pdp", "", 0, true, "opa", "pdp", func(m *measurement) float64 { return float64(cpuPerDecision(m)) })
		if c.batch > 0 {
			ratio(fmt.Sprintf("batch decisions/s (%d per request), pdp ÷ ceiling", c.batch), "", 0, true, "pdp", "ceiling",
				func(m *measurement) float64 {
					if m.batch == nil {
						return 0
					}
					return m.batch.Throughput()
				})
		}
		ratio("RSS under load, opa ÷ pdp", threeX, three, true, "opa", "pdp", func(m *measurement) float64 { return float64(m.loadRSS) })
	}
	ratio("time to ready, opa ÷ pdp", threeX, three, true, "opa", "pdp", func(m *measurement) float64 { return float64(m.ready) })
	ratio("idle RSS, opa ÷ pdp", "", 0, true, "opa", "pdp", func(m *measurement) float64 { return float64(m.idleRSS) })
	if pdp := r.of("pdp"); len(pdp) > 0 {
		ready := medianDur(pdp, func(m *measurement) time.Duration { return m.ready })
		if pdp[0].atRate != nil {
			p99 := medianDur(pdp, func(m *measurement) time.Duration { return m.atRate.Percentile(99) })
			rt.add("pdp p99 at half of its max throughput", dur(p99), "≤ 1 ms", verdict(p99 <= time.Millisecond, false))
		}
		switch {
		case r.ds.users >= 100_000:
			rss := int64(median(pdp, func(m *measurement) float64 { return float64(max(m.loadRSS, m.idleRSS)) }))
			rt.add("pdp time to ready (100k users)", dur(ready), "≤ 2 s", verdict(ready <= 2*time.Second, false))
			rt.add("pdp RSS under load (100k users)", fmt.Sprintf("%.0f MiB", mib(rss)), "≤ 400 MiB", verdict(mib(rss) <= 400, false))
		case c.users == "shipped" && c.accounts == 0:
			idle := int64(median(pdp, func(m *measurement) float64 { return float64(m.idleRSS) }))
			rt.add("pdp idle RSS (shipped data)", fmt.Sprintf("%.0f MiB", mib(idle)), "≤ 40 MiB", verdict(mib(idle) <= 40, false))
			rt.add("pdp start to ready (shipped data)", dur(ready), "≤ 0.2 s", verdict(ready <= 200*time.Millisecond, false))
		}
	}
	fmt.Fprintln(w, "Ratios and targets (issue 6):")
	fmt.Fprintln(w)
	rt.print(w)
}

func verdict(ok, informational bool) string {
	switch {
	case informational:
		return ""
	case ok:
		return "met"
	}
	return "NOT met"
}

// agreement says whether pdp and opa decided the checked requests alike.
func (r *runner) agreement() string {
	p, o := r.decisions["pdp"], r.decisions["opa"]
	if len(p) == 0 {
		return ""
	}
	allowed := 0
	for _, d := range p {
		if d {
			allowed++
		}
	}
	s := fmt.Sprintf("%d%% of the first %d requests of the mix are allowed", (100*allowed+len(p)/2)/len(p), len(p))
	if len(o) == len(p) {
		differ := 0
		for i := range p {
			if p[i] != o[i] {
				differ++
			}
		}
		if differ == 0 {
			s += "; pdp and opa decided every one alike"
		} else {
			s += fmt.Sprintf("; pdp and opa DISAGREE on %d of them", differ)
		}
	}
	return s
}

func (r *runner) servers() []string {
	var out []string
	for _, m := range r.results {
		if !slices.Contains(out, m.server) {
			out = append(out, m.server)
		}
	}
	return out
}

func (r *runner) of(server string) []*measurement {
	var out []*measurement
	for _, m := range r.results {
		if m.server == server {
			out = append(out, m)
		}
	}
	return out
}

func (r *runner) find(server string, round int) *measurement {
	for _, m := range r.results {
		if m.server == server && m.round == round {
			return m
		}
	}
	return nil
}

func cpuPerDecision(m *measurement) time.Duration {
	if m.max == nil || m.max.OK == 0 {
		return 0
	}
	return m.maxCPU / time.Duration(m.max.OK)
}

func median(ms []*measurement, f func(*measurement) float64) float64 {
	vs := make([]float64, len(ms))
	for i, m := range ms {
		vs[i] = f(m)
	}
	return medianOf(vs)
}

func medianDur(ms []*measurement, f func(*measurement) time.Duration) time.Duration {
	return time.Duration(median(ms, func(m *measurement) float64 { return float64(f(m)) }))
}

func medianOf(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func rate(v float64) string {
	if v >= 10000 {
		return fmt.Sprintf("%.1fk", v/1000)
	}
	return fmt.Sprintf("%.0f", v)
}

func dur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

func argsOf(c config) []string {
	var out []string
	if c.accounts > 0 {
		out = append(out, fmt.Sprintf("-accounts %d -users-per-account %d", c.accounts, c.usersPerAccount))
	} else {
		out = append(out, "-users "+c.users)
	}
	out = append(out, fmt.Sprintf("-c %d -duration %s -rounds %d", c.conns, c.duration, c.rounds))
	return out
}

// table is a Markdown table with aligned columns.
type table struct {
	head []string
	rows [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) print(w io.Writer) {
	width := make([]int, len(t.head))
	for _, row := range append([][]string{t.head}, t.rows...) {
		for i, cell := range row {
			width[i] = max(width[i], len([]rune(cell)))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		b.WriteString("|")
		for i := range t.head {
			cell := ""
			if i < len(cells) {
				cell = cells[i]
			}
			fmt.Fprintf(&b, " %s%s |", cell, strings.Repeat(" ", width[i]-len([]rune(cell))))
		}
		fmt.Fprintln(w, b.String())
	}
	line(t.head)
	sep := make([]string, len(t.head))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, row := range t.rows {
		line(row)
	}
}
