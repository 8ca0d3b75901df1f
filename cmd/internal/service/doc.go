// Package service installs, controls and hosts `exekra serve` (the Hub) and
// `exekra runner` (an unattended robot) as operating-system services:
// Windows services through golang.org/x/sys/windows/svc and its mgr and
// eventlog packages, systemd units on Linux (docs/deploy/exekra.service).
//
// The parts that decide something are portable and tested everywhere: the
// command line (command.go), names, paths and the secrets moved off the
// command line (spec.go), the systemd unit and its installation behind a
// command runner (systemd.go), the log file and the Event Log levels
// (logs.go), and the state machine a running service goes through (start,
// stop, shutdown, pause refused: machine.go) behind the Session interface
// that the Windows service control manager implements. The files ending in
// _windows.go only adapt those to Windows.
package service
