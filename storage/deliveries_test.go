package storage

import (
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

func TestDeliveriesOutboxPosition(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	now := messages.TimeOf(time.Now())
	sub := &messages.Subscription{ID: messages.NewID(time.Now()), URL: "https://h.example.com/", Events: []string{"*"},
		Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateSubscription(sub, "whsec_one", messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	d1 := &messages.Delivery{ID: messages.NewID(time.Now()), SubscriptionID: sub.ID, EventID: "evt_7_x", EventSeq: 7,
		Type: "execution.failed", Status: messages.DeliveryPending, CreatedAt: now}
	if err := s.SaveDelivery(d1, messages.OutboxChange{Head: true}); err != nil {
		t.Fatal(err)
	}
	d2 := &messages.Delivery{ID: messages.NewID(time.Now().Add(time.Millisecond)), SubscriptionID: sub.ID, EventID: "evt_ping",
		Type: "ping", Status: messages.DeliveryDelivered, CreatedAt: now}
	if err := s.SaveDelivery(d2, messages.OutboxChange{}); err != nil {
		t.Fatal(err)
	}
	since := now
	d1.Status, d1.Attempts = messages.DeliveryDelivered, 1
	if err := s.SaveDelivery(d1, messages.OutboxChange{Cursor: 7, FailingSince: &since, Disable: true}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openTestStore(t, dir)
	defer s.Close()
	o, err := s.OutboxState(sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if o.Cursor != 7 || o.Head == nil || o.Head.ID != d1.ID || o.Head.EventSeq != 7 || o.Head.Status != messages.DeliveryDelivered ||
		o.FailingSince != now || o.Sub.Enabled {
		t.Fatalf("outbox state after reopen: %+v head %+v", o, o.Head)
	}
	on := true
	if _, err := s.UpdateSubscription(sub.ID, messages.SubscriptionChange{Enabled: &on}, messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	if o, _ := s.OutboxState(sub.ID); o.FailingSince != 0 || !o.Sub.Enabled || o.Cursor != 7 {
		t.Fatalf("re-enabled: %+v", o)
	}
	list, total, err := s.ListDeliveries(sub.ID, messages.Page{Page: 1, Limit: 10})
	if err != nil || total != 2 || len(list) != 2 || list[0].ID != d2.ID || list[1].ID != d1.ID {
		t.Fatalf("list: %v %d %v", list, total, err)
	}
	if list, total, _ := s.ListDeliveries(sub.ID, messages.Page{Page: 2, Limit: 1}); total != 2 || len(list) != 1 || list[0].ID != d1.ID {
		t.Fatalf("page 2: %v %d", list, total)
	}
	if _, _, err := s.ListDeliveries("nope", messages.Page{Page: 1, Limit: 10}); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Fatalf("unknown subscription: %v", err)
	}
	if err := s.DeleteSubscription(sub.ID, messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.GetDelivery(sub.ID, d1.ID); d != nil {
		t.Fatal("a deleted subscription's delivery is still stored")
	}
	if err := s.SaveDelivery(d1, messages.OutboxChange{}); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Fatalf("save after delete: %v", err)
	}
}
