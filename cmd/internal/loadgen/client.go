package loadgen

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Client sends HTTP requests to one host through a fasthttp.HostClient. The
// same Client code drives the baseline server and the orchestrator, so the
// two measurements differ only in the server.
type Client struct {
	hc      *fasthttp.HostClient
	timeout time.Duration
}

// NewClient returns a client for addr ("127.0.0.1:4545") that keeps at most
// maxConns connections open; timeout bounds every request that sets none.
func NewClient(addr string, useTLS bool, maxConns int, timeout time.Duration) *Client {
	hc := &fasthttp.HostClient{
		Addr:                     addr,
		Name:                     "exekra-loadtest",
		MaxConns:                 maxConns,
		MaxConnWaitTimeout:       timeout,
		MaxIdleConnDuration:      5 * time.Second, // well under any server idle timeout
		ReadBufferSize:           16 << 10,
		NoDefaultUserAgentHeader: true,
	}
	if useTLS {
		hc.IsTLS = true
		// Only reached with an explicit --url https://...: a self-signed
		// server certificate is the norm for a dev orchestrator.
		hc.TLSConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // load testing a local server
	}
	return &Client{hc: hc, timeout: timeout}
}

// parseTarget turns a base URL into a host:port address and a TLS flag.
func parseTarget(raw string) (addr string, useTLS bool, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false, fmt.Errorf("bad --url: %w", err)
	}
	switch u.Scheme {
	case "http":
	case "https":
		useTLS = true
	default:
		return "", false, fmt.Errorf("bad --url %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return "", false, fmt.Errorf("bad --url %q: no host", raw)
	}
	addr = u.Host
	if u.Port() == "" {
		if useTLS {
			addr += ":443"
		} else {
			addr += ":80"
		}
	}
	return addr, useTLS, nil
}

// Request is one HTTP request; Token, when set, goes out as a Bearer token.
type Request struct {
	Method  string
	Path    string
	Body    []byte
	Token   string
	Timeout time.Duration
	Header  map[string]string
}

// Response is a copy of what came back; nothing in it belongs to fasthttp.
type Response struct {
	Status  int
	Body    []byte
	Cookies map[string]string
	Latency time.Duration
}

// Do sends req and, when rec is not nil, records the outcome under op.
// A transport failure is returned as an error and counted by its kind.
func (c *Client) Do(rec *Recorder, op string, req Request) (Response, error) {
	freq := fasthttp.AcquireRequest()
	fresp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(freq)
	defer fasthttp.ReleaseResponse(fresp)

	freq.Header.SetMethod(req.Method)
	freq.SetRequestURI(req.Path)
	freq.Header.SetHost(c.hc.Addr)
	if req.Token != "" {
		freq.Header.Set("Authorization", "Bearer "+req.Token)
	}
	for k, v := range req.Header {
		freq.Header.Set(k, v)
	}
	if req.Body != nil {
		freq.Header.SetContentType("application/json")
		freq.SetBodyRaw(req.Body)
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = c.timeout
	}
	start := time.Now()
	err := c.hc.DoTimeout(freq, fresp, timeout)
	latency := time.Since(start)
	if err != nil {
		rec.RecordError(op, errorKind(err))
		return Response{Latency: latency}, err
	}
	out := Response{
		Status:  fresp.StatusCode(),
		Body:    append([]byte(nil), fresp.Body()...),
		Latency: latency,
	}
	for key, value := range fresp.Header.Cookies() {
		if out.Cookies == nil {
			out.Cookies = map[string]string{}
		}
		var ck fasthttp.Cookie
		if ck.ParseBytes(value) == nil {
			out.Cookies[string(key)] = string(ck.Value())
		}
	}
	rec.Record(op, out.Status, latency)
	return out, nil
}

// Close drops idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// errorKind names a transport error briefly for the error table.
func errorKind(err error) string {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout):
		return "timeout"
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return "no free connections"
	case errors.Is(err, fasthttp.ErrConnectionClosed):
		return "connection closed"
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "connection refused"):
		return "connection refused"
	case strings.Contains(msg, "reset by peer"):
		return "connection reset"
	case strings.Contains(msg, "too many open files"):
		return "too many open files"
	case strings.Contains(msg, "timeout"):
		return "timeout"
	}
	if len(msg) > 60 {
		msg = msg[:60]
	}
	return msg
}

// opRecord is what a Recorder keeps for one operation.
type opRecord struct {
	hist      *Histogram
	statuses  map[int]int64
	transport map[string]int64
}

// Recorder collects latencies and outcomes per operation; it is safe for
// concurrent use. A nil *Recorder records nothing.
type Recorder struct {
	mu  sync.Mutex
	ops map[string]*opRecord
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder {
	return &Recorder{ops: map[string]*opRecord{}}
}

func (r *Recorder) op(name string) *opRecord {
	o := r.ops[name]
	if o == nil {
		o = &opRecord{hist: NewHistogram(), statuses: map[int]int64{}, transport: map[string]int64{}}
		r.ops[name] = o
	}
	return o
}

// Record adds one completed request.
func (r *Recorder) Record(op string, status int, latency time.Duration) {
	if r == nil {
		return
	}
	r.mu.Lock()
	o := r.op(op)
	o.hist.Record(latency)
	o.statuses[status]++
	r.mu.Unlock()
}

// RecordError adds one request that failed below HTTP.
func (r *Recorder) RecordError(op, kind string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.op(op).transport[kind]++
	r.mu.Unlock()
}

// RecordSample adds a latency that is not a request (dispatch delay, say):
// it shows up as an operation but is left out of the request totals.
func (r *Recorder) RecordSample(op string, d time.Duration) {
	r.Record(op, 0, d)
}

// OpStats is the summary of one operation.
type OpStats struct {
	Name     string           `json:"name"`
	Count    int64            `json:"count"`
	RPS      float64          `json:"rps"`
	P50ms    float64          `json:"p50Ms"`
	P99ms    float64          `json:"p99Ms"`
	MaxMs    float64          `json:"maxMs"`
	Errors   map[string]int64 `json:"errors,omitempty"`
	IsSample bool             `json:"isSample,omitempty"`
}

// Summary is the merged view of a Recorder over an elapsed time.
type Summary struct {
	Requests int64            `json:"requests"`
	RPS      float64          `json:"rps"`
	P50ms    float64          `json:"p50Ms"`
	P99ms    float64          `json:"p99Ms"`
	MaxMs    float64          `json:"maxMs"`
	Errors   map[string]int64 `json:"errors"`
	Ops      []OpStats        `json:"ops"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Summarize merges every request operation into totals and lists each
// operation on its own. Statuses of 400 and above, and transport failures,
// count as errors ("status 409", "timeout").
func (r *Recorder) Summarize(elapsed time.Duration) Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	all := NewHistogram()
	sum := Summary{Errors: map[string]int64{}}
	names := make([]string, 0, len(r.ops))
	for name := range r.ops {
		names = append(names, name)
	}
	sort.Strings(names)
	secs := elapsed.Seconds()
	for _, name := range names {
		o := r.ops[name]
		st := OpStats{
			Name:  name,
			Count: o.hist.Count(),
			P50ms: ms(o.hist.Percentile(50)),
			P99ms: ms(o.hist.Percentile(99)),
			MaxMs: ms(o.hist.Max()),
		}
		sample := len(o.statuses) == 1 && o.statuses[0] > 0
		st.IsSample = sample
		if secs > 0 {
			st.RPS = float64(st.Count) / secs
		}
		for status, n := range o.statuses {
			if status >= 400 {
				if st.Errors == nil {
					st.Errors = map[string]int64{}
				}
				st.Errors["status "+strconv.Itoa(status)] += n
			}
		}
		for kind, n := range o.transport {
			if st.Errors == nil {
				st.Errors = map[string]int64{}
			}
			st.Errors[kind] += n
		}
		if !sample {
			all.Merge(o.hist)
			for k, n := range st.Errors {
				sum.Errors[k] += n
			}
		}
		sum.Ops = append(sum.Ops, st)
	}
	sum.Requests = all.Count()
	if secs > 0 {
		sum.RPS = float64(sum.Requests) / secs
	}
	sum.P50ms = ms(all.Percentile(50))
	sum.P99ms = ms(all.Percentile(99))
	sum.MaxMs = ms(all.Max())
	return sum
}
