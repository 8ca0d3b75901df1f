package messages

import (
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Outbound event types a subscription may ask for (docs/api.md,
// "Event subscriptions"); "*" asks for all of them.
var OutboundEventTypes = []string{
	"execution.completed", "execution.failed", "execution.stopped", "execution.stale",
	"runner.online", "runner.offline", "trigger.skipped",
	"license.expiring", "license.grace_period", "license.expired", "ping",
}

// Audit actions of subscriptions.
const (
	AuditSubscriptionCreated = "subscription.created"
	AuditSubscriptionUpdated = "subscription.updated"
	AuditSubscriptionDeleted = "subscription.deleted"
	AuditSubscriptionRotated = "subscription.secret.rotated"
)

// Subscription is an outbound event webhook: where events are sent and
// which. Secret is only set in the answers that create or rotate it.
type Subscription struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
	Enabled     bool     `json:"enabled"`
	CreatedBy   string   `json:"createdBy"`
	CreatedAt   Time     `json:"createdAt"`
	UpdatedAt   Time     `json:"updatedAt"`
	Secret      string   `json:"secret,omitempty"`
}

// SubscriptionChange is a stored change of a subscription; nil fields are kept.
type SubscriptionChange struct {
	URL         *string
	Events      []string // nil: kept
	Description *string
	Enabled     *bool
	UpdatedAt   Time
}

// CreateSubscription adds a subscription (ADMIN). Reply: *Subscription
// with its secret.
type CreateSubscription struct {
	URL         string
	Events      []string
	Description string
	Enabled     *bool
	Origin      Origin
}

// UpdateSubscription changes a subscription (ADMIN). Reply: *Subscription.
type UpdateSubscription struct {
	ID     string
	Change SubscriptionChange
	Origin Origin
}

// DeleteSubscription removes a subscription (ADMIN). Reply: *Ack.
type DeleteSubscription struct {
	ID     string
	Origin Origin
}

// RotateSubscriptionSecret gives a subscription a new secret; the previous
// one keeps signing beside it for 24 h (ADMIN). Reply: *Subscription with
// the new secret.
type RotateSubscriptionSecret struct {
	ID     string
	Origin Origin
}

// NewSubscriptionSecret is "whsec_" and the base64 of 32 random bytes.
func NewSubscriptionSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// MaxSubscriptionURL bounds a subscription's URL.
const MaxSubscriptionURL = 2048

// CheckSubscriptionURL refuses what a subscription may not target: other
// schemes than http and https, URLs without a host, credentials in the URL,
// and — unless allowLoopback — loopback and link-local addresses
// (127.0.0.0/8, ::1, 169.254.0.0/16, fe80::/10, and the name localhost),
// in the numeric forms resolvers also read (127.1, 2130706433).
// A host name is checked again when it is resolved for each delivery.
func CheckSubscriptionURL(raw string, allowLoopback bool) error {
	if raw == "" {
		return Invalid("url is required")
	}
	if len(raw) > MaxSubscriptionURL {
		return Invalid("url is longer than %d characters", MaxSubscriptionURL)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.Opaque != "" {
		return Invalid("url must be an http or https URL with a host")
	}
	if u.User != nil {
		return Invalid("url must not carry credentials")
	}
	if u.Fragment != "" {
		return Invalid("url must not carry a fragment")
	}
	if !allowLoopback && LoopbackHost(u.Hostname()) {
		return Invalid("url targets a loopback or link-local address (allowed only with serve --outbound-allow-loopback)")
	}
	return nil
}

// LoopbackHost reports whether host (a name or an address) is a loopback or
// link-local target.
func LoopbackHost(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return LoopbackAddr(net.IP(a.Unmap().AsSlice()))
	}
	if ip := numericIPv4(h); ip != nil {
		return LoopbackAddr(ip)
	}
	return false
}

// numericIPv4 reads the numeric IPv4 forms that resolvers (inet_aton)
// accept besides the dotted quad: one to four parts, each decimal, octal
// (leading 0) or hex (0x), the last filling the remaining bytes (127.1,
// 0x7f000001, 2130706433, 0177.0.0.1). nil when h is not one.
func numericIPv4(h string) net.IP {
	parts := strings.Split(h, ".")
	if len(parts) > 4 {
		return nil
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		base := 10
		switch {
		case len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X"):
			base, p = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil || p == "" {
			return nil
		}
		vals[i] = v
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 255 {
			return nil
		}
		n |= v << (24 - 8*i)
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return nil
	}
	n |= last
	return net.IPv4(byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// LoopbackAddr reports whether ip is loopback or link-local.
func LoopbackAddr(ip net.IP) bool {
	return ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified()
}

// CheckSubscriptionEvents refuses an empty list and unknown types; "*"
// stands alone.
func CheckSubscriptionEvents(events []string) error {
	if len(events) == 0 {
		return Invalid("events must name at least one event type (or \"*\")")
	}
	if len(events) > len(OutboundEventTypes)+1 {
		return Invalid("events lists too many types")
	}
	for _, e := range events {
		if e == "*" {
			continue
		}
		known := false
		for _, k := range OutboundEventTypes {
			known = known || k == e
		}
		if !known {
			return Invalid("events: unknown event type %q (known: *, %s)", e, strings.Join(OutboundEventTypes, ", "))
		}
	}
	return nil
}
