package actors

import (
	"context"
	"errors"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// outboundTimeout bounds one delivery attempt (SPEC §17: 10 s).
const outboundTimeout = 10 * time.Second

// errOutboundLoopback refuses a connection to a loopback or link-local
// address (a host name that resolves to one, say) without
// --outbound-allow-loopback.
var errOutboundLoopback = errors.New("the target resolves to a loopback or link-local address")

// outboundClient is the HTTP client of event deliveries: 10 s per attempt,
// no redirects followed (a 3xx is an answer, not a success), no proxy from
// the environment, and — unless allowLoopback — no connection to a
// loopback or link-local address, checked on the address actually dialled
// (after name resolution, so a name cannot smuggle one in).
func outboundClient(allowLoopback bool) *http.Client {
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
	transport := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		},
		TLSHandshakeTimeout:   outboundTimeout,
		ResponseHeaderTimeout: outboundTimeout,
		// A subscription has up to a window of deliveries in flight:
		// keep that many connections to a receiver alive between them.
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: deliveryWindow,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{
		Timeout:       outboundTimeout,
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
