package client

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// The first steps of a new server through its public endpoints: activate
// its license, create the first administrator (and keep that session like
// login does).

// anonymous opens the server named by --server (or EXEKRA_SERVER) without a
// token; it answers the server URL and the absolute path of the CA file.
func (c *cli) anonymous(cmdName string) (*API, string, string, error) {
	if c.g.output != "table" && c.g.output != "json" {
		return nil, "", "", usagef("%s: -o must be table or json, got %q", cmdName, c.g.output)
	}
	server := firstOf(c.g.server, c.env.Getenv("EXEKRA_SERVER"))
	if server == "" {
		return nil, "", "", usagef("%s: --server URL is required", cmdName)
	}
	server, err := normalizeServer(server)
	if err != nil {
		return nil, "", "", usagef("%s: %v", cmdName, err)
	}
	caCert := firstOf(c.g.caCert, c.env.Getenv("EXEKRA_CA_CERT"))
	if caCert == "" && !c.g.insecure {
		// The certificate trusted at the last login or bootstrap of this
		// same server is trusted again (logging in once more after the
		// session expired needs no --ca-cert).
		if saved, err := loadSaved(c.env.Getenv); err == nil && saved != nil && saved.Server == server {
			caCert = saved.CACert
		}
	}
	if caCert != "" {
		if caCert, err = filepath.Abs(caCert); err != nil {
			return nil, "", "", err
		}
	}
	hc, err := newHTTPClient(TLSOptions{CACert: caCert, InsecureSkipVerify: c.g.insecure})
	if err != nil {
		return nil, "", "", err
	}
	return &API{Base: server, HTTP: hc}, server, caCert, nil
}

// password is EXEKRA_PASSWORD or the first line of standard input.
func (c *cli) password() (string, error) {
	if p := c.env.Getenv("EXEKRA_PASSWORD"); p != "" {
		return p, nil
	}
	line, err := bufio.NewReader(c.env.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no password: set EXEKRA_PASSWORD or give it on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// activateCmd is `exekra activate --server URL --license FILE`.
func (c *cli) activateCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "activate --server URL --license FILE",
		Short: "Activate a new server's license (POST /api/license/activate)",
		Long: `Send a license (from exekra license issue) to a server that has none yet
(UNACTIVATED) and print the license status it answers.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usagef("exekra activate: --license FILE is required")
			}
			text, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			api, _, _, err := c.anonymous("exekra activate")
			if err != nil {
				return err
			}
			raw, _, err := api.Do(http.MethodPost, "/api/license/activate", map[string]string{"license": strings.TrimSpace(string(text))})
			if err != nil {
				return err
			}
			return c.print(raw, Resource{Columns: []Column{{"STATUS", "status"}, {"LICENSEE", "licensee"}, {"EXPIRES", "expiresAt"}}}, Action{})
		},
	}
	cmd.Flags().StringVar(&file, "license", "", "license file, from exekra license issue (required)")
	return cmd
}

// bootstrapCmd is `exekra bootstrap --server URL --email EMAIL [--name N]`.
func (c *cli) bootstrapCmd() *cobra.Command {
	var email, name string
	cmd := &cobra.Command{
		Use:   "bootstrap --server URL --email EMAIL [--name NAME]",
		Short: "Create a new server's first administrator and log in as them",
		Long: `Create the first ADMIN of an activated server (POST /api/auth/bootstrap); the
email must be the licensee's. The password is read from EXEKRA_PASSWORD, else
from the first line of standard input (at least 8 characters). The session is
kept as exekra login keeps it.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if email == "" {
				return usagef("exekra bootstrap: --email is required")
			}
			api, server, caCert, err := c.anonymous("exekra bootstrap")
			if err != nil {
				return err
			}
			password, err := c.password()
			if err != nil {
				return err
			}
			body := map[string]string{"email": email, "password": password}
			if name != "" {
				body["name"] = name
			}
			raw, resp, err := api.Do(http.MethodPost, "/api/auth/bootstrap", body)
			if err != nil {
				return err
			}
			return c.keepSession(raw, resp, server, email, caCert, "created the first administrator")
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "the administrator's email: the licensee's (required)")
	cmd.Flags().StringVar(&name, "name", "", "display name (default: the email's local part)")
	return cmd
}

// keepSession saves the session token a login or bootstrap answer set.
func (c *cli) keepSession(raw []byte, resp *http.Response, server, email, caCert, what string) error {
	var token string
	for _, ck := range resp.Cookies() {
		if ck.Name == "token" {
			token = ck.Value
		}
	}
	if token == "" {
		return errors.New("the server answered without a session token")
	}
	path, err := save(c.env.Getenv, &Saved{Server: server, Token: token, Email: email, CACert: caCert, InsecureSkipVerify: c.g.insecure})
	if err != nil {
		return fmt.Errorf("keep the login: %w", err)
	}
	if c.g.output == "json" {
		return printJSON(c.env.Stdout, raw)
	}
	if what != "" {
		what += "; "
	}
	fmt.Fprintf(c.env.Stdout, "%slogged in to %s as %s (saved in %s)\n", what, server, email, path)
	return nil
}
