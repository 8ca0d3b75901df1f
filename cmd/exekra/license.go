package main

import (
	"crypto/ed25519"
	"crypto/rand"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/exekra/orchestrator/cmd/internal/privfile"
	"github.com/exekra/orchestrator/messages"
)

// vendorLicenseKey is the vendor's public key, built into the binary; serve
// uses it unless --license-public-key names another (a development key made
// with `exekra license keygen`, say).
//
//go:embed vendor_license.pub
var vendorLicenseKey []byte

func licenseCommand(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageErr("exekra license: missing subcommand (keygen or issue)")
	}
	switch args[0] {
	case "keygen":
		return licenseKeygen(args[1:], stdout)
	case "issue":
		return licenseIssue(args[1:], stdout, time.Now)
	}
	return usageErr("exekra license: unknown subcommand %q (keygen or issue)", args[0])
}

// licenseKeygen writes license.key (private, 0600) and license.pub into --out.
func licenseKeygen(args []string, stdout io.Writer) error {
	fs := newFlagSet("exekra license keygen")
	out := fs.String("out", "", "directory for license.key and license.pub")
	force := fs.Bool("force", false, "overwrite existing key files")
	if err := parseFlags(fs, args, nil); err != nil {
		return err
	}
	if *out == "" {
		return usageErr("exekra license keygen: --out DIR is required")
	}
	privPath, pubPath := filepath.Join(*out, "license.key"), filepath.Join(*out, "license.pub")
	if !*force {
		for _, p := range []string{privPath, pubPath} {
			if _, err := os.Stat(p); err == nil {
				return fmt.Errorf("%s exists (use --force to overwrite)", p)
			}
		}
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	privPEM, pubPEM, err := messages.MarshalKeyPairPEM(pub, priv)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	if err := privfile.WriteFile(privPath, privPEM); err != nil {
		return err
	}
	if err := os.WriteFile(pubPath, pubPEM, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (private: keep it secret) and %s (public: serve --license-public-key %s)\n", privPath, pubPath, pubPath)
	return nil
}

// licenseIssue signs a license with --key and prints or writes it.
func licenseIssue(args []string, stdout io.Writer, now func() time.Time) error {
	fs := newFlagSet("exekra license issue")
	keyPath := fs.String("key", "", "private key file (from license keygen)")
	email := fs.String("email", "", "licensee email (the first admin must use it)")
	org := fs.String("org", "", "licensee organization")
	runners := fs.Int("runners", 0, "runner limit (0 = unlimited)")
	users := fs.Int("users", 0, "user limit (0 = unlimited)")
	workflows := fs.Int("workflows", 0, "workflow limit (0 = unlimited)")
	days := fs.Int("days", 0, "valid for this many days from now (default 365)")
	expires := fs.String("expires", "", "exact expiry, RFC 3339 (may be in the past)")
	grace := fs.Int("grace-days", 14, "grace days after expiry")
	out := fs.String("out", "", "write the license to this file instead of stdout")
	if err := parseFlags(fs, args, nil); err != nil {
		return err
	}
	switch {
	case *keyPath == "":
		return usageErr("exekra license issue: --key FILE is required")
	case strings.TrimSpace(*email) == "" || !strings.Contains(*email, "@"):
		return usageErr("exekra license issue: --email must be an email address")
	case strings.TrimSpace(*org) == "":
		return usageErr("exekra license issue: --org is required")
	case *runners < 0 || *users < 0 || *workflows < 0:
		return usageErr("exekra license issue: limits must be 0 (unlimited) or more")
	case *grace < 0:
		return usageErr("exekra license issue: --grace-days must be 0 or more")
	case *days != 0 && *expires != "":
		return usageErr("exekra license issue: give --days or --expires, not both")
	case *days < 0:
		return usageErr("exekra license issue: --days must be positive (use --expires for a past expiry)")
	}
	issued := now().UTC()
	expiry := issued.Add(365 * 24 * time.Hour)
	if *days > 0 {
		expiry = issued.Add(time.Duration(*days) * 24 * time.Hour)
	}
	if *expires != "" {
		t, err := time.Parse(time.RFC3339, *expires)
		if err != nil {
			return usageErr("exekra license issue: --expires must be an RFC 3339 time: %v", err)
		}
		expiry = t
	}
	keyPEM, err := os.ReadFile(*keyPath)
	if err != nil {
		return fmt.Errorf("read key: %w", err)
	}
	priv, err := messages.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return fmt.Errorf("%s: %w", *keyPath, err)
	}
	text, err := messages.SignLicense(messages.License{
		ID: messages.NewID(issued), Email: strings.TrimSpace(*email), Organization: strings.TrimSpace(*org),
		IssuedAt: issued.Unix(), ExpiresAt: expiry.Unix(), GraceDays: *grace,
		Limits: messages.LicenseLimits{Runners: *runners, Users: *users, Workflows: *workflows},
	}, priv)
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = fmt.Fprintln(stdout, text)
		return err
	}
	if err := os.WriteFile(*out, []byte(text+"\n"), 0o600); err != nil {
		return err
	}
	return nil
}

// loadLicenseKey reads the verifying key: the file given, or the built-in one.
func loadLicenseKey(path string) (ed25519.PublicKey, error) {
	data := vendorLicenseKey
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("license public key: %w", err)
		}
	}
	key, err := messages.ParsePublicKeyPEM(data)
	if err != nil {
		if path == "" {
			return nil, errors.New("built-in license key is damaged")
		}
		return nil, fmt.Errorf("license public key %s: %w", path, err)
	}
	return key, nil
}
