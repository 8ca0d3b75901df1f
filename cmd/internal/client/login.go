package client

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"
)

// loginCmd is `exekra login --server URL --email EMAIL`: the password comes
// from EXEKRA_PASSWORD or the first line of standard input; the session
// token is kept in the user's config dir.
func (c *cli) loginCmd() *cobra.Command {
	var email string
	cmd := &cobra.Command{
		Use:   "login --server URL --email EMAIL [--ca-cert FILE]",
		Short: "Log in to a server and keep the session for later commands",
		Long: `Log in to a server with an email and password and keep the server, the session
token (valid 7 days) and the TLS settings in $XDG_CONFIG_HOME/exekra/credentials.json
(mode 0600; ~/.config when XDG_CONFIG_HOME is unset). Later client commands use
them. The password is read from EXEKRA_PASSWORD, else from the first line of
standard input.

For a server with a self-signed certificate, trust it with --ca-cert
DATA_DIR/tls.crt rather than --insecure-skip-verify.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if email == "" {
				return usagef("exekra login: --email is required")
			}
			api, server, caCert, err := c.anonymous("exekra login")
			if err != nil {
				return err
			}
			password, err := c.password()
			if err != nil {
				return err
			}
			raw, resp, err := api.Do(http.MethodPost, "/api/auth/login", map[string]string{"email": email, "password": password})
			if err != nil {
				return err
			}
			return c.keepSession(raw, resp, server, email, caCert, "")
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "the account's email (required)")
	return cmd
}

// logoutCmd revokes the saved session and forgets it.
func (c *cli) logoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Revoke the saved session on the server and forget it",
		RunE: func(cmd *cobra.Command, args []string) error {
			saved, err := loadSaved(c.env.Getenv)
			if err != nil {
				return err
			}
			if saved == nil {
				fmt.Fprintln(c.env.Stdout, "not logged in")
				return nil
			}
			hc, err := newHTTPClient(TLSOptions{CACert: saved.CACert, InsecureSkipVerify: saved.InsecureSkipVerify})
			if err != nil {
				return err
			}
			api := &API{Base: saved.Server, Token: saved.Token, HTTP: hc}
			if _, _, err := api.Do(http.MethodPost, "/api/auth/logout", nil); err != nil {
				var ae *APIError
				if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
					return err
				}
			}
			if err := forget(c.env.Getenv); err != nil {
				return err
			}
			fmt.Fprintf(c.env.Stdout, "logged out of %s\n", saved.Server)
			return nil
		},
	}
}

// whoamiCmd shows the user the token acts as.
func (c *cli) whoamiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show the user the saved session or EXEKRA_TOKEN acts as",
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.connect()
			if err != nil {
				return err
			}
			raw, _, err := api.Do(http.MethodGet, "/api/auth/me", nil)
			if err != nil {
				return err
			}
			return c.print(raw, Resource{Columns: []Column{{"ID", "id"}, {"EMAIL", "email"}, {"ROLE", "role"}}}, Action{Answer: "user"})
		},
	}
}
