package loadgen

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// target is an orchestrator that load goes to, with an admin session.
type target struct {
	client     *Client
	adminToken string
	managed    bool // loadgen started the server and owns all of its state
	pid        int  // the managed server's process id (0 when not managed)
	server     *managedServer
}

// apiError describes an unexpected answer in one line.
func apiError(what string, resp Response, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	body := strings.TrimSpace(string(resp.Body))
	if len(body) > 200 {
		body = body[:200] + "..."
	}
	return fmt.Errorf("%s: HTTP %d: %s", what, resp.Status, body)
}

// call sends a JSON request (in may be nil) and decodes a JSON answer into
// out (which may be nil) when the status is one of want.
func (t *target) call(rec *Recorder, op, method, path, token string, in any, out any, want ...int) (Response, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return Response{}, fmt.Errorf("%s: encode: %w", op, err)
		}
	}
	resp, err := t.client.Do(rec, op, Request{Method: method, Path: path, Body: body, Token: token})
	if err != nil {
		return resp, apiError(method+" "+path, resp, err)
	}
	ok := false
	for _, w := range want {
		if resp.Status == w {
			ok = true
		}
	}
	if !ok {
		return resp, apiError(method+" "+path, resp, nil)
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return resp, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return resp, nil
}

// waitHealthy polls GET /api/health until it answers 200 or the time runs out.
func (t *target) waitHealthy(limit time.Duration, alive func() error) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		if alive != nil {
			if err := alive(); err != nil {
				return err
			}
		}
		resp, err := t.client.Do(nil, "health", Request{Method: "GET", Path: "/api/health", Timeout: time.Second})
		if err == nil && resp.Status == 200 {
			return nil
		}
		last = apiError("GET /api/health", resp, err)
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("server not healthy after %s: %v", limit, last)
}

// sessionToken takes the token from the Set-Cookie header of a login or
// bootstrap answer, or from a "token" field in its body.
func sessionToken(resp Response) string {
	if tok := resp.Cookies["token"]; tok != "" {
		return tok
	}
	var body struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal(resp.Body, &body)
	return body.Token
}

// activateAndBootstrap activates the license text and creates the first
// admin, keeping the session token.
func (t *target) activateAndBootstrap(license, email, password string) error {
	if _, err := t.call(nil, "setup", "POST", "/api/license/activate", "", map[string]string{"license": license}, nil, 200); err != nil {
		return err
	}
	resp, err := t.call(nil, "setup", "POST", "/api/auth/bootstrap", "", map[string]string{
		"email": email, "password": password, "name": "Load",
	}, nil, 201, 200)
	if err != nil {
		return err
	}
	if t.adminToken = sessionToken(resp); t.adminToken == "" {
		return fmt.Errorf("POST /api/auth/bootstrap: no token cookie in the answer")
	}
	return nil
}

// login opens an admin session on a server that is already set up.
func (t *target) login(email, password string) error {
	resp, err := t.call(nil, "setup", "POST", "/api/auth/login", "", map[string]string{
		"email": email, "password": password,
	}, nil, 200)
	if err != nil {
		return err
	}
	if t.adminToken = sessionToken(resp); t.adminToken == "" {
		return fmt.Errorf("POST /api/auth/login: no token cookie in the answer")
	}
	return nil
}

// trivialGraph is a start → end workflow that any runner can execute.
const trivialGraph = `{"nodes":[{"id":"s","type":"start"},{"id":"e","type":"end"}],"edges":[{"source":"s","target":"e"}]}`

// createPublishedWorkflow creates a workflow with one published version and
// returns its id.
func (t *target) createPublishedWorkflow(name string) (string, error) {
	var wf struct {
		Workflow struct {
			ID string `json:"id"`
		} `json:"workflow"`
	}
	if _, err := t.call(nil, "setup", "POST", "/api/workflows", t.adminToken, map[string]string{
		"name": name, "description": "created by exekra loadtest",
	}, &wf, 201, 200); err != nil {
		return "", err
	}
	if wf.Workflow.ID == "" {
		return "", fmt.Errorf("POST /api/workflows: no workflow.id in the answer")
	}
	id := wf.Workflow.ID
	if _, err := t.call(nil, "setup", "POST", "/api/workflows/"+id+"/draft", t.adminToken,
		map[string]string{"graphJson": trivialGraph}, nil, 201, 200); err != nil {
		return "", err
	}
	if _, err := t.call(nil, "setup", "POST", "/api/workflows/"+id+"/publish", t.adminToken, nil, nil, 200, 201); err != nil {
		return "", err
	}
	return id, nil
}

// runnerCred is one registered and authenticated simulated runner.
type runnerCred struct {
	ID    string
	Name  string
	Token string
}

// registerRunners registers n UNATTENDED runners named prefix-<i> and
// authenticates each, from a few parallel workers; progress goes to logf.
func (t *target) registerRunners(n int, prefix string, parallel int, logf func(string, ...any)) ([]runnerCred, error) {
	creds := make([]runnerCred, n)
	var next atomic.Int64
	var done atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range max(1, min(parallel, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				c, err := t.registerRunner(prefix + "-" + strconv.Itoa(i))
				if err != nil {
					once.Do(func() { firstErr = err })
					next.Store(int64(n)) // stop the other workers
					return
				}
				creds[i] = c
				if d := done.Add(1); n >= 1000 && d%1000 == 0 {
					logf("registered %d/%d runners", d, n)
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return creds, nil
}

// registerRunner registers and authenticates one runner.
func (t *target) registerRunner(name string) (runnerCred, error) {
	var reg struct {
		ID            string `json:"id"`
		MachineKey    string `json:"machineKey"`
		MachineSecret string `json:"machineSecret"`
	}
	if _, err := t.call(nil, "setup", "POST", "/api/runners/register", t.adminToken, map[string]string{
		"name": name, "type": "UNATTENDED",
	}, &reg, 201, 200); err != nil {
		return runnerCred{}, err
	}
	var auth struct {
		Token  string `json:"token"`
		Runner struct {
			ID string `json:"id"`
		} `json:"runner"`
	}
	if _, err := t.call(nil, "setup", "POST", "/api/runners/authenticate", "", map[string]string{
		"machineKey": reg.MachineKey, "machineSecret": reg.MachineSecret,
	}, &auth, 200); err != nil {
		return runnerCred{}, err
	}
	if auth.Token == "" {
		return runnerCred{}, fmt.Errorf("POST /api/runners/authenticate: no token in the answer")
	}
	id := reg.ID
	if id == "" {
		id = auth.Runner.ID
	}
	return runnerCred{ID: id, Name: name, Token: auth.Token}, nil
}

// heartbeatBody is what simulated runners report.
var heartbeatBody = []byte(`{"metrics":{"cpu":10,"memTotalMB":1000,"memUsedMB":100,"memUsage":10}}`)

// heartbeatAnswer is the heartbeat response.
type heartbeatAnswer struct {
	Status           string    `json:"status"`
	TTLSeconds       *float64  `json:"ttlSeconds"`
	StopExecutionIDs *[]string `json:"stopExecutionIds"`
}

// heartbeat sends one heartbeat for the runner.
func (t *target) heartbeat(rec *Recorder, r runnerCred) (heartbeatAnswer, error) {
	var ans heartbeatAnswer
	resp, err := t.client.Do(rec, "heartbeat", Request{Method: "POST", Path: "/api/runners/heartbeat", Body: heartbeatBody, Token: r.Token})
	if err != nil || resp.Status != 200 {
		return ans, apiError("POST /api/runners/heartbeat", resp, err)
	}
	if err := json.Unmarshal(resp.Body, &ans); err != nil {
		return ans, fmt.Errorf("heartbeat answer: %w", err)
	}
	return ans, nil
}

// pollAnswer is the poll response.
type pollAnswer struct {
	HasWork   bool `json:"hasWork"`
	Execution *struct {
		ID         string `json:"id"`
		WorkflowID string `json:"workflowId"`
		GraphJSON  string `json:"graphJson"`
	} `json:"execution"`
}

// poll asks for work, holding up to wait on the server when wait > 0.
func (t *target) poll(rec *Recorder, r runnerCred, wait time.Duration) (pollAnswer, error) {
	var ans pollAnswer
	path := "/api/runners/poll"
	timeout := time.Duration(0)
	if wait > 0 {
		secs := max(1, int(wait/time.Second))
		path += "?wait=" + strconv.Itoa(secs)
		timeout = time.Duration(secs)*time.Second + 15*time.Second
	}
	resp, err := t.client.Do(rec, "poll", Request{Method: "POST", Path: path, Token: r.Token, Timeout: timeout})
	if err != nil || resp.Status != 200 {
		return ans, apiError("POST "+path, resp, err)
	}
	if err := json.Unmarshal(resp.Body, &ans); err != nil {
		return ans, fmt.Errorf("poll answer: %w", err)
	}
	if ans.HasWork && (ans.Execution == nil || ans.Execution.ID == "") {
		return ans, fmt.Errorf("poll answer: hasWork without execution.id")
	}
	return ans, nil
}

var (
	runningBody   = []byte(`{"status":"RUNNING"}`)
	completedBody = []byte(`{"status":"COMPLETED","logs":"loadtest: start -> end\n","metrics":{"cpuAvg":1,"cpuPeak":2,"memAvgMB":3,"memPeakMB":4}}`)
)

// runExecution reports RUNNING then COMPLETED for an execution the runner got.
func (t *target) runExecution(rec *Recorder, r runnerCred, id string) error {
	for _, body := range [][]byte{runningBody, completedBody} {
		resp, err := t.client.Do(rec, "status", Request{Method: "POST", Path: "/api/executions/" + id + "/status", Body: body, Token: r.Token})
		if err != nil || resp.Status != 200 {
			return apiError("POST /api/executions/"+id+"/status", resp, err)
		}
	}
	return nil
}

// executionStats is GET /api/executions/stats.
type executionStats map[string]int64

// stats reads the execution counters.
func (t *target) stats() (executionStats, error) {
	st := executionStats{}
	_, err := t.call(nil, "setup", "GET", "/api/executions/stats", t.adminToken, nil, &st, 200)
	return st, err
}

// listTotal reads pagination.total of a list endpoint with the query given.
func (t *target) listTotal(path string) (int64, error) {
	var page struct {
		Pagination struct {
			Total int64 `json:"total"`
		} `json:"pagination"`
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	_, err := t.call(nil, "setup", "GET", path+sep+"limit=1", t.adminToken, nil, &page, 200)
	return page.Pagination.Total, err
}

// executionRecord is the part of GET /api/executions/:id the checks look at.
type executionRecord struct {
	ID          string          `json:"id"`
	WorkflowID  string          `json:"workflowId"`
	RunnerID    *string         `json:"runnerId"`
	TriggerID   *string         `json:"triggerId"`
	Status      string          `json:"status"`
	StartedAt   *string         `json:"startedAt"`
	CompletedAt *string         `json:"completedAt"`
	Metrics     json.RawMessage `json:"metrics"`
	Input       json.RawMessage `json:"input"`
}

// execution reads one execution.
func (t *target) execution(id string) (executionRecord, error) {
	var ans struct {
		Execution executionRecord `json:"execution"`
	}
	_, err := t.call(nil, "setup", "GET", "/api/executions/"+id, t.adminToken, nil, &ans, 200)
	return ans.Execution, err
}

// createWebhookTrigger creates an enabled WEBHOOK trigger, signed with
// secret when it is not empty, and returns its id.
func (t *target) createWebhookTrigger(workflowID, secret string) (string, error) {
	var ans struct {
		Trigger struct {
			ID string `json:"id"`
		} `json:"trigger"`
	}
	config := "{}"
	if secret != "" {
		b, _ := json.Marshal(map[string]string{"secret": secret})
		config = string(b)
	}
	if _, err := t.call(nil, "setup", "POST", "/api/triggers", t.adminToken, map[string]any{
		"workflowId": workflowID, "type": "WEBHOOK", "config": config, "enabled": true,
	}, &ans, 201, 200); err != nil {
		return "", err
	}
	if ans.Trigger.ID == "" {
		return "", fmt.Errorf("POST /api/triggers: no trigger.id in the answer")
	}
	return ans.Trigger.ID, nil
}

// webhookSignature is the X-Exekra-Signature value for body under secret.
func webhookSignature(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
