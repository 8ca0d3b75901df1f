package messages

// SystemState is the lifecycle of the installation (docs/api.md, "Conventions").
type SystemState string

// The four system states.
const (
	StateUnactivated SystemState = "UNACTIVATED"
	StateActivated   SystemState = "ACTIVATED"
	StateBootstrap   SystemState = "BOOTSTRAPPED"
	StateOperational SystemState = "OPERATIONAL"
)

// Ready reports whether the installation serves the full API (an admin exists).
func (s SystemState) Ready() bool { return s == StateBootstrap || s == StateOperational }

// LicenseUsage counts what the license limits.
type LicenseUsage struct {
	Runners   int `json:"runners"`
	Users     int `json:"users"`
	Workflows int `json:"workflows"`
}

// LicenseStatus is the unwrapped answer of every license endpoint (docs/api.md, "Conventions" and "Details clients depend on").
type LicenseStatus struct {
	Activated          bool          `json:"activated"`
	Status             LicenseState  `json:"status,omitempty"`
	LicenseID          string        `json:"licenseId,omitempty"`
	Licensee           string        `json:"licensee,omitempty"`
	Organization       string        `json:"organization,omitempty"`
	IssuedAt           Time          `json:"issuedAt,omitempty"`
	ExpiresAt          Time          `json:"expiresAt,omitempty"`
	DaysRemaining      int           `json:"daysRemaining"`
	GraceDays          int           `json:"graceDays"`
	GraceEndsAt        Time          `json:"graceEndsAt,omitempty"`
	Limits             LicenseLimits `json:"limits"`
	Usage              LicenseUsage  `json:"usage"`
	InvalidReason      string        `json:"invalidReason,omitempty"`
	ValidatedAt        Time          `json:"validatedAt,omitempty"`
	GraceDaysRemaining int           `json:"graceDaysRemaining,omitempty"`
}

// Origin says who asked for a change and from where, for the audit log.
type Origin struct {
	ActorType string
	ActorID   string
	IP        string
}

// ActivateLicense stores the first license (UNACTIVATED only). Reply: *LicenseStatus.
type ActivateLicense struct {
	Text   string
	Origin Origin
}

// ReplaceLicense swaps in a renewal for the same licensee. Reply: *LicenseStatus.
type ReplaceLicense struct {
	Text   string
	Origin Origin
}

// ValidateLicense re-verifies the stored license's signature and dates now.
// Reply: *LicenseStatus.
type ValidateLicense struct {
	Origin Origin
}

// Bootstrap creates the first ADMIN (ACTIVATED only). Reply: *User.
type Bootstrap struct {
	Email        string
	Name         string
	PasswordHash string
	Origin       Origin
}

// CreateUser registers a user (ADMIN). Reply: *User.
type CreateUser struct {
	Email        string
	Name         string
	Role         Role
	PasswordHash string
	Origin       Origin
}

// UpdateUser changes a user's name, role or disabled flag; nil fields are
// left alone. Reply: *User.
type UpdateUser struct {
	ID       string
	Name     *string
	Role     *Role
	Disabled *bool
	Origin   Origin
}

// ChangePassword sets a new password hash and revokes every other token of
// the user, keeping KeepTokenID alive. Reply: *User.
type ChangePassword struct {
	UserID       string
	PasswordHash string
	KeepTokenID  string
	Origin       Origin
}

// RevokeToken revokes one token until its expiry (logout). Reply: *Ack.
type RevokeToken struct {
	TokenID   string
	ExpiresAt Time
	Origin    Origin
}

// RecordLogin records a login attempt in the audit log and, on success, the
// user's last login time. It also gives the per-account throttle its
// verdict: a failure counts, a success resets the count (see BeginLogin).
type RecordLogin struct {
	UserID  string // "" when no such user
	Email   string
	Success bool
	Origin  Origin
}

// RecordAudit appends an entry to the audit log. Reply: *Ack (when requested).
type RecordAudit struct {
	Entry AuditEntry
}

// Ack is the reply of a command that has nothing else to say: the change is
// durable.
type Ack struct{}
