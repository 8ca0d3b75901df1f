package client

// Field is a value of a request: a flag that, when given, sets one JSON
// field of the body (or one query parameter of a list).
type Field struct {
	// JSON is the field's name in the body or query.
	JSON string
	// Flag is the command-line flag (the JSON name when empty).
	Flag string
	// Type is how the flag's text becomes JSON: fieldString (the default),
	// fieldBool, fieldInt, fieldJSON (JSON text or @FILE, sent as JSON),
	// fieldJSONText (JSON text or @FILE, sent as a string holding it),
	// fieldList (comma-separated strings) or fieldWorkflow (a workflow id
	// or exact name, sent as its id).
	Type  string
	Usage string
}

// The field types.
const (
	fieldString   = ""
	fieldBool     = "bool"
	fieldInt      = "int"
	fieldJSON     = "json"
	fieldJSONText = "jsontext"
	fieldList     = "list"
	fieldWorkflow = "workflow"
)

// Column is a column of the table output: a header and the dotted path of
// the value in each object ("workflow.name").
type Column struct {
	Header string
	Path   string
}

// Action is one subcommand of a resource: a single API call.
type Action struct {
	Name  string
	Short string
	// Method and Path of the call; the path may hold {id} (the ID argument)
	// and {workflow} (the WORKFLOW argument: an id or an exact name).
	Method string
	Path   string
	// List pages through a collection (--page, --limit; Query fields are
	// filters).
	List  bool
	Query []Field
	// Body fields become flags; --data gives the whole body (JSON or @FILE)
	// and the flags override its fields.
	Body []Field
	// Answer is the key of the object or list in the answer ("" when the
	// answer is the object itself); Also are further top-level fields shown
	// beside it (a secret shown once, say).
	Answer string
	Also   []string
	// Note is printed after a table answer (on stderr), e.g. that a secret
	// is shown only once.
	Note string
}

// Resource is a group of commands over one kind of API object.
type Resource struct {
	Name    string
	Short   string
	Columns []Column
	Actions []Action
}

var (
	idArg = "{id}"
	wfArg = "{workflow}"
)

// resources is the client's table of API resources. Adding a resource is
// adding a row (paths and fields as docs/api.md describes them).
var resources = []Resource{
	{
		Name: "workflows", Short: "Workflows: list, show, create, change, delete, draft, publish, push",
		Columns: []Column{{"ID", "id"}, {"NAME", "name"}, {"LATEST", "latestVersionNumber"}, {"PUBLISHED VERSION", "publishedVersionId"}, {"UPDATED", "updatedAt"}},
		Actions: []Action{
			{Name: "list", Short: "List workflows, newest first", Method: "GET", Path: "/api/workflows", List: true, Answer: "workflows"},
			{Name: "get", Short: "Show a workflow with its versions, triggers and execution count", Method: "GET", Path: "/api/workflows/" + wfArg, Answer: "workflow"},
			{Name: "create", Short: "Create a workflow", Method: "POST", Path: "/api/workflows", Answer: "workflow", Body: []Field{
				{JSON: "name", Usage: "workflow name (required)"},
				{JSON: "description", Usage: "description"},
				{JSON: "runnerLabels", Flag: "runner-labels", Type: fieldList, Usage: "labels a runner must have to take its executions (comma-separated)"}}},
			{Name: "update", Short: "Change a workflow's name, description or runner labels", Method: "PATCH", Path: "/api/workflows/" + wfArg, Answer: "workflow", Body: []Field{
				{JSON: "name", Usage: "new name"},
				{JSON: "description", Usage: "new description"},
				{JSON: "runnerLabels", Flag: "runner-labels", Type: fieldList, Usage: "labels a runner must have to take its executions (comma-separated)"}}},
			{Name: "delete", Short: "Delete a workflow with its versions and triggers (ADMIN)", Method: "DELETE", Path: "/api/workflows/" + wfArg},
			{Name: "draft", Short: "Save a new draft version of a workflow's graph", Method: "POST", Path: "/api/workflows/" + wfArg + "/draft", Answer: "version", Body: []Field{
				{JSON: "graphJson", Flag: "graph", Type: fieldJSONText, Usage: "the graph: JSON text or @FILE (required)"},
				{JSON: "metadata", Usage: "free text kept with the version"}}},
			{Name: "publish", Short: "Publish a workflow's latest version (a draft)", Method: "POST", Path: "/api/workflows/" + wfArg + "/publish", Answer: "version"},
		},
	},
	{
		Name: "versions", Short: "Versions of a workflow",
		Columns: []Column{{"ID", "id"}, {"NUMBER", "number"}, {"STATUS", "status"}, {"CREATED", "createdAt"}, {"PUBLISHED", "publishedAt"}},
		Actions: []Action{
			{Name: "list", Short: "List a workflow's versions, newest first", Method: "GET", Path: "/api/workflows/" + wfArg + "/versions", Answer: "versions"},
			{Name: "latest", Short: "Show a workflow's latest version", Method: "GET", Path: "/api/workflows/" + wfArg + "/versions/latest", Answer: "version"},
		},
	},
	{
		Name: "executions", Short: "Executions: list, show (with the log), stop, stats (start one with exekra run)",
		Columns: []Column{{"ID", "id"}, {"WORKFLOW", "workflow.name"}, {"STATUS", "status"}, {"PRIORITY", "priority"}, {"RUNNER", "runnerId"}, {"CREATED", "createdAt"}, {"ERROR", "error"}},
		Actions: []Action{
			{Name: "list", Short: "List executions, newest first", Method: "GET", Path: "/api/executions", List: true, Answer: "executions", Query: []Field{
				{JSON: "workflowId", Flag: "workflow", Type: fieldWorkflow, Usage: "only this workflow's (id or exact name)"},
				{JSON: "runnerId", Flag: "runner", Usage: "only this runner's (id)"},
				{JSON: "status", Usage: "only this status: QUEUED, ASSIGNED, RUNNING, COMPLETED, FAILED or STOPPED"},
				{JSON: "from", Usage: "created at or after (RFC 3339 time or date)"},
				{JSON: "to", Usage: "created at or before (RFC 3339 time or date)"}}},
			{Name: "get", Short: "Show an execution with its log", Method: "GET", Path: "/api/executions/" + idArg, Answer: "execution"},
			{Name: "stop", Short: "Stop an execution", Method: "POST", Path: "/api/executions/" + idArg + "/stop", Answer: "execution"},
			{Name: "stats", Short: "Count executions by status", Method: "GET", Path: "/api/executions/stats"},
		},
	},
	{
		Name: "runners", Short: "Runners: list, show, register, relabel, regenerate a secret, delete",
		Columns: []Column{{"ID", "id"}, {"NAME", "name"}, {"TYPE", "type"}, {"STATUS", "status"}, {"LAST HEARTBEAT", "lastHeartbeatAt"}, {"EXECUTION", "currentExecutionId"}},
		Actions: []Action{
			{Name: "list", Short: "List runners", Method: "GET", Path: "/api/runners", List: true, Answer: "runners", Query: []Field{
				{JSON: "status", Usage: "only this status: ONLINE, BUSY or OFFLINE"},
				{JSON: "type", Usage: "only this type: ATTENDED or UNATTENDED"},
				{JSON: "label", Usage: "only runners with every one of these labels (comma-separated)"}}},
			{Name: "get", Short: "Show a runner", Method: "GET", Path: "/api/runners/" + idArg, Answer: "runner"},
			{Name: "create", Short: "Register a runner; shows its machine secret once (ADMIN)", Method: "POST", Path: "/api/runners/register",
				Note: "the machine secret is shown only now: keep it", Body: []Field{
					{JSON: "name", Usage: "runner name (required, unique)"},
					{JSON: "type", Usage: "ATTENDED or UNATTENDED (default UNATTENDED)"},
					{JSON: "labels", Type: fieldList, Usage: "runner labels (comma-separated)"}}},
			{Name: "regenerate-secret", Short: "Issue a new machine secret; the old one stops working at once (ADMIN)", Method: "POST",
				Path: "/api/runners/" + idArg + "/regenerate-secret", Note: "the machine secret is shown only now: keep it"},
			{Name: "labels", Short: "Replace a runner's labels (ADMIN; --labels '' removes them all)", Method: "PATCH", Path: "/api/runners/" + idArg, Answer: "runner", Body: []Field{
				{JSON: "labels", Type: fieldList, Usage: "the runner's labels (comma-separated; required)"}}},
			{Name: "delete", Short: "Delete a runner; its credentials stop working at once (ADMIN)", Method: "DELETE", Path: "/api/runners/" + idArg},
		},
	},
	{
		Name: "triggers", Short: "Triggers (schedules and webhooks): list, show, create, change, delete",
		Columns: []Column{{"ID", "id"}, {"TYPE", "type"}, {"WORKFLOW", "workflowId"}, {"ENABLED", "enabled"}, {"NEXT RUN", "nextRunAt"}, {"WEBHOOK", "webhookPath"}},
		Actions: []Action{
			{Name: "list", Short: "List triggers", Method: "GET", Path: "/api/triggers", List: true, Answer: "triggers", Query: []Field{
				{JSON: "workflowId", Flag: "workflow", Type: fieldWorkflow, Usage: "only this workflow's (id or exact name)"},
				{JSON: "type", Usage: "only this type: SCHEDULE or WEBHOOK"}}},
			{Name: "get", Short: "Show a trigger", Method: "GET", Path: "/api/triggers/" + idArg, Answer: "trigger"},
			{Name: "create", Short: "Create a trigger", Method: "POST", Path: "/api/triggers", Answer: "trigger", Body: []Field{
				{JSON: "workflowId", Flag: "workflow", Type: fieldWorkflow, Usage: "the workflow it starts: id or exact name (required)"},
				{JSON: "type", Usage: "SCHEDULE or WEBHOOK (required)"},
				{JSON: "config", Type: fieldJSON, Usage: `configuration, JSON or @FILE: {"cron","timezone"?} for SCHEDULE, {"secret"?,"rateLimit"?} for WEBHOOK`},
				{JSON: "enabled", Type: fieldBool, Usage: "whether it fires"},
				{JSON: "priority", Usage: "LOW, NORMAL or HIGH for the executions it creates (default NORMAL)"}}},
			{Name: "update", Short: "Change a trigger's configuration or enabled flag", Method: "PATCH", Path: "/api/triggers/" + idArg, Answer: "trigger", Body: []Field{
				{JSON: "config", Type: fieldJSON, Usage: "new configuration, JSON or @FILE"},
				{JSON: "enabled", Type: fieldBool, Usage: "whether it fires"}}},
			{Name: "delete", Short: "Delete a trigger (ADMIN)", Method: "DELETE", Path: "/api/triggers/" + idArg},
		},
	},
	{
		Name: "users", Short: "Users (ADMIN): list, create, change role, name or disabled",
		Columns: []Column{{"ID", "id"}, {"EMAIL", "email"}, {"NAME", "name"}, {"ROLE", "role"}, {"DISABLED", "disabled"}, {"LAST LOGIN", "lastLoginAt"}},
		Actions: []Action{
			{Name: "list", Short: "List users", Method: "GET", Path: "/api/users", List: true, Answer: "users"},
			{Name: "create", Short: "Create a user", Method: "POST", Path: "/api/auth/register", Answer: "user", Body: []Field{
				{JSON: "email", Usage: "email (required)"},
				{JSON: "password", Usage: "initial password, at least 8 characters (required; prefer --data @FILE: command lines are visible to other local users)"},
				{JSON: "name", Usage: "display name (default: the email's local part)"},
				{JSON: "role", Usage: "ADMIN, DEVELOPER or OPERATOR (default OPERATOR)"}}},
			{Name: "update", Short: "Change a user's name, role or disabled flag", Method: "PATCH", Path: "/api/users/" + idArg, Answer: "user", Body: []Field{
				{JSON: "name", Usage: "new display name"},
				{JSON: "role", Usage: "ADMIN, DEVELOPER or OPERATOR"},
				{JSON: "disabled", Type: fieldBool, Usage: "disable (true) or enable (false) the account"}}},
		},
	},
	{
		Name: "api-keys", Short: "API keys for scripts and CI: list, create, revoke",
		Columns: []Column{{"ID", "id"}, {"NAME", "name"}, {"ROLE", "role"}, {"PREFIX", "prefix"}, {"EXPIRES", "expiresAt"}, {"LAST USED", "lastUsedAt"}, {"OWNER", "userId"}},
		Actions: []Action{
			{Name: "list", Short: "List your API keys (ADMIN: --all for everyone's)", Method: "GET", Path: "/api/auth/api-keys", List: true, Answer: "apiKeys", Query: []Field{
				{JSON: "all", Type: fieldBool, Usage: "every user's keys (ADMIN)"}}},
			{Name: "create", Short: "Create an API key; the key is shown only once", Method: "POST", Path: "/api/auth/api-keys", Answer: "apiKey", Also: []string{"key"},
				Note: "the key is shown only now: use it as EXEKRA_TOKEN or Authorization: Bearer", Body: []Field{
					{JSON: "name", Usage: "what the key is for (required)"},
					{JSON: "expiresAt", Flag: "expires-at", Usage: "expiry, an RFC 3339 time at most a year ahead (default: 90 days)"},
					{JSON: "role", Usage: "role of the key, at most yours (default: yours)"}}},
			{Name: "delete", Short: "Revoke an API key at once", Method: "DELETE", Path: "/api/auth/api-keys/" + idArg},
		},
	},
	{
		Name: "assets", Short: "Assets robots use (TEXT, SECRET, CREDENTIAL): list, show, create, change, delete",
		Columns: []Column{{"ID", "id"}, {"NAME", "name"}, {"TYPE", "type"}, {"HAS VALUE", "hasValue"}, {"USERNAME", "username"}, {"UPDATED", "updatedAt"}},
		Actions: []Action{
			{Name: "list", Short: "List assets (secret values are never shown)", Method: "GET", Path: "/api/assets", List: true, Answer: "assets"},
			{Name: "get", Short: "Show an asset (secret values are never shown)", Method: "GET", Path: "/api/assets/" + idArg, Answer: "asset"},
			{Name: "create", Short: "Create an asset (ADMIN, DEVELOPER)", Method: "POST", Path: "/api/assets", Answer: "asset", Body: []Field{
				{JSON: "name", Usage: "name that node params reference as {{asset:NAME}} (required)"},
				{JSON: "type", Usage: "TEXT, SECRET or CREDENTIAL (required)"},
				{JSON: "value", Usage: "the value of a TEXT or SECRET asset (prefer --data @FILE for secrets: command lines are visible to other local users)"},
				{JSON: "username", Usage: "a CREDENTIAL's username"},
				{JSON: "password", Usage: "a CREDENTIAL's password (prefer --data @FILE)"},
				{JSON: "description", Usage: "description"}}},
			{Name: "update", Short: "Change an asset's value, credentials or description (ADMIN, DEVELOPER)", Method: "PATCH", Path: "/api/assets/" + idArg, Answer: "asset", Body: []Field{
				{JSON: "name", Usage: "new name"},
				{JSON: "value", Usage: "new value (prefer --data @FILE for secrets)"},
				{JSON: "username", Usage: "new username"},
				{JSON: "password", Usage: "new password (prefer --data @FILE)"},
				{JSON: "description", Usage: "new description"}}},
			{Name: "delete", Short: "Delete an asset (ADMIN)", Method: "DELETE", Path: "/api/assets/" + idArg},
		},
	},
	{
		Name: "subscriptions", Short: "Outbound event webhooks (ADMIN): list, show, create, change, rotate the secret, delete",
		Columns: []Column{{"ID", "id"}, {"URL", "url"}, {"EVENTS", "events"}, {"ENABLED", "enabled"}, {"CREATED", "createdAt"}},
		Actions: []Action{
			{Name: "list", Short: "List subscriptions", Method: "GET", Path: "/api/subscriptions", List: true, Answer: "subscriptions"},
			{Name: "get", Short: "Show a subscription", Method: "GET", Path: "/api/subscriptions/" + idArg, Answer: "subscription"},
			{Name: "create", Short: "Create a subscription; its signing secret is shown only once", Method: "POST", Path: "/api/subscriptions", Answer: "subscription",
				Note: "the signing secret is shown only now: give it to the receiver", Body: []Field{
					{JSON: "url", Usage: "the receiver's http or https URL (required)"},
					{JSON: "events", Type: fieldList, Usage: "event types, comma-separated, or * for all (required)"},
					{JSON: "description", Usage: "description"},
					{JSON: "enabled", Type: fieldBool, Usage: "whether events are delivered (default true)"}}},
			{Name: "update", Short: "Change a subscription", Method: "PATCH", Path: "/api/subscriptions/" + idArg, Answer: "subscription", Body: []Field{
				{JSON: "url", Usage: "new URL"},
				{JSON: "events", Type: fieldList, Usage: "new event types, comma-separated"},
				{JSON: "description", Usage: "new description"},
				{JSON: "enabled", Type: fieldBool, Usage: "whether events are delivered"}}},
			{Name: "rotate-secret", Short: "Issue a new signing secret (the old one keeps signing beside it for 24 h)", Method: "POST",
				Path: "/api/subscriptions/" + idArg + "/rotate-secret", Answer: "subscription", Note: "the new signing secret is shown only now"},
			{Name: "delete", Short: "Delete a subscription", Method: "DELETE", Path: "/api/subscriptions/" + idArg},
		},
	},
}
