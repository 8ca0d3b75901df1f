package messages

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// License is what a vendor-signed license grants (docs/api.md, "Conventions"). On the wire it is
// a compact JWS with alg EdDSA (Ed25519) whose payload is this struct; the
// standard claims jti, iat and exp carry the id and the dates.
//
// The codec lives here, on the standard library's crypto/ed25519, rather
// than in an adapter: the license is part of the domain vocabulary, the CLI
// signs it and the server verifies it, and the format is ten lines of JWS
// that any JWT library (golang-jwt included) reads back.
type License struct {
	ID           string        `json:"jti"`
	Email        string        `json:"email"`
	Organization string        `json:"org"`
	IssuedAt     int64         `json:"iat"`
	ExpiresAt    int64         `json:"exp"`
	GraceDays    int           `json:"graceDays"`
	Limits       LicenseLimits `json:"limits"`
}

// LicenseLimits caps what a license allows; 0 means unlimited.
type LicenseLimits struct {
	Runners   int `json:"runners"`
	Users     int `json:"users"`
	Workflows int `json:"workflows"`
}

// LicenseState is the computed standing of a license at an instant.
type LicenseState string

// The license states of docs/api.md, "Conventions".
const (
	LicenseActive  LicenseState = "ACTIVE"
	LicenseGrace   LicenseState = "GRACE_PERIOD"
	LicenseExpired LicenseState = "EXPIRED"
	LicenseInvalid LicenseState = "INVALID"
)

// Expiry is the license's expiry instant.
func (l *License) Expiry() time.Time { return time.Unix(l.ExpiresAt, 0).UTC() }

// GraceEnd is the end of the grace period after expiry.
func (l *License) GraceEnd() time.Time {
	return l.Expiry().Add(time.Duration(l.GraceDays) * 24 * time.Hour)
}

// StateAt is the license's state at now: ACTIVE before expiry, GRACE_PERIOD
// until expiry + grace days, EXPIRED after.
func (l *License) StateAt(now time.Time) LicenseState {
	switch {
	case now.Before(l.Expiry()):
		return LicenseActive
	case now.Before(l.GraceEnd()):
		return LicenseGrace
	}
	return LicenseExpired
}

// DaysRemaining is the whole days left until expiry, rounded up, never negative.
func (l *License) DaysRemaining(now time.Time) int {
	d := l.Expiry().Sub(now)
	if d <= 0 {
		return 0
	}
	return int((d + 24*time.Hour - 1) / (24 * time.Hour))
}

var licenseHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","typ":"JWT"}`))

// SignLicense encodes and signs l with the vendor's private key.
func SignLicense(l License, key ed25519.PrivateKey) (string, error) {
	payload, err := json.Marshal(l)
	if err != nil {
		return "", fmt.Errorf("license: encode: %w", err)
	}
	signing := licenseHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := key.Sign(rand.Reader, []byte(signing), crypto.Hash(0))
	if err != nil {
		return "", fmt.Errorf("license: sign: %w", err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// ErrLicenseSignature means the license text is well-formed but was not
// signed by the key that verifies it.
var ErrLicenseSignature = errors.New("license signature does not verify")

// ParseLicense verifies text (surrounding whitespace ignored) with pub and
// decodes it. It checks the form and the signature, not the dates: callers
// judge those with StateAt. Errors are *Error with VALIDATION_ERROR, wrapping
// ErrLicenseSignature for a bad signature.
func ParseLicense(text string, pub ed25519.PublicKey) (*License, error) {
	text = strings.TrimSpace(text)
	parts := strings.Split(text, ".")
	if len(parts) != 3 {
		return nil, Invalid("license is malformed")
	}
	header, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, Invalid("license is malformed")
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(header, &h) != nil || h.Alg != "EdDSA" {
		return nil, Invalid("license is malformed: algorithm must be EdDSA")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, Invalid("license is malformed")
	}
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		return nil, fmt.Errorf("%w: %w", Invalid("license signature is not valid"), ErrLicenseSignature)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, Invalid("license is malformed")
	}
	var l License
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&l); err != nil {
		return nil, Invalid("license payload is malformed")
	}
	if l.ID == "" || l.Email == "" || l.ExpiresAt == 0 || l.GraceDays < 0 ||
		l.Limits.Runners < 0 || l.Limits.Users < 0 || l.Limits.Workflows < 0 {
		return nil, Invalid("license payload misses required fields")
	}
	return &l, nil
}

// DecodeLicenseUnverified decodes a license's claims WITHOUT checking the
// signature; only for showing what a license that no longer verifies says.
func DecodeLicenseUnverified(text string) (*License, error) {
	parts := strings.Split(strings.TrimSpace(text), ".")
	if len(parts) != 3 {
		return nil, Invalid("license is malformed")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, Invalid("license is malformed")
	}
	var l License
	if err := json.Unmarshal(payload, &l); err != nil {
		return nil, Invalid("license payload is malformed")
	}
	return &l, nil
}

// ParsePublicKeyPEM reads an Ed25519 public key from PEM (PKIX "PUBLIC KEY").
func ParsePublicKeyPEM(data []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("public key is not Ed25519")
	}
	return pub, nil
}

// ParsePrivateKeyPEM reads an Ed25519 private key from PEM (PKCS #8).
func ParsePrivateKeyPEM(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, errors.New("private key is not Ed25519")
	}
	return priv, nil
}

// MarshalKeyPairPEM encodes an Ed25519 key pair as PEM (private PKCS #8,
// public PKIX).
func MarshalKeyPairPEM(pub ed25519.PublicKey, priv ed25519.PrivateKey) (privPEM, pubPEM []byte, err error) {
	p8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	pk, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pk}), nil
}
