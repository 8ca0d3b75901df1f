package refrunner

import (
	"strings"
	"testing"
)

// Every flag in the usage shows its default or the variable it also reads
// (the help contract of docs/api.md, "Command line"), and the usage does
// not claim a variable for flags that have none.
func TestUsageShowsEveryDefaultOrVariable(t *testing.T) {
	var blocks []string
	for _, l := range strings.Split(usage, "\n") {
		switch {
		case strings.HasPrefix(l, "  --"):
			blocks = append(blocks, l)
		case strings.HasPrefix(l, "    ") && len(blocks) > 0:
			blocks[len(blocks)-1] += " " + strings.TrimSpace(l)
		}
	}
	if len(blocks) < 8 {
		t.Fatalf("found %d flags in the usage", len(blocks))
	}
	for _, b := range blocks {
		if !strings.Contains(b, "(EXEKRA_") && !strings.Contains(b, "(default ") {
			t.Errorf("flag shows neither a default nor a variable: %q", strings.Join(strings.Fields(b), " "))
		}
	}
	if strings.Contains(usage, "each also read from an environment variable") {
		t.Error("the usage says every flag reads a variable; some do not")
	}
}
