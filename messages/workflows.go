package messages

// The commands and replies of workflows, versions and analytics. Handlers
// send the commands to the workflows actor through System.Ask.

// CreateWorkflow creates a workflow. Reply: *Workflow. Errors: VALIDATION_ERROR,
// LICENSE_LIMIT, LICENSE_EXPIRED.
type CreateWorkflow struct {
	Name        string
	Description string
	Origin      Origin
}

// UpdateWorkflow changes a workflow's name and/or description (nil = keep).
// Reply: *Workflow. Errors: NOT_FOUND, VALIDATION_ERROR.
type UpdateWorkflow struct {
	ID          string
	Name        *string
	Description *string
	Origin      Origin
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
