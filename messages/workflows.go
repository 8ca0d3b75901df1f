package messages

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// The commands and replies of workflows, versions and analytics. Handlers
// send the commands to the workflows actor through System.Ask.

// CreateWorkflow creates a workflow. Reply: *Workflow. Errors: VALIDATION_ERROR,
// LICENSE_LIMIT, LICENSE_EXPIRED.
type CreateWorkflow struct {
	Name         string
	Description  string
	RunnerLabels []string
	Origin       Origin
}

// UpdateWorkflow changes a workflow's name and/or description (nil = keep).
// Reply: *Workflow. Errors: NOT_FOUND, VALIDATION_ERROR.
type UpdateWorkflow struct {
	ID           string
	Name         *string
	Description  *string
	RunnerLabels []string // nil = keep
	Origin       Origin
}

// DeleteWorkflow removes a workflow with its versions and triggers.
// Reply: *WorkflowDeleted. Errors: NOT_FOUND, CONFLICT (active executions).
type DeleteWorkflow struct {
	ID     string
	Origin Origin
}

// WorkflowDeleted answers DeleteWorkflow; TriggerIDs are the triggers removed
// with the workflow (their actors are stopped).
type WorkflowDeleted struct {
	ID         string
	TriggerIDs []string
}

// SaveDraft saves a new DRAFT version of a workflow's graph. Reply: *Version.
// Errors: NOT_FOUND, VALIDATION_ERROR (graph).
type SaveDraft struct {
	WorkflowID string
	GraphJSON  string
	Metadata   string
	Origin     Origin
}

// PublishLatest publishes the latest version of a workflow, which must be a
// DRAFT. Reply: *Version. Errors: NOT_FOUND, VALIDATION_ERROR, LICENSE_EXPIRED.
type PublishLatest struct {
	WorkflowID string
	Origin     Origin
}

// WorkflowDetail is a workflow with its versions (newest first), triggers
// and execution count, as GET /api/workflows/:id shows it.
type WorkflowDetail struct {
	Workflow
	Versions       []*Version `json:"versions"`
	Triggers       []*Trigger `json:"triggers"`
	ExecutionCount int        `json:"executionCount"`
}

// WorkflowPerformance is one row of GET /api/analytics/process-performance.
type WorkflowPerformance struct {
	WorkflowID    string  `json:"workflowId"`
	WorkflowName  string  `json:"workflowName"`
	Total         int     `json:"total"`
	Completed     int     `json:"completed"`
	Failed        int     `json:"failed"`
	Stopped       int     `json:"stopped"`
	SuccessRate   float64 `json:"successRate"`
	FailureRate   float64 `json:"failureRate"`
	AvgDurationMs float64 `json:"avgDurationMs"`
	CPUAvg        float64 `json:"cpuAvg"`
	CPUPeak       float64 `json:"cpuPeak"`
	MemAvgMB      float64 `json:"memAvgMB"`
	MemPeakMB     float64 `json:"memPeakMB"`
}

// graphNode and graphEdge are the parts of a graph the server checks.
type graphNode struct {
	ID     *string         `json:"id"`
	Type   *string         `json:"type"`
	Name   *string         `json:"name"`
	Params json.RawMessage `json:"params"`
}

type graphEdge struct {
	Source *string `json:"source"`
	Target *string `json:"target"`
}

// ValidateGraph checks a version's graphJson (docs/graph.md): an object with
// `nodes` (each with a unique non-empty string id, a non-empty string type,
// an optional string name and an optional params object) and `edges` (each
// with a source and a target naming existing nodes). Node types are not
// restricted. The error is a VALIDATION_ERROR saying what is wrong.
func ValidateGraph(text string) error {
	if strings.TrimSpace(text) == "" {
		return Invalid("graphJson must not be empty")
	}
	if !utf8.ValidString(text) {
		return Invalid("graphJson is not valid UTF-8")
	}
	if err := CheckJSONDepth("graphJson", []byte(text)); err != nil {
		return err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &top); err != nil || top == nil {
		return Invalid("graphJson must be the JSON text of an object with nodes and edges")
	}
	rawNodes, ok := top["nodes"]
	if !ok {
		return Invalid("graphJson: nodes is required (an array)")
	}
	var nodes []json.RawMessage
	if err := json.Unmarshal(rawNodes, &nodes); err != nil || nodes == nil {
		return Invalid("graphJson: nodes must be an array")
	}
	rawEdges, ok := top["edges"]
	if !ok {
		return Invalid("graphJson: edges is required (an array)")
	}
	var edges []json.RawMessage
	if err := json.Unmarshal(rawEdges, &edges); err != nil || edges == nil {
		return Invalid("graphJson: edges must be an array")
	}
	ids := make(map[string]bool, len(nodes))
	for i, raw := range nodes {
		var n graphNode
		if err := json.Unmarshal(raw, &n); err != nil || len(bytes.TrimSpace(raw)) == 0 || raw[0] != '{' {
			return Invalid("graphJson: nodes[%d] must be an object with string id, type and name", i)
		}
		if n.ID == nil || strings.TrimSpace(*n.ID) == "" {
			return Invalid("graphJson: nodes[%d].id must be a non-empty string", i)
		}
		if ids[*n.ID] {
			return Invalid("graphJson: node id %q is used more than once", *n.ID)
		}
		ids[*n.ID] = true
		if n.Type == nil || strings.TrimSpace(*n.Type) == "" {
			return Invalid("graphJson: nodes[%d] (%q).type must be a non-empty string", i, *n.ID)
		}
		if p := bytes.TrimSpace(n.Params); len(p) > 0 && !bytes.Equal(p, []byte("null")) && p[0] != '{' {
			return Invalid("graphJson: nodes[%d] (%q).params must be an object", i, *n.ID)
		}
	}
	for i, raw := range edges {
		var e graphEdge
		if err := json.Unmarshal(raw, &e); err != nil || len(bytes.TrimSpace(raw)) == 0 || raw[0] != '{' {
			return Invalid("graphJson: edges[%d] must be an object with string source and target", i)
		}
		if e.Source == nil || *e.Source == "" {
			return Invalid("graphJson: edges[%d].source is required", i)
		}
		if e.Target == nil || *e.Target == "" {
			return Invalid("graphJson: edges[%d].target is required", i)
		}
		if !ids[*e.Source] {
			return Invalid("graphJson: edges[%d].source %q names no node", i, *e.Source)
		}
		if !ids[*e.Target] {
			return Invalid("graphJson: edges[%d].target %q names no node", i, *e.Target)
		}
	}
	return nil
}
