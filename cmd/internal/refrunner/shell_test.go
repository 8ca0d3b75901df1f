package refrunner

import (
	"slices"
	"strings"
	"testing"
)

func TestShellCommandPerPlatform(t *testing.T) {
	for _, tc := range []struct {
		goos, name string
		wantArgs   []string
	}{
		{"linux", "sh", []string{"-c", "echo hi"}},
		{"darwin", "sh", []string{"-c", "echo hi"}},
		{"windows", "powershell.exe", []string{"-NoLogo", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command", powerShellPrelude + "echo hi"}},
	} {
		name, args := shellCommand(tc.goos, "echo hi")
		if name != tc.name || !slices.Equal(args, tc.wantArgs) {
			t.Errorf("%s: got %s %q, want %s %q", tc.goos, name, args, tc.name, tc.wantArgs)
		}
	}
	// The user's command is one argument, last, never split or re-quoted.
	cmd := `Write-Output "a b"; exit 3`
	_, args := shellCommand("windows", cmd)
	if last := args[len(args)-1]; !strings.HasSuffix(last, cmd) {
		t.Errorf("windows command argument %q does not end with the node's command", last)
	}
}

func TestCheckFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"--url", "https://hub:4545", "--machine-key", "mk", "--allow-shell"}, true},
		{[]string{"--url", "u", "--log-format", "json", "--log-level", "warn"}, true},
		{[]string{"--ulr", "u"}, false},
		{[]string{"extra"}, false},
		{[]string{"--log-level", "loud"}, false},
		{[]string{"--log-format", "xml"}, false},
	} {
		err := CheckFlags(tc.args)
		if (err == nil) != tc.ok {
			t.Errorf("CheckFlags(%q) = %v, want ok: %v", tc.args, err, tc.ok)
		}
		if err != nil && (!strings.HasPrefix(err.Error(), "exekra runner: ") || strings.Contains(err.Error(), "\n")) {
			t.Errorf("CheckFlags(%q): %q is not one line of exekra runner", tc.args, err)
		}
	}
}
