// Package load is the HTTP load generator of pdp's benchmark: C keep-alive
// HTTP/1.1 connections on loopback, each sending pre-built requests in
// turn, either as fast as the server answers (closed loop) or at a fixed
// rate (open loop, wrk2-style: latency counts from when a request was due,
// so a stalled server cannot hide its queue).
//
// It writes raw requests and parses responses itself, without net/http,
// so that the generator costs as little CPU as possible: on a small
// machine it shares the cores with the server it measures, as wrk would.
package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Request builds a complete HTTP/1.1 POST of a JSON body.
func Request(path string, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, len(body))
	b.Write(body)
	return b.Bytes()
}

// Options is one load run.
type Options struct {
	Addr     string   // host:port
	Requests [][]byte // complete HTTP/1.1 requests (see Request), sent in turn
	Conns    int      // concurrent connections
	Duration time.Duration
	// Rate is the total requests per second over all connections; 0 sends
	// as fast as the server answers.
	Rate float64
}

// Result is what a run measured.
type Result struct {
	OK      int64 // 2xx answers
	Failed  int64 // other statuses and transport errors
	Elapsed time.Duration
	// Latencies of the 2xx answers, sorted. With a Rate they count from
	// the time each request was due, which includes any queueing.
	Latencies []time.Duration
	// Service latencies count from when each request was actually written
	// (sorted; the same as Latencies without a Rate). The difference to
	// Latencies is time the request waited for its turn: a late timer in
	// the generator, or a connection still busy with the previous request.
	Service  []time.Duration
	FirstErr error // the first failure, for the report
}

// Throughput is 2xx answers per second.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Percentile returns the p-th percentile (0 < p <= 100) of the latencies.
func (r *Result) Percentile(p float64) time.Duration { return percentile(r.Latencies, p) }

// ServicePercentile returns the p-th percentile of the service latencies.
func (r *Result) ServicePercentile(p float64) time.Duration { return percentile(r.Service, p) }

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Run loads o.Addr until o.Duration has passed or ctx is done.
func Run(ctx context.Context, o Options) (*Result, error) {
	if len(o.Requests) == 0 || o.Conns <= 0 || o.Duration <= 0 {
		return nil, errors.New("load: need requests, connections and a duration")
	}
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	workers := make([]*worker, o.Conns)
	start := time.Now()
	deadline := start.Add(o.Duration)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{opts: &o, next: i * len(o.Requests) / o.Conns, deadline: deadline}
		if o.Rate > 0 {
			w.interval = time.Duration(float64(o.Conns) / o.Rate * float64(time.Second))
			// Spread the connections' schedules evenly over one interval.
			w.due = start.Add(time.Duration(i) * w.interval / time.Duration(o.Conns))
		}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx)
		}()
	}
	wg.Wait()
	res := &Result{Elapsed: time.Since(start)}
	if res.Elapsed > o.Duration {
		res.Elapsed = o.Duration // requests in flight at the deadline were abandoned
	}
	for _, w := range workers {
		res.OK += w.ok
		res.Failed += w.failed
		res.Latencies = append(res.Latencies, w.lat...)
		res.Service = append(res.Service, w.svc...)
		if res.FirstErr == nil {
			res.FirstErr = w.err
		}
	}
	slices.Sort(res.Latencies)
	slices.Sort(res.Service)
	return res, nil
}

type worker struct {
	opts     *Options
	next     int
	deadline time.Time
	interval time.Duration // 0: closed loop
	due      time.Time

	conn net.Conn
	r    *bufio.Reader

	ok, failed int64
	lat, svc   []time.Duration
	err        error
}

func (w *worker) fail(err error) {
	w.failed++
	if w.err == nil {
		w.err = err
	}
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

func (w *worker) run(ctx context.Context) {
	defer func() {
		if w.conn != nil {
			w.conn.Close()
		}
	}()
	over := func() bool { return ctx.Err() != nil || !time.Now().Before(w.deadline) }
	for !over() {
		begin := time.Now()
		if w.interval > 0 {
			if !w.due.Before(w.deadline) {
				return
			}
			if d := w.due.Sub(begin); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
			begin = w.due
			w.due = w.due.Add(w.interval)
		}
		if w.conn == nil {
			c, err := net.DialTimeout("tcp", w.opts.Addr, time.Second)
			if err != nil {
				w.fail(err)
				time.Sleep(10 * time.Millisecond)
				continue
			}
			// The run's deadline also ends a read in flight.
			c.SetDeadline(w.deadline)
			w.conn, w.r = c, bufio.NewReaderSize(c, 16<<10)
		}
		sent := time.Now()
		req := w.opts.Requests[w.next]
		w.next = (w.next + 1) % len(w.opts.Requests)
		if _, err := w.conn.Write(req); err != nil {
			if !over() {
				w.fail(err)
			}
			continue
		}
		status, keep, err := readResponse(w.r)
		if err != nil {
			if !over() {
				w.fail(err)
			}
			continue
		}
		if status < 200 || status > 299 {
			w.fail(fmt.Errorf("HTTP status %d", status))
			continue
		}
		w.ok++
		now := time.Now()
		w.lat = append(w.lat, now.Sub(begin))
		w.svc = append(w.svc, now.Sub(sent))
		if !keep {
			w.conn.Close()
			w.conn = nil
		}
	}
}

// readResponse reads one response and discards its body. keep is false
// when the server closes the connection after it.
func readResponse(r *bufio.Reader) (status int, keep bool, err error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	keep = line[7] == '1'
	length, chunked := -1, false
	for {
		line, err = r.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		if len(line) <= 2 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, false, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keep = false
			}
		}
	}
	switch {
	case chunked:
		err = discardChunked(r)
	case length >= 0:
		_, err = r.Discard(length)
	default:
		_, err = io.Copy(io.Discard, r) // body until close
		keep = false
	}
	return status, keep, err
}

func discardChunked(r *bufio.Reader) error {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(bytes.TrimSpace(line), []byte(";"))
		n, err := strconv.ParseInt(string(size), 16, 64)
		if err != nil {
			return fmt.Errorf("bad chunk size %q", line)
		}
		if n == 0 {
			for { // trailers, then the final empty line
				line, err = r.ReadSlice('\n')
				if err != nil || len(line) <= 2 {
					return err
				}
			}
		}
		if _, err := r.Discard(int(n) + 2); err != nil {
			return err
		}
	}
}
