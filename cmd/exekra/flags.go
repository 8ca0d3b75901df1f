package main

import (
	"strings"

	"github.com/spf13/pflag"
)

// envAnnotation marks a flag that an environment variable may set; its
// value is the variable's name.
const envAnnotation = "exekra_env"

// withEnv declares that the named flags of fs (all of them when none are
// named) may be set by EXEKRA_<FLAG_IN_CAPS_WITH_UNDERSCORES>; each flag's
// help names its variable.
func withEnv(fs *pflag.FlagSet, names ...string) {
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" || (len(names) > 0 && !contains(names, f.Name)) {
			return
		}
		name := envName(f.Name)
		_ = fs.SetAnnotation(f.Name, envAnnotation, []string{name})
		f.Usage += " [$" + name + "]"
	})
}

// applyEnv gives each flag declared by withEnv and not set on the command
// line the value of its environment variable, when that is set.
func applyEnv(cmdName string, fs *pflag.FlagSet, getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		env := f.Annotations[envAnnotation]
		if err != nil || f.Changed || len(env) == 0 {
			return
		}
		if v := getenv(env[0]); v != "" {
			if e := f.Value.Set(v); e != nil {
				err = usageErr("%s: invalid value %q for %s: %v", cmdName, v, env[0], e)
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
