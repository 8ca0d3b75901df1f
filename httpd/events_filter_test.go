package httpd

import (
	"maps"
	"slices"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// TestStreamFilterRepeatedTypes: ?types= repeated is read as one list, as
// ?label= is (docs/api.md, "Live events"): every value counts, and an
// unknown type in any of them is a 400, not silently dropped.
func TestStreamFilterRepeatedTypes(t *testing.T) {
	filter := func(query string) (messages.EventFilter, error) {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI("/api/events?" + query)
		return streamFilterOf(&ctx)
	}
	for query, want := range map[string][]string{
		"types=execution&types=runner":             {"execution", "runner"},
		"types=execution,stats&types=runner":       {"execution", "runner", "stats"},
		"types=execution&types=":                   {"execution"},
		"types=license":                            {"license"},
		"types=execution.log,execution.log":        {"execution.log"},
		"types=runner&executionId=x&types=trigger": {"runner", "trigger"},
	} {
		f, err := filter(query)
		if got := slices.Sorted(maps.Keys(f.Types)); err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: types %v (%v), want %v", query, got, err, want)
		}
	}
	for _, query := range []string{"types=execution&types=bogus", "types=bogus&types=execution", "types=runner&types=reset"} {
		if _, err := filter(query); messages.ErrorCode(err) != messages.CodeValidation {
			t.Errorf("%s: %v, want VALIDATION_ERROR", query, err)
		}
	}
}
