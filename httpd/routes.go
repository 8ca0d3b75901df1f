package httpd

import (
	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// Access is who may call a route.
type Access int

// The access rules of the OpenAPI document's x-roles.
const (
	// Public needs nothing.
	Public Access = iota
	// AnyUser is any logged-in user, whatever the role.
	AnyUser
	// Roles is a logged-in user with one of the route's Roles.
	Roles
	// Runner needs a runner token.
	Runner
	// RunnerOrCredentials takes a runner token or machine credentials in the body.
	RunnerOrCredentials
)

// Route is one row of the route table.
type Route struct {
	Method string
	Path   string
	Access Access
	Roles  []messages.Role
	// Limited routes count against the caller's per-minute rate limit.
	Limited bool
	// BeforeReady routes answer before the system is bootstrapped (the
	// others answer 503 SYSTEM_NOT_READY then).
	BeforeReady bool
	// Handle serves the request; a returned error is written by the error writer.
	Handle func(s *Server, ctx *fasthttp.RequestCtx, r *request) error
}

var (
	adminOnly = []messages.Role{messages.RoleAdmin}
	adminDev  = []messages.Role{messages.RoleAdmin, messages.RoleDeveloper}
	allRoles  = []messages.Role{messages.RoleAdmin, messages.RoleDeveloper, messages.RoleOperator}
)

// routeTable is the one route table. Adding an endpoint adds a row here
// (and to the OpenAPI document: a test checks both agree).
func (s *Server) routeTable() []Route {
	user := func(method, path string, h func(*Server, *fasthttp.RequestCtx, *request) error) Route {
		return Route{Method: method, Path: path, Access: AnyUser, Limited: true, Handle: h}
	}
	role := func(method, path string, roles []messages.Role, h func(*Server, *fasthttp.RequestCtx, *request) error) Route {
		return Route{Method: method, Path: path, Access: Roles, Roles: roles, Limited: true, Handle: h}
	}
	return []Route{
		// system
		{Method: "GET", Path: "/api/health", Access: Public, BeforeReady: true, Handle: (*Server).health},
		{Method: "GET", Path: "/api/status", Access: Public, BeforeReady: true, Handle: (*Server).status},
		// license
		{Method: "POST", Path: "/api/license/activate", Access: Public, Limited: true, BeforeReady: true, Handle: (*Server).activateLicense},
		user("GET", "/api/license/status", (*Server).licenseStatus),
		role("POST", "/api/license/validate", adminOnly, (*Server).validateLicense),
		role("PUT", "/api/license", adminOnly, (*Server).replaceLicense),
		// auth and users
		{Method: "POST", Path: "/api/auth/login", Access: Public, Limited: true, Handle: (*Server).login},
		{Method: "POST", Path: "/api/auth/bootstrap", Access: Public, Limited: true, BeforeReady: true, Handle: (*Server).bootstrap},
		role("POST", "/api/auth/register", adminOnly, (*Server).register),
		user("POST", "/api/auth/logout", (*Server).logout),
		user("GET", "/api/auth/me", (*Server).me),
		user("POST", "/api/auth/password", (*Server).changePassword),
		role("GET", "/api/users", adminOnly, (*Server).listUsers),
		role("PATCH", "/api/users/{id}", adminOnly, (*Server).updateUser),
		role("GET", "/api/audit", adminOnly, (*Server).listAudit),
		user("POST", "/api/auth/api-keys", (*Server).createAPIKey),
		user("GET", "/api/auth/api-keys", (*Server).listAPIKeys),
		user("DELETE", "/api/auth/api-keys/{id}", (*Server).revokeAPIKey),
		// workflows and versions
		role("POST", "/api/workflows", adminDev, (*Server).createWorkflow),
		user("GET", "/api/workflows", (*Server).listWorkflows),
		user("GET", "/api/workflows/{id}", (*Server).getWorkflow),
		role("PUT", "/api/workflows/{id}", adminDev, (*Server).updateWorkflow),
		role("PATCH", "/api/workflows/{id}", adminDev, (*Server).updateWorkflow),
		role("DELETE", "/api/workflows/{id}", adminOnly, (*Server).deleteWorkflow),
		role("POST", "/api/workflows/{id}/draft", adminDev, (*Server).saveDraft),
		role("POST", "/api/workflows/{id}/publish", adminDev, (*Server).publishWorkflow),
		user("GET", "/api/workflows/{id}/versions", (*Server).listVersions),
		user("GET", "/api/workflows/{id}/versions/latest", (*Server).latestVersion),
		// executions
		role("POST", "/api/executions", allRoles, (*Server).createExecution),
		user("GET", "/api/executions", (*Server).listExecutions),
		user("GET", "/api/executions/stats", (*Server).executionStats),
		user("GET", "/api/executions/{id}", (*Server).getExecution),
		role("POST", "/api/executions/{id}/stop", allRoles, (*Server).stopExecution),
		{Method: "POST", Path: "/api/executions/{id}/status", Access: Runner, Limited: false, Handle: (*Server).reportStatus},
		// triggers
		role("POST", "/api/triggers", adminDev, (*Server).createTrigger),
		user("GET", "/api/triggers", (*Server).listTriggers),
		user("GET", "/api/triggers/{id}", (*Server).getTrigger),
		role("PUT", "/api/triggers/{id}", adminDev, (*Server).updateTrigger),
		role("PATCH", "/api/triggers/{id}", adminDev, (*Server).updateTrigger),
		role("DELETE", "/api/triggers/{id}", adminOnly, (*Server).deleteTrigger),
		{Method: "POST", Path: "/api/triggers/webhook/{id}", Access: Public, Limited: false, Handle: (*Server).fireWebhook},
		// assets (handlers_assets.go)
		role("POST", "/api/assets", adminDev, (*Server).createAsset),
		user("GET", "/api/assets", (*Server).listAssets),
		user("GET", "/api/assets/{id}", (*Server).getAsset),
		role("PUT", "/api/assets/{id}", adminDev, (*Server).updateAsset),
		role("PATCH", "/api/assets/{id}", adminDev, (*Server).updateAsset),
		role("DELETE", "/api/assets/{id}", adminOnly, (*Server).deleteAsset),
		// runners (the runner endpoints are exempt from the rate limit)
		role("POST", "/api/runners/register", adminOnly, (*Server).registerRunner),
		{Method: "POST", Path: "/api/runners/authenticate", Access: Public, Handle: (*Server).authenticateRunner},
		{Method: "POST", Path: "/api/runners/heartbeat", Access: RunnerOrCredentials, Handle: (*Server).runnerHeartbeat},
		{Method: "GET", Path: "/api/runners/poll", Access: RunnerOrCredentials, Handle: (*Server).runnerPoll},
		{Method: "POST", Path: "/api/runners/poll", Access: RunnerOrCredentials, Handle: (*Server).runnerPoll},
		{Method: "POST", Path: "/api/runners/executions", Access: Runner, Handle: (*Server).runnerStartExecution},
		{Method: "GET", Path: "/api/runners/processes", Access: Runner, Handle: (*Server).runnerProcesses},
		user("GET", "/api/runners", (*Server).listRunners),
		user("GET", "/api/runners/{id}", (*Server).getRunner),
		role("POST", "/api/runners/{id}/regenerate-secret", adminOnly, (*Server).regenerateRunnerSecret),
		role("DELETE", "/api/runners/{id}", adminOnly, (*Server).deleteRunner),
		role("PATCH", "/api/runners/{id}", adminOnly, (*Server).patchRunner),
		// analytics
		user("GET", "/api/analytics/process-performance", (*Server).processPerformance),
		// live events (handlers_events.go)
		user("GET", "/api/events", (*Server).events),
		// outbound event subscriptions (handlers_subscriptions.go)
		role("POST", "/api/subscriptions", adminOnly, (*Server).createSubscription),
		role("GET", "/api/subscriptions", adminOnly, (*Server).listSubscriptions),
		role("GET", "/api/subscriptions/{id}", adminOnly, (*Server).getSubscription),
		role("PATCH", "/api/subscriptions/{id}", adminOnly, (*Server).updateSubscription),
		role("DELETE", "/api/subscriptions/{id}", adminOnly, (*Server).deleteSubscription),
		role("POST", "/api/subscriptions/{id}/rotate-secret", adminOnly, (*Server).rotateSubscriptionSecret),
		role("POST", "/api/subscriptions/{id}/test", adminOnly, (*Server).testSubscription),
		role("GET", "/api/subscriptions/{id}/deliveries", adminOnly, (*Server).listDeliveries),
		role("POST", "/api/subscriptions/{id}/deliveries/{deliveryId}/retry", adminOnly, (*Server).retryDelivery),
		// operations
		{Method: "GET", Path: "/api/openapi.json", Access: Public, Limited: true, BeforeReady: true, Handle: (*Server).openAPI},
		{Method: "GET", Path: "/metrics", Access: Public, BeforeReady: true, Handle: (*Server).metrics},
		role("GET", "/api/system/backup", adminOnly, (*Server).backup),
	}
}
