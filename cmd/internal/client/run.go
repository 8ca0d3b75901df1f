package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// execution is the part of an execution the client follows.
type execution struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Logs   string `json:"logs"`
	Error  string `json:"error"`
}

func terminal(status string) bool {
	return status == "COMPLETED" || status == "FAILED" || status == "STOPPED"
}

// runCmd is `exekra run WORKFLOW [--input @FILE|JSON] [--priority P] [--wait]`.
func (c *cli) runCmd() *cobra.Command {
	var input, priority string
	var wait bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "run WORKFLOW [--input @FILE|JSON] [--priority P] [--wait]",
		Short: "Queue an execution of a workflow; with --wait follow it to the end",
		Long: `Queue an execution of WORKFLOW's published version (WORKFLOW is its id or its
exact name) and print the execution's id.

With --wait, follow the execution: after its id, its log is printed as it grows
(status changes go to standard error), and the
command exits 0 when it COMPLETED, 1 when it FAILED or was STOPPED (the error
on standard error). With -o json the final execution is printed as JSON.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("exekra run: takes one WORKFLOW (an id or exact name)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{}
			if input != "" {
				raw, err := readArg(input)
				if err != nil {
					return usagef("exekra run: --input: %v", err)
				}
				if !json.Valid(raw) {
					return usagef("exekra run: --input must be JSON text or @FILE holding JSON")
				}
				body["input"] = json.RawMessage(raw)
			}
			if priority != "" {
				p := strings.ToUpper(priority)
				if p != "LOW" && p != "NORMAL" && p != "HIGH" {
					return usagef("exekra run: --priority must be LOW, NORMAL or HIGH")
				}
				body["priority"] = p
			}
			if interval <= 0 {
				return usagef("exekra run: --poll-interval must be positive")
			}
			api, err := c.connect()
			if err != nil {
				return err
			}
			id, err := resolveWorkflow(api, args[0])
			if err != nil {
				return err
			}
			body["workflowId"] = id
			raw, _, err := api.Do(http.MethodPost, "/api/executions", body)
			if err != nil {
				return err
			}
			var created struct {
				Execution execution `json:"execution"`
			}
			if err := json.Unmarshal(raw, &created); err != nil {
				return err
			}
			if !wait {
				if c.g.output == "json" {
					return printJSON(c.env.Stdout, raw)
				}
				fmt.Fprintln(c.env.Stdout, created.Execution.ID)
				return nil
			}
			if c.g.output != "json" {
				fmt.Fprintln(c.env.Stdout, created.Execution.ID)
			}
			return c.follow(api, created.Execution.ID, interval)
		},
	}
	f := cmd.Flags()
	f.StringVar(&input, "input", "", "the execution's input: JSON text or @FILE")
	f.StringVar(&priority, "priority", "", "LOW, NORMAL or HIGH (default NORMAL)")
	f.BoolVar(&wait, "wait", false, "follow the execution to its end, print its log, exit 1 unless it COMPLETED")
	f.DurationVar(&interval, "poll-interval", 500*time.Millisecond, "with --wait, how often the execution is read")
	return cmd
}

// follow reads the execution until it ends, printing its log as it grows.
// The log is printed to standard output (with -o json: the final execution
// instead); the outcome goes to standard error.
func (c *cli) follow(api *API, id string, interval time.Duration) error {
	printed := 0
	lastStatus := ""
	for {
		raw, _, err := api.Do(http.MethodGet, "/api/executions/"+url.PathEscape(id), nil)
		if err != nil {
			return err
		}
		var got struct {
			Execution execution `json:"execution"`
		}
		if err := json.Unmarshal(raw, &got); err != nil {
			return err
		}
		e := got.Execution
		if c.g.output != "json" {
			if e.Status != lastStatus {
				fmt.Fprintln(c.env.Stderr, "status", e.Status)
				lastStatus = e.Status
			}
			// The stored log keeps its last MiB: when it was cut at the
			// front, print what is new from its end.
			if len(e.Logs) < printed {
				printed = 0
			}
			if len(e.Logs) > printed {
				fmt.Fprint(c.env.Stdout, e.Logs[printed:])
				printed = len(e.Logs)
			}
		}
		if terminal(e.Status) {
			if c.g.output == "json" {
				if err := printJSON(c.env.Stdout, raw); err != nil {
					return err
				}
			} else if printed > 0 && !strings.HasSuffix(e.Logs, "\n") {
				fmt.Fprintln(c.env.Stdout)
			}
			if e.Status == "COMPLETED" {
				return nil
			}
			msg := fmt.Sprintf("exekra: execution %s %s", e.ID, e.Status)
			if e.Error != "" {
				msg += ": " + e.Error
			}
			return &exitStatus{code: 1, msg: msg}
		}
		time.Sleep(interval)
	}
}
