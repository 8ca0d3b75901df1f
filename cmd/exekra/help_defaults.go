package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// documentDefaults makes a flag set's help show every flag's default as
// docs/api.md's flag table writes it: durations in the unit written there
// (120s rather than pflag's 2m0s), and the zero defaults that pflag leaves
// out (false, 0, none) too. A flag whose usage already explains its default
// ("default: …") is left alone. Only the help text changes.
func documentDefaults(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" || strings.Contains(f.Usage, "default") {
			return
		}
		if f.Value.Type() == "duration" {
			if d, err := time.ParseDuration(f.DefValue); err == nil && d > 0 {
				f.DefValue = compactDuration(d)
				return
			}
		}
		switch f.Value.Type() {
		case "bool":
			if f.DefValue == "false" {
				f.Usage += " (default false)"
			}
		case "int", "int64", "uint", "uint64":
			if f.DefValue == "0" {
				f.Usage += " (default 0)"
			}
		case "string":
			if f.DefValue == "" {
				f.Usage += " (default none)"
			}
		}
	})
}

// compactDuration writes d in one unit, as people write flag values:
// seconds below ten minutes (5s, 60s, 120s), whole minutes or hours above
// (30m, 2h), and Go's form for anything else.
func compactDuration(d time.Duration) string {
	switch {
	case d < 10*time.Minute && d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}
