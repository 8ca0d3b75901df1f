package actors

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// outboundTimeout bounds one delivery attempt (docs/api.md: 10 s).
const outboundTimeout = 10 * time.Second

// outboundAnswerMax is the largest answer body read; a longer one fails the
// attempt (receivers answer with an empty or a short body).
const outboundAnswerMax = 1 << 20

// outboundIdle is how long a connection to a receiver is kept idle: below
// the keep-alive timeouts of common servers (5 s and up), so a connection
// the receiver has closed is rarely picked.
const outboundIdle = 4 * time.Second

// errOutboundLoopback refuses a connection to a loopback or link-local
// address (a host name that resolves to one, say) without
// --outbound-allow-loopback.
var errOutboundLoopback = errors.New("the target resolves to a loopback or link-local address")

// outbound is the HTTP client of event deliveries (fasthttp: a delivery
// costs one goroutine and no per-connection goroutines, which matters with
// a window of them in flight to each subscription): 10 s per attempt, no
// redirects followed (a 3xx is an answer, not a success), no proxy, and —
// unless allowLoopback — no connection to a loopback or link-local address,
// checked on the address actually dialled (after name resolution, so a
// name cannot smuggle one in). Connections are kept alive between
// deliveries, up to a window's worth to a receiver.
type outbound struct {
	client *fasthttp.Client
}

func outboundClient(allowLoopback bool) *outbound {
	dialer := &net.Dialer{Timeout: outboundTimeout, KeepAlive: 30 * time.Second}
	if !allowLoopback {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || messages.LoopbackAddr(ip) {
				return errOutboundLoopback
			}
			return nil
		}
	}
	return &outbound{client: &fasthttp.Client{
		NoDefaultUserAgentHeader: true,
		DialTimeout: func(addr string, timeout time.Duration) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(context.Background(), min(timeout, outboundTimeout))
			defer cancel()
			return dialer.DialContext(ctx, "tcp", addr)
		},
		MaxConnsPerHost:               4 * deliveryWindow,
		MaxConnWaitTimeout:            outboundTimeout,
		MaxIdleConnDuration:           outboundIdle,
		ReadTimeout:                   outboundTimeout,
		WriteTimeout:                  outboundTimeout,
		MaxResponseBodySize:           outboundAnswerMax,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		// A kept-alive connection the receiver closed meanwhile fails
		// before any answer: send once more on a new one (at least once
		// allows it; the receiver dedupes by webhook-id).
		RetryIfErr: func(_ *fasthttp.Request, attempts int, err error) (bool, bool) {
			return false, attempts < 2 && (errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, io.EOF))
		},
	}}
}

// post sends body signed with the secrets ("" ones are left out) and
// answers the status code.
func (o *outbound) post(url, id string, ts int64, body []byte, secrets ...string) (int, error) {
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.SetRequestURI(url)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.SetUserAgent(deliveryUserAgent)
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", messages.WebhookSignatureHeader(id, ts, body, secrets...))
	req.SetBodyRaw(body)
	if err := o.client.DoTimeout(req, res, outboundTimeout); err != nil {
		return 0, err
	}
	return res.StatusCode(), nil
}
