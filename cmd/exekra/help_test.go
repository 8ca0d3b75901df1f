package main

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Every command of the tree explains itself: --help and -h exit 0 and
// print its usage, and every flag has a usage text (docs/api.md, "Command
// line").
func TestEveryCommandHasHelp(t *testing.T) {
	root := newRootCommand(io.Discard, io.Discard, nil)
	var walk func(c *cobra.Command)
	count := 0
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == cobra.ShellCompRequestCmd || c.Name() == cobra.ShellCompNoDescRequestCmd {
			return
		}
		count++
		path := strings.Fields(c.CommandPath())[1:]
		for _, h := range []string{"--help", "-h"} {
			code, stdout, stderr := runCLI(append(append([]string{}, path...), h), nil)
			if code != 0 || stderr != "" || !strings.Contains(strings.ToLower(stdout), "usage") {
				t.Errorf("exekra %s %s: exit %d, stderr %q, stdout %q", strings.Join(path, " "), h, code, stderr, stdout)
			}
		}
		if c.Short == "" {
			t.Errorf("%s has no short description", c.CommandPath())
		}
		check := func(f *pflag.Flag) {
			if strings.TrimSpace(f.Usage) == "" {
				t.Errorf("%s --%s has no usage text", c.CommandPath(), f.Name)
			}
		}
		c.LocalFlags().VisitAll(check)
		c.InheritedFlags().VisitAll(check)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if count < 40 {
		t.Fatalf("walked only %d commands", count)
	}
	// The help of a command names every flag's environment variable where
	// one exists (serve's, per docs/api.md).
	_, out, _ := runCLI([]string{"serve", "--help"}, nil)
	for _, env := range []string{"EXEKRA_ADDR", "EXEKRA_DATA_DIR", "EXEKRA_RATE_LIMIT", "EXEKRA_RUNNER_TTL", "EXEKRA_LOG_FORMAT", "EXEKRA_RETENTION_DAYS"} {
		if !strings.Contains(out, env) {
			t.Errorf("serve --help does not name %s", env)
		}
	}
	if !strings.Contains(out, `(default ":4545")`) || !strings.Contains(out, "(default 100)") {
		t.Errorf("serve --help does not show defaults:\n%s", out)
	}
}

// The command list is the tree's: `exekra --help` lists every command,
// and shell completion scripts come out of the same tree.
func TestOneCommandListAndCompletion(t *testing.T) {
	_, out, _ := runCLI([]string{"--help"}, nil)
	root := newRootCommand(io.Discard, io.Discard, nil)
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() && !strings.Contains(out, "  "+c.Name()+" ") {
			t.Errorf("exekra --help does not list %s", c.Name())
		}
	}
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		code, script, stderr := runCLI([]string{"completion", shell}, nil)
		if code != 0 || !strings.Contains(script, "exekra") || stderr != "" {
			t.Errorf("completion %s: exit %d, %d bytes, stderr %q", shell, code, len(script), stderr)
		}
	}
	// Completion knows the commands.
	code, cands, _ := runCLI([]string{"__complete", "wor"}, nil)
	if code != 0 || !strings.Contains(cands, "workflows") {
		t.Errorf("completion of 'wor': %d %q", code, cands)
	}
}
