// Package deploy carries the deployment files that the binary writes
// itself: `exekra service install` on Linux writes exekra.service (with its
// own paths and command line filled in), so the unit verified in make lint
// is the one that gets installed.
package deploy

import _ "embed"

// HubUnit is exekra.service, the systemd unit of the Hub.
//
//go:embed exekra.service
var HubUnit string
