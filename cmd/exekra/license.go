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

	"github.com/spf13/cobra"

	"github.com/exekra/orchestrator/cmd/internal/privfile"
	"github.com/exekra/orchestrator/messages"
)

// vendorLicenseKey is the vendor's public key, built into the binary; serve
// uses it unless --license-public-key names another (a development key made
// with `exekra license keygen`, say).
//
//go:embed vendor_license.pub
var vendorLicenseKey []byte

// licenseCmd is `exekra license keygen|issue`.
func licenseCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "license",
		Short: "Create license signing keys and issue signed licenses",
		Long: `Create a license signing key pair (keygen) and issue licenses signed with it
(issue). A server verifies licenses with the public half: the key built into
the binary, or serve --license-public-key FILE.`,
	}
	var kg keygenOptions
	keygen := &cobra.Command{
		Use:   "keygen --out DIR",
		Short: "Create a license signing key pair (license.key, license.pub)",
		Long: `Write license.key (the private key, mode 0600: keep it secret) and license.pub
(the public key, PEM: give it to serve --license-public-key) into --out.`,
		RunE: func(cmd *cobra.Command, args []string) error { return licenseKeygen(kg, stdout) },
	}
	keygen.Flags().StringVar(&kg.out, "out", "", "directory for license.key and license.pub (required; created when missing)")
	keygen.Flags().BoolVar(&kg.force, "force", false, "overwrite existing key files")
	var is issueOptions
	issue := &cobra.Command{
		Use:   "issue --key FILE --email EMAIL --org ORG [flags]",
		Short: "Issue a signed license",
		Long: `Sign a license with --key and print it (or write it to --out). The first
administrator of a server activated with it must use --email.`,
		RunE: func(cmd *cobra.Command, args []string) error { return licenseIssue(is, stdout, time.Now) },
	}
	f := issue.Flags()
	f.StringVar(&is.keyPath, "key", "", "private key file, from license keygen (required)")
	f.StringVar(&is.email, "email", "", "licensee email; the first administrator must use it (required)")
	f.StringVar(&is.org, "org", "", "licensee organization (required)")
	f.IntVar(&is.runners, "runners", 0, "runner limit (0 = unlimited)")
	f.IntVar(&is.users, "users", 0, "user limit, the first administrator included (0 = unlimited)")
	f.IntVar(&is.workflows, "workflows", 0, "workflow limit (0 = unlimited)")
	f.IntVar(&is.days, "days", 0, "valid for this many days from now (365 when neither --days nor --expires is given)")
	f.StringVar(&is.expires, "expires", "", "exact expiry, an RFC 3339 time; may be in the past (to try GRACE_PERIOD and EXPIRED)")
	f.IntVar(&is.grace, "grace-days", 14, "days after expiry during which everything keeps working (GRACE_PERIOD)")
	f.StringVar(&is.out, "out", "", "write the license to this file (mode 0600) instead of standard output")
	cmd.AddCommand(keygen, issue)
	return cmd
}

type keygenOptions struct {
	out   string
	force bool
}

type issueOptions struct {
	keyPath, email, org       string
	runners, users, workflows int
	days, grace               int
	expires, out              string
}

// licenseKeygen writes license.key (private, 0600) and license.pub into --out.
func licenseKeygen(o keygenOptions, stdout io.Writer) error {
	out, force := &o.out, &o.force
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
func licenseIssue(o issueOptions, stdout io.Writer, now func() time.Time) error {
	keyPath, email, org := &o.keyPath, &o.email, &o.org
	runners, users, workflows := &o.runners, &o.users, &o.workflows
	days, expires, grace, out := &o.days, &o.expires, &o.grace, &o.out
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
