package messages

import (
	"slices"
	"strings"
)

// MaxLabels is how many labels a runner, workflow or execution may carry.
const MaxLabels = 20

// validLabel reports whether l matches [a-z0-9][a-z0-9._-]{0,62}.
func validLabel(l string) bool {
	if len(l) == 0 || len(l) > 63 {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// NormalizeLabels checks a label list (runner labels, runnerLabels) and
// returns it sorted without duplicates; field names the list in the error.
// A nil list stays nil (not given); an empty one is an empty, non-nil list.
func NormalizeLabels(field string, in []string) ([]string, error) {
	if in == nil {
		return nil, nil
	}
	out := make([]string, 0, len(in))
	for _, l := range in {
		if !validLabel(l) {
			return nil, Invalid("%s: %q is not a label (lower-case letters, digits, '.', '_', '-'; 1 to 63 characters, starting with a letter or digit)", field, l)
		}
		out = append(out, l)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxLabels {
		return nil, Invalid("%s: at most %d labels", field, MaxLabels)
	}
	return out, nil
}

// HasAllLabels reports whether offered (sorted) holds every label of
// required.
func HasAllLabels(required, offered []string) bool {
	for _, l := range required {
		if _, ok := slices.BinarySearch(offered, l); !ok {
			return false
		}
	}
	return true
}

// LabelsOrEmpty is labels, or an empty list for nil (reads always show an
// array).
func LabelsOrEmpty(labels []string) []string {
	if labels == nil {
		return []string{}
	}
	return labels
}

// FormatLabels writes labels as "[a, b]" for messages.
func FormatLabels(labels []string) string { return "[" + strings.Join(labels, ", ") + "]" }

// Waiting explains why a QUEUED execution has not started (GET
// /api/executions/:id).
type Waiting struct {
	Position        int          `json:"position"`
	Ahead           int          `json:"ahead"`
	MatchingRunners RunnerCounts `json:"matchingRunners"`
	Reason          string       `json:"reason"`
}

// RunnerCounts counts runners by status.
type RunnerCounts struct {
	Online  int `json:"online"`
	Busy    int `json:"busy"`
	Offline int `json:"offline"`
}

// SetRunnerLabels replaces a runner's labels (PATCH /api/runners/:id).
// Reply: *Runner. Errors: NOT_FOUND, VALIDATION_ERROR.
type SetRunnerLabels struct {
	ID     string
	Labels []string
	Origin Origin
}

// ExplainWaiting asks the dispatcher where a QUEUED execution stands.
// Reply: *Waiting (nil fields when the execution is not queued).
type ExplainWaiting struct {
	ID string
}
