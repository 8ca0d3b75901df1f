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
