package messages

// Delivery statuses (docs/api.md, "Event subscriptions").
const (
	DeliveryPending   = "PENDING"
	DeliveryDelivered = "DELIVERED"
	DeliveryFailed    = "FAILED"
)

// Audit actions of delivery outcomes that disable a subscription.
const (
	AuditSubscriptionGone    = "subscription.disabled.gone"
	AuditSubscriptionFailing = "subscription.disabled.failing"
)

// Delivery is one event sent (or to be sent) to one subscription.
// EventSeq is the event's place in the log (0 for a test ping).
type Delivery struct {
	ID             string `json:"id"`
	SubscriptionID string `json:"subscriptionId"`
	EventID        string `json:"eventId"`
	EventSeq       uint64 `json:"-"`
	Type           string `json:"type"`
	Status         string `json:"status"`
	Attempts       int    `json:"attempts"`
	LastStatusCode int    `json:"lastStatusCode"`
	LastError      string `json:"lastError"`
	NextAttemptAt  *Time  `json:"nextAttemptAt"`
	CreatedAt      Time   `json:"createdAt"`
	DeliveredAt    *Time  `json:"deliveredAt"`
}

// TestSubscription sends a ping event to a subscription now (ADMIN).
// Reply: *Delivery once the attempt has an outcome.
type TestSubscription struct {
	ID     string
	Origin Origin
}

// RetryDelivery attempts a PENDING or FAILED delivery again now (ADMIN).
// Reply: *Delivery once the attempt has an outcome.
type RetryDelivery struct {
	SubscriptionID string
	DeliveryID     string
	Origin         Origin
}

// OutboxState is a subscription's delivery state as stored: its record,
// its cursor (the last event passed), the delivery named its head (nil
// unless set), since when every attempt has failed (0: the last attempt
// succeeded), and the window: the stored deliveries whose event is after
// the cursor (answered out of order, or waiting for their next attempt).
type OutboxState struct {
	Sub          *Subscription
	Cursor       uint64
	Head         *Delivery
	FailingSince Time
	Window       []*Delivery
}

// OutboxChange is what one delivery outcome changes besides the delivery
// record, in the same transaction.
type OutboxChange struct {
	// Head makes the delivery the head of the subscription's queue.
	Head bool
	// Cursor moves the cursor forward to it (never back; 0 keeps it).
	Cursor uint64
	// FailingSince, when set, replaces the stored one (0 clears it).
	FailingSince *Time
	// Disable turns the subscription off (410 Gone, or failing too long).
	Disable bool
	Effects Effects
}
