package refrunner

import (
	"encoding/json"
	"testing"

	"github.com/exekra/orchestrator/messages"
)

// FuzzGraphAcceptedByServer checks the reference runner against the server's
// graph validator: every graphJson the server accepts, the runner parses
// (as the JSON string the API sends, too) and orders without panicking, and
// an acyclic one is ordered completely with every edge respected.
func FuzzGraphAcceptedByServer(f *testing.F) {
	for _, s := range []string{
		`{"nodes":[],"edges":[]}`,
		`{"nodes":[{"id":"s","type":"start"},{"id":"l","type":"log","params":{"message":"hi"}},{"id":"e","type":"end"}],"edges":[{"source":"s","target":"l"},{"source":"l","target":"e"}]}`,
		`{"nodes":[{"id":"a","type":"x"},{"id":"b","type":"x"}],"edges":[{"source":"a","target":"b"},{"source":"b","target":"a"}]}`,
		`{"nodes":[{"id":"a","type":"x"}],"edges":[{"source":"a","target":"a"}]}`,
		`{"nodes":[{"ID":"a","Type":"x"},{"id":"b","type":"delay","params":{"ms":"5"}}],"edges":[{"Source":"a","TARGET":"b"}]}`,
		`{"nodes":[{"id":"a","type":"x","id":"b"}],"edges":[{"source":"b","target":"b"}]}`,
		`{"nodes":[{"id":"a","type":"x"},{"id":"b","type":"x"}],"edges":[{"source":"a","target":"b"},{"source":"a","target":"b"}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if messages.ValidateGraph(text) != nil {
			return
		}
		quoted, _ := json.Marshal(text)
		for _, raw := range [][]byte{[]byte(text), quoted} {
			g, err := ParseGraph(raw)
			if err != nil {
				t.Fatalf("the server accepts %q but the runner cannot parse it: %v", raw, err)
			}
			order, err := g.Order()
			if err != nil {
				continue // a cycle: the runner fails the execution, which is allowed
			}
			if len(order) != len(g.Nodes) {
				t.Fatalf("order of %q has %d of %d nodes", text, len(order), len(g.Nodes))
			}
			pos := map[string]int{}
			for i, n := range order {
				pos[n.ID] = i
			}
			for _, e := range g.Edges {
				if pos[e.Source] >= pos[e.Target] {
					t.Fatalf("order of %q runs %s before its source %s", text, e.Target, e.Source)
				}
			}
		}
	})
}
