package messages

import (
	"strconv"
	"time"
)

// Time is an instant in Unix milliseconds (0 means "not set"). It encodes as
// an RFC 3339 UTC string with milliseconds, or null when unset, which is the
// form docs/api.md, "Conventions" gives every timestamp.
type Time int64

// TimeLayout is the one timestamp layout of the API.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// TimeOf converts a time.Time (zero stays zero).
func TimeOf(t time.Time) Time {
	if t.IsZero() {
		return 0
	}
	return Time(t.UnixMilli())
}

// Std returns the time.Time in UTC (the zero time when unset).
func (t Time) Std() time.Time {
	if t == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(t)).UTC()
}

// IsZero reports whether the time is unset.
func (t Time) IsZero() bool { return t == 0 }

// String formats the time as the API does ("" when unset).
func (t Time) String() string {
	if t == 0 {
		return ""
	}
	return t.Std().Format("2006-01-02T15:04:05.000Z")
}

// MarshalJSON encodes the time as an RFC 3339 string or null.
func (t Time) MarshalJSON() ([]byte, error) {
	return t.AppendJSON(make([]byte, 0, 26)), nil
}

// UnmarshalJSON accepts null, an RFC 3339 string or a number of Unix ms.
func (t *Time) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		*t = 0
		return nil
	}
	if len(s) > 0 && s[0] != '"' {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		*t = Time(n)
		return nil
	}
	uq, err := strconv.Unquote(s)
	if err != nil {
		return err
	}
	p, err := ParseTime(uq)
	if err != nil {
		return err
	}
	*t = p
	return nil
}

// ParseTime parses an ISO 8601 / RFC 3339 timestamp, or a plain date
// (YYYY-MM-DD, taken as midnight UTC), as the list filters accept them.
func ParseTime(s string) (Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if v, err := time.Parse(layout, s); err == nil {
			if v.IsZero() {
				return 0, Invalid("time %q is out of range", s)
			}
			return TimeOf(v), nil
		}
	}
	return 0, Invalid("%q is not an ISO 8601 time", s)
}
