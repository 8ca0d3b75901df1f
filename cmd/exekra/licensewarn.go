package main

import "github.com/exekra/orchestrator/messages"

// warnLicense says loudly, at start, when the stored license does not let
// the server work normally, and what to do about it (an INVALID license is
// most often one signed by another key than serve verifies with).
func (m *Main) warnLicense() {
	if m.system.State() == messages.StateUnactivated {
		return
	}
	st := m.system.LicenseStatus()
	const blocked = "creating executions, registering runners, creating users and publishing answer 403 LICENSE_EXPIRED"
	switch m.system.LicenseState() {
	case messages.LicenseInvalid:
		key := "the key built into the binary"
		if m.Config.LicensePublicKey != "" {
			key = m.Config.LicensePublicKey
		}
		m.log.Error("the stored license is INVALID: "+blocked+". If it was signed by another key, restart serve with that key's public half "+
			"(--license-public-key); otherwise an ADMIN installs a valid license with PUT /api/license, or start over on an empty --data-dir",
			"license", "INVALID", "reason", st.InvalidReason, "verifyingKey", key)
	case messages.LicenseExpired:
		m.log.Error("the license has EXPIRED and its grace period is over: "+blocked+". An ADMIN installs a renewal with PUT /api/license (no restart needed)",
			"license", "EXPIRED", "expiredAt", st.ExpiresAt.String(), "graceEndedAt", st.GraceEndsAt.String())
	case messages.LicenseGrace:
		m.log.Warn("the license has expired and runs in its GRACE_PERIOD: everything works until the grace period ends. An ADMIN installs a renewal with PUT /api/license (no restart needed)",
			"license", "GRACE_PERIOD", "expiredAt", st.ExpiresAt.String(), "graceEndsAt", st.GraceEndsAt.String())
	}
}
