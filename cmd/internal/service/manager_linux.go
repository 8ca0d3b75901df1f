package service

// newManager is systemd.
func newManager() (Manager, error) { return newSystemd(), nil }
