package client

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// The help of every client command that connects names the variables it
// reads: EXEKRA_SERVER and EXEKRA_TOKEN (an API key or session token used
// instead of the saved login) beside --server.
func TestClientHelpNamesTokenVariable(t *testing.T) {
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		f := c.Flags().Lookup("server")
		if f == nil {
			f = c.PersistentFlags().Lookup("server")
		}
		if f == nil {
			f = c.InheritedFlags().Lookup("server")
		}
		if f != nil {
			n++
			if !strings.Contains(f.Usage, "$EXEKRA_SERVER") || !strings.Contains(f.Usage, "EXEKRA_TOKEN") {
				t.Errorf("%s --server: %q names not both EXEKRA_SERVER and EXEKRA_TOKEN", c.CommandPath(), f.Usage)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	for _, c := range Commands(Env{}) {
		walk(c)
	}
	if n < 10 {
		t.Fatalf("only %d commands have --server", n)
	}
}
