package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestE2ETriggerDeleteRacesItsRequests: updates and webhook calls of a
// trigger that race with its deletion are each answered at once, with the
// outcome of their turn (200 before the delete, 404 after it), never left
// to time out and answered 500.
func TestE2ETriggerDeleteRacesItsRequests(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "delete-race")
	for round := 0; round < 4; round++ {
		id := h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK", "enabled": true,
			"config": map[string]any{"runnerLabels": []string{"a"}}}, 201).str("trigger.id")
		type answer struct {
			what   string
			status int
			body   string
			dur    time.Duration
		}
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			got []answer
		)
		send := func(what, method, path, body string, auth bool) {
			defer wg.Done()
			req, _ := http.NewRequest(method, h.base+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if auth {
				req.Header.Set("Authorization", "Bearer "+h.admin.token)
			}
			began := time.Now()
			resp, err := h.http.Do(req)
			a := answer{what: what, dur: time.Since(began)}
			if err != nil {
				a.body = err.Error()
			} else {
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				a.status, a.body = resp.StatusCode, string(data)
			}
			mu.Lock()
			got = append(got, a)
			mu.Unlock()
		}
		for i := 0; i < 32; i++ {
			wg.Add(2)
			go send("update", "PATCH", "/api/triggers/"+id, fmt.Sprintf(`{"config": {"runnerLabels": ["l%d"]}}`, i), true)
			go send("webhook", "POST", "/api/triggers/webhook/"+id, `{}`, false)
		}
		// The delete goes once the first answers are back: the trigger's
		// own actor still has updates (one write each) waiting for it.
		h.rnEventually("the first answers", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got) >= 2
		})
		wg.Add(1)
		send("delete", "DELETE", "/api/triggers/"+id, "", true)
		wg.Wait()
		for _, a := range got {
			if (a.status != 200 && a.status != 404) || a.dur > 5*time.Second {
				t.Fatalf("round %d: a %s racing the delete answered %d (%s) after %v", round, a.what, a.status, a.body, a.dur)
			}
		}
		h.expectError(h.admin, "GET", "/api/triggers/"+id, nil, 404, "NOT_FOUND")
	}
}
