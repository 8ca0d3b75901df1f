package httpd

import (
	"testing"
	"time"
)

// TestServerTimeoutsBoundSlowClients: a client that trickles its request
// or never reads its answer is cut off (slowloris), and headers are read
// into a bounded buffer.
func TestServerTimeoutsBoundSlowClients(t *testing.T) {
	ft := newFuzzTarget(t)
	srv := ft.srv.srv
	if srv.ReadTimeout <= 0 || srv.ReadTimeout > 30*time.Second {
		t.Errorf("ReadTimeout %v: a slow client could hold a connection for ever", srv.ReadTimeout)
	}
	if srv.WriteTimeout <= 0 || srv.WriteTimeout > 2*time.Minute {
		t.Errorf("WriteTimeout %v", srv.WriteTimeout)
	}
	if srv.IdleTimeout <= 0 {
		t.Errorf("IdleTimeout %v: idle keep-alive connections are never closed", srv.IdleTimeout)
	}
	if srv.ReadBufferSize <= 0 || srv.ReadBufferSize > 64<<10 {
		t.Errorf("ReadBufferSize %d: headers are not bounded", srv.ReadBufferSize)
	}
	if srv.MaxRequestBodySize <= 0 || srv.MaxRequestBodySize > 64<<20 {
		t.Errorf("MaxRequestBodySize %d", srv.MaxRequestBodySize)
	}
}
