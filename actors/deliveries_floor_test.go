package actors

import (
	"crypto/ed25519"
	"crypto/rand"
	"math"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
	"github.com/exekra/orchestrator/storage"
)

// floorStore records the retention floor the subscriptions owner sets.
type floorStore struct {
	*storage.Store
	floor atomic.Uint64
}

func (f *floorStore) SetEventsFloor(v uint64) { f.floor.Store(v); f.Store.SetEventsFloor(v) }

func TestDeliveriesRetentionFloorIsTheSlowestEnabledCursor(t *testing.T) {
	st, err := storage.Open(t.TempDir(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fs := &floorStore{Store: st}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	sys, err := Start(Config{LicenseKey: pub, OutboundAllowLoopback: true}, fs)
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Stop()
	if fs.floor.Load() != math.MaxUint64 {
		t.Fatalf("no subscription: floor %d", fs.floor.Load())
	}
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer ok.Close()
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer dead.Close()
	create := func(url string) string {
		res, err := sys.Ask(&messages.CreateSubscription{URL: url, Events: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		return res.(*messages.Subscription).ID
	}
	okID := create(ok.URL)
	deadID := create(dead.URL)
	if err := st.AppendEvents([]messages.Event{{Type: messages.EventRunner, Data: []byte(`{}`), Outbound: []string{"runner.online"}}}); err != nil {
		t.Fatal(err)
	}
	seq := st.LastEventSeq()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out: %s (floor %d, event %d)", what, fs.floor.Load(), seq)
			}
		}
	}
	// The dead receiver's cursor stays before the event: the floor holds it.
	waitFor("delivered to the live receiver", func() bool {
		o, _ := st.OutboxState(deadID)
		live, _ := st.OutboxState(okID)
		return o != nil && len(o.Window) == 1 && o.Window[0].Attempts >= 1 && live != nil && live.Cursor == seq
	})
	if got := fs.floor.Load(); got != seq-1 {
		t.Fatalf("floor %d, want %d (the dead subscription's cursor)", got, seq-1)
	}
	// Disabled, it holds nothing back: the live one has passed the event.
	off := false
	if _, err := sys.Ask(&messages.UpdateSubscription{ID: deadID, Change: messages.SubscriptionChange{Enabled: &off}}); err != nil {
		t.Fatal(err)
	}
	waitFor("the floor at the live cursor", func() bool { return fs.floor.Load() == seq })
}
