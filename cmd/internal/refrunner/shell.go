package refrunner

import "runtime"

// powerShellPrelude makes Windows PowerShell write UTF-8 into the pipe (it
// uses the console's OEM code page otherwise), so non-ASCII output reaches
// the execution log intact.
const powerShellPrelude = "[Console]::OutputEncoding = [System.Text.Encoding]::UTF8; "

// shellCommand is the program and arguments that run a shell node's command
// on goos: Windows PowerShell (present on every Windows since Server 2008 R2)
// on Windows, where robots live, and `sh -c` everywhere else. PowerShell's
// -Command exits with the script's `exit N`, or 1 when its last command
// failed, which the node reports as it does sh's status.
func shellCommand(goos, command string) (name string, args []string) {
	if goos == "windows" {
		return "powershell.exe", []string{"-NoLogo", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command", powerShellPrelude + command}
	}
	return "sh", []string{"-c", command}
}

// hostShell runs command on this machine's shell (see shellCommand).
func hostShell(command string) (name string, args []string) {
	return shellCommand(runtime.GOOS, command)
}
