package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"

	"github.com/spf13/cobra"
)

// workflowFile is what `exekra workflows push` reads: a workflow by name
// with its graph.
type workflowFile struct {
	Name        string          `json:"name"`
	Description *string         `json:"description"`
	Graph       json.RawMessage `json:"graph"`
	GraphJSON   *string         `json:"graphJson"`
	Metadata    *string         `json:"metadata"`
}

// pushCmd is `exekra workflows push FILE.json [--publish]`: create the
// workflow named in the file (or update the one of that name), save its
// graph as a new draft unless the latest version already holds that graph,
// and optionally publish it.
func (c *cli) pushCmd() *cobra.Command {
	var publish bool
	cmd := &cobra.Command{
		Use:   "push FILE.json [--publish]",
		Short: "Create or update a workflow from a file: its graph as a new draft, optionally published",
		Long: `Read a workflow from FILE.json:

  {"name": "Nightly report", "description": "…", "graph": {"nodes": [...], "edges": [...]}, "metadata": "…"}

("graphJson", the graph as JSON text, may stand for "graph"). The workflow with
exactly that name is created when there is none, else its description is
updated. The graph becomes a new DRAFT version unless the latest version
already holds the same graph; --publish then publishes the latest version
when it is a draft. Pushing the same file twice changes nothing the second
time.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("exekra workflows push: takes one FILE.json")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			var wf workflowFile
			if err := json.Unmarshal(data, &wf); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			graph, err := wf.graphText()
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			api, err := c.connect()
			if err != nil {
				return err
			}
			res, err := push(api, wf, graph, publish)
			if err != nil {
				return err
			}
			if c.g.output == "json" {
				out, _ := json.Marshal(res)
				return printJSON(c.env.Stdout, out)
			}
			fmt.Fprintf(c.env.Stdout, "workflow %s (%s): %s\n", res.Workflow.ID, res.Workflow.Name, res.Summary)
			return nil
		},
	}
	cmd.Flags().BoolVar(&publish, "publish", false, "publish the latest version when it is a draft")
	return cmd
}

// graphText is the file's graph as compact JSON text.
func (wf *workflowFile) graphText() (string, error) {
	if wf.Name == "" {
		return "", errors.New(`"name" is required`)
	}
	var raw []byte
	switch {
	case len(wf.Graph) > 0 && wf.GraphJSON != nil:
		return "", errors.New(`give "graph" or "graphJson", not both`)
	case len(wf.Graph) > 0:
		raw = wf.Graph
	case wf.GraphJSON != nil:
		raw = []byte(*wf.GraphJSON)
	default:
		return "", errors.New(`"graph" is required`)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return "", fmt.Errorf("the graph is not JSON: %w", err)
	}
	return buf.String(), nil
}

// pushResult is what push did (printed with -o json).
type pushResult struct {
	Workflow struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"workflow"`
	Created   bool            `json:"created"`
	Version   json.RawMessage `json:"version,omitempty"`
	NewDraft  bool            `json:"newDraft"`
	Published bool            `json:"published"`
	Summary   string          `json:"summary"`
}

type version struct {
	ID        string `json:"id"`
	Number    int    `json:"number"`
	Status    string `json:"status"`
	GraphJSON string `json:"graphJson"`
}

func push(api *API, wf workflowFile, graph string, publish bool) (*pushResult, error) {
	res := &pushResult{}
	ids, err := workflowsNamed(api, wf.Name)
	if err != nil {
		return nil, err
	}
	var id string
	switch len(ids) {
	case 0:
		body := map[string]any{"name": wf.Name}
		if wf.Description != nil {
			body["description"] = *wf.Description
		}
		raw, _, err := api.Do(http.MethodPost, "/api/workflows", body)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, res); err != nil {
			return nil, err
		}
		id, res.Created = res.Workflow.ID, true
	case 1:
		id = ids[0]
		if err := api.Get("/api/workflows/"+url.PathEscape(id), res); err != nil {
			return nil, err
		}
		if wf.Description != nil {
			raw, _, err := api.Do(http.MethodPatch, "/api/workflows/"+url.PathEscape(id), map[string]any{"description": *wf.Description})
			if err != nil {
				return nil, err
			}
			if err := json.Unmarshal(raw, res); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("%d workflows are named %q: rename all but one", len(ids), wf.Name)
	}
	var latest struct {
		Version version `json:"version"`
	}
	err = api.Get("/api/workflows/"+url.PathEscape(id)+"/versions/latest", &latest)
	if err != nil && !isNotFound(err) {
		return nil, err
	}
	same := err == nil && sameJSON(latest.Version.GraphJSON, graph)
	cur := latest.Version
	if !same {
		body := map[string]any{"graphJson": graph}
		if wf.Metadata != nil {
			body["metadata"] = *wf.Metadata
		}
		raw, _, err := api.Do(http.MethodPost, "/api/workflows/"+url.PathEscape(id)+"/draft", body)
		if err != nil {
			return nil, err
		}
		var saved struct {
			Version version `json:"version"`
		}
		if err := json.Unmarshal(raw, &saved); err != nil {
			return nil, err
		}
		cur, res.NewDraft = saved.Version, true
	}
	if publish && cur.Status == "DRAFT" {
		raw, _, err := api.Do(http.MethodPost, "/api/workflows/"+url.PathEscape(id)+"/publish", nil)
		if err != nil {
			return nil, err
		}
		var pub struct {
			Version version `json:"version"`
		}
		if err := json.Unmarshal(raw, &pub); err != nil {
			return nil, err
		}
		cur, res.Published = pub.Version, true
	}
	res.Version, _ = json.Marshal(map[string]any{"id": cur.ID, "number": cur.Number, "status": cur.Status})
	verb := "updated"
	if res.Created {
		verb = "created"
	}
	switch {
	case res.NewDraft && res.Published:
		res.Summary = fmt.Sprintf("%s; version %d saved and published", verb, cur.Number)
	case res.NewDraft:
		res.Summary = fmt.Sprintf("%s; version %d saved as a draft", verb, cur.Number)
	case res.Published:
		res.Summary = fmt.Sprintf("graph unchanged; version %d published", cur.Number)
	default:
		res.Summary = fmt.Sprintf("graph unchanged (version %d, %s)", cur.Number, cur.Status)
	}
	return res, nil
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
