package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Env is what the client commands read and write besides the network.
type Env struct {
	Stdout, Stderr io.Writer
	// Stdin is where login reads a password (os.Stdin when nil).
	Stdin io.Reader
	// Getenv reads the environment (EXEKRA_TOKEN, EXEKRA_SERVER, …).
	Getenv func(string) string
}

// usageError is a wrong command line: one line, exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// ExitCode makes a usage error exit 2.
func (e *usageError) ExitCode() int { return 2 }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitStatus ends a command with a code, its message already printed (a
// run --wait whose execution failed).
type exitStatus struct {
	code int
	msg  string
}

func (e *exitStatus) Error() string { return e.msg }
func (e *exitStatus) ExitCode() int { return e.code }

// globals are the flags every client command has.
type globals struct {
	server   string
	caCert   string
	insecure bool
	output   string
}

// clientFlags declares the connection and output flags on a command tree.
func (g *globals) clientFlags(fs *pflag.FlagSet) {
	fs.StringVar(&g.server, "server", "", "server URL, e.g. https://localhost:4545 (default: the one saved by exekra login) [$EXEKRA_SERVER]; an API key or session token in $EXEKRA_TOKEN is used instead of the saved session")
	fs.StringVar(&g.caCert, "ca-cert", "", "PEM file of certificates to trust, e.g. the server's data-dir certificate (default: the one saved by exekra login) [$EXEKRA_CA_CERT]")
	fs.BoolVar(&g.insecure, "insecure-skip-verify", false, "accept any TLS certificate (testing only; prefer --ca-cert)")
	fs.StringVarP(&g.output, "output", "o", "table", "output format: table (for people) or json (the API's JSON, for scripts)")
}

// Commands are the client's top-level commands: activate, bootstrap,
// login, logout, whoami, run and one group per resource.
func Commands(env Env) []*cobra.Command {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Stdin == nil {
		env.Stdin = os.Stdin
	}
	c := &cli{env: env}
	cmds := []*cobra.Command{c.activateCmd(), c.bootstrapCmd(), c.loginCmd(), c.logoutCmd(), c.whoamiCmd(), c.runCmd()}
	for _, r := range resources {
		cmds = append(cmds, c.resourceCmd(r))
	}
	for _, cmd := range cmds {
		c.g.clientFlags(cmd.PersistentFlags())
	}
	return cmds
}

// cli holds the parsed global flags for the command being run.
type cli struct {
	env Env
	g   globals
}

// connect opens the API named by the flags, the environment or the saved
// login, in that order. A token from EXEKRA_TOKEN (an API key or a session
// token) wins over the saved one.
func (c *cli) connect() (*API, error) {
	if c.g.output != "table" && c.g.output != "json" {
		return nil, usagef("-o must be table or json, got %q", c.g.output)
	}
	saved, err := loadSaved(c.env.Getenv)
	if err != nil {
		return nil, err
	}
	server := firstOf(c.g.server, c.env.Getenv("EXEKRA_SERVER"))
	token := c.env.Getenv("EXEKRA_TOKEN")
	tlsOpts := TLSOptions{CACert: firstOf(c.g.caCert, c.env.Getenv("EXEKRA_CA_CERT")), InsecureSkipVerify: c.g.insecure}
	if saved != nil && (server == "" || sameServer(server, saved.Server)) {
		server = saved.Server
		if token == "" {
			token = saved.Token
		}
		if tlsOpts.CACert == "" {
			tlsOpts.CACert = saved.CACert
		}
		tlsOpts.InsecureSkipVerify = tlsOpts.InsecureSkipVerify || saved.InsecureSkipVerify
	}
	if server == "" {
		return nil, errors.New("no server: run exekra login --server URL --email EMAIL, or give --server (or EXEKRA_SERVER) with EXEKRA_TOKEN")
	}
	if server, err = normalizeServer(server); err != nil {
		return nil, usagef("%v", err)
	}
	if token == "" {
		return nil, fmt.Errorf("not logged in to %s: run exekra login --server %s --email EMAIL, or set EXEKRA_TOKEN", server, server)
	}
	hc, err := newHTTPClient(tlsOpts)
	if err != nil {
		return nil, err
	}
	return &API{Base: server, Token: token, HTTP: hc}, nil
}

func sameServer(a, b string) bool {
	na, err1 := normalizeServer(a)
	nb, err2 := normalizeServer(b)
	return err1 == nil && err2 == nil && na == nb
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// resourceCmd builds a resource's command group from its table row.
func (c *cli) resourceCmd(r Resource) *cobra.Command {
	group := &cobra.Command{Use: r.Name, Short: r.Short}
	for _, a := range r.Actions {
		group.AddCommand(c.actionCmd(r, a))
	}
	if r.Name == "workflows" {
		group.AddCommand(c.pushCmd())
	}
	return group
}

// actionCmd builds one API call as a command: its positional arguments
// come from the path, its flags from the body and query fields.
func (c *cli) actionCmd(r Resource, a Action) *cobra.Command {
	var argNames []string
	if strings.Contains(a.Path, wfArg) {
		argNames = append(argNames, "WORKFLOW")
	}
	if strings.Contains(a.Path, idArg) {
		argNames = append(argNames, "ID")
	}
	use := a.Name
	for _, n := range argNames {
		use += " " + n
	}
	if len(a.Body) > 0 || len(a.Query) > 0 || a.List {
		use += " [flags]"
	}
	long := a.Short + "\n\n" + a.Method + " " + strings.NewReplacer(wfArg, ":workflowId", idArg, ":id").Replace(a.Path) + " (see docs/api.md)."
	if len(argNames) > 0 && argNames[0] == "WORKFLOW" {
		long += "\nWORKFLOW is a workflow's id or its exact name."
	}
	var data string
	var page, limit int
	values := map[string]*string{}
	cmd := &cobra.Command{
		Use:   use,
		Short: a.Short,
		Long:  long,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != len(argNames) {
				if len(argNames) == 0 {
					return usagef("%s: unexpected argument %q", cmd.CommandPath(), args[0])
				}
				return usagef("%s: takes %s", cmd.CommandPath(), strings.Join(argNames, " "))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.connect()
			if err != nil {
				return err
			}
			path := a.Path
			for i, n := range argNames {
				v := args[i]
				if n == "WORKFLOW" {
					if v, err = resolveWorkflow(api, v); err != nil {
						return err
					}
					path = strings.Replace(path, wfArg, url.PathEscape(v), 1)
				} else {
					path = strings.Replace(path, idArg, url.PathEscape(v), 1)
				}
			}
			var body any
			if a.Method != "GET" && a.Method != "DELETE" {
				obj := map[string]any{}
				if data != "" {
					raw, err := readArg(data)
					if err != nil {
						return usagef("%s: --data: %v", cmd.CommandPath(), err)
					}
					if err := json.Unmarshal(raw, &obj); err != nil {
						return usagef("%s: --data must be a JSON object: %v", cmd.CommandPath(), err)
					}
				}
				if err := setFields(api, cmd, a.Body, values, obj); err != nil {
					return err
				}
				body = obj
			}
			if a.List || len(a.Query) > 0 {
				q := url.Values{}
				obj := map[string]any{}
				if err := setFields(api, cmd, a.Query, values, obj); err != nil {
					return err
				}
				for k, v := range obj {
					q.Set(k, fmt.Sprint(v))
				}
				if cmd.Flags().Changed("page") {
					q.Set("page", strconv.Itoa(page))
				}
				if cmd.Flags().Changed("limit") {
					q.Set("limit", strconv.Itoa(limit))
				}
				if len(q) > 0 {
					path += "?" + q.Encode()
				}
			}
			raw, _, err := api.Do(a.Method, path, body)
			if err != nil {
				return err
			}
			return c.print(raw, r, a)
		},
	}
	f := cmd.Flags()
	for _, fld := range append(append([]Field{}, a.Body...), a.Query...) {
		name := firstOf(fld.Flag, fld.JSON)
		v := new(string)
		values[name] = v
		switch fld.Type {
		case fieldBool:
			f.Var(boolText{v}, name, fld.Usage)
			f.Lookup(name).NoOptDefVal = "true"
		default:
			f.StringVar(v, name, "", fld.Usage)
		}
	}
	if len(a.Body) > 0 {
		f.StringVarP(&data, "data", "d", "", "the whole request body: JSON text or @FILE (the flags above override its fields)")
	}
	if a.List {
		f.IntVar(&page, "page", 1, "page number (1 and up)")
		f.IntVar(&limit, "limit", 50, "items per page (1 to 200)")
	}
	return cmd
}

// boolText is a flag that keeps the text of a boolean for the body.
type boolText struct{ v *string }

func (b boolText) String() string {
	if b.v == nil {
		return ""
	}
	return *b.v
}

func (b boolText) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("must be true or false")
	}
	*b.v = strconv.FormatBool(v)
	return nil
}

func (b boolText) Type() string { return "bool" }

// setFields copies the flags that were given into obj, converted to JSON.
func setFields(api *API, cmd *cobra.Command, fields []Field, values map[string]*string, obj map[string]any) error {
	for _, fld := range fields {
		name := firstOf(fld.Flag, fld.JSON)
		if !cmd.Flags().Changed(name) {
			continue
		}
		v := *values[name]
		switch fld.Type {
		case fieldBool:
			obj[fld.JSON] = v == "true"
		case fieldInt:
			n, err := strconv.Atoi(v)
			if err != nil {
				return usagef("%s: --%s must be a number", cmd.CommandPath(), name)
			}
			obj[fld.JSON] = n
		case fieldList:
			list := []string{}
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					list = append(list, s)
				}
			}
			obj[fld.JSON] = list
		case fieldJSON, fieldJSONText:
			raw, err := readArg(v)
			if err != nil {
				return usagef("%s: --%s: %v", cmd.CommandPath(), name, err)
			}
			if !json.Valid(raw) {
				return usagef("%s: --%s must be JSON text or @FILE holding JSON", cmd.CommandPath(), name)
			}
			if fld.Type == fieldJSONText {
				obj[fld.JSON] = string(bytes.TrimSpace(raw))
			} else {
				obj[fld.JSON] = json.RawMessage(raw)
			}
		case fieldWorkflow:
			id, err := resolveWorkflow(api, v)
			if err != nil {
				return err
			}
			obj[fld.JSON] = id
		default:
			obj[fld.JSON] = v
		}
	}
	return nil
}

// readArg is the text of a flag value, or the contents of @FILE ("@-" is
// standard input).
func readArg(v string) ([]byte, error) {
	if name, ok := strings.CutPrefix(v, "@"); ok {
		if name == "-" {
			return io.ReadAll(os.Stdin)
		}
		return os.ReadFile(name)
	}
	return []byte(v), nil
}

// resolveWorkflow turns a workflow reference (an id or an exact name) into
// its id: an id that exists wins; otherwise exactly one workflow must bear
// the name.
func resolveWorkflow(api *API, ref string) (string, error) {
	if ref == "" {
		return "", usagef("a workflow id or name must not be empty")
	}
	var one struct {
		Workflow struct {
			ID string `json:"id"`
		} `json:"workflow"`
	}
	err := api.Get("/api/workflows/"+url.PathEscape(ref), &one)
	if err == nil && one.Workflow.ID != "" {
		return one.Workflow.ID, nil
	}
	if err != nil && !isNotFound(err) {
		return "", err
	}
	ids, err := workflowsNamed(api, ref)
	if err != nil {
		return "", err
	}
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("no workflow has the id or name %q", ref)
	case 1:
		return ids[0], nil
	}
	return "", fmt.Errorf("%d workflows are named %q: give the id (%s)", len(ids), ref, strings.Join(ids, ", "))
}

// workflowsNamed pages through the workflows for those named exactly name.
func workflowsNamed(api *API, name string) ([]string, error) {
	var ids []string
	for page := 1; ; page++ {
		var list struct {
			Workflows []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"workflows"`
			Pagination struct {
				TotalPages int `json:"totalPages"`
			} `json:"pagination"`
		}
		if err := api.Get(fmt.Sprintf("/api/workflows?page=%d&limit=200", page), &list); err != nil {
			return nil, err
		}
		for _, w := range list.Workflows {
			if w.Name == name {
				ids = append(ids, w.ID)
			}
		}
		if page >= list.Pagination.TotalPages {
			return ids, nil
		}
	}
}
