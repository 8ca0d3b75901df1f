package main

import (
	"errors"
	"flag"
	"io"
	"strings"
)

// newFlagSet is a flag set that reports errors itself (one line, exit 2)
// instead of printing the whole usage.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses args; with getenv, each flag not given on the command
// line takes EXEKRA_<FLAG_IN_CAPS_WITH_UNDERSCORES> when that is set.
// Positional arguments are refused.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return usageErr("%s: flags: %s", fs.Name(), flagNames(fs))
		}
		return usageErr("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return usageErr("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	if getenv == nil {
		return nil
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		name := envName(f.Name)
		if v := getenv(name); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = usageErr("%s: invalid value %q for %s: %v", fs.Name(), v, name, e)
			}
		}
	})
	return err
}

// envName is the environment variable of a flag: EXEKRA_ + the flag in
// capitals with underscores.
func envName(flagName string) string {
	return "EXEKRA_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func flagNames(fs *flag.FlagSet) string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, "--"+f.Name) })
	return strings.Join(names, " ")
}
