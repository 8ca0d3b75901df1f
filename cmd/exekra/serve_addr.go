package main

import "net"

// validateAddr refuses an --addr that no listener could use (no port, a
// port out of range, stray colons) as a wrong flag, before the data dir is
// touched: host:port, the host optional (":4545" listens on every
// interface), the port a number from 0 to 65535 or a service name.
func (c *Config) validateAddr() error {
	_, port, err := net.SplitHostPort(c.Addr)
	if err == nil {
		_, err = net.LookupPort("tcp", port)
	}
	if err != nil {
		return usageErr("exekra serve: --addr %q must be HOST:PORT or :PORT (port 0-65535): %v", c.Addr, err)
	}
	return nil
}
