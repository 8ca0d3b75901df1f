package main

import (
	"os"
	"testing"
)

// TestMain closes the browser the console tests share.
func TestMain(m *testing.M) {
	code := m.Run()
	stopBrowser()
	os.Exit(code)
}
