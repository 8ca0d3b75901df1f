package messages

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzValidateGraph feeds arbitrary text to the graph validator: it never
// panics, refuses only with a VALIDATION_ERROR, and whatever it accepts
// really has the shape docs/graph.md asks for (checked here independently).
func FuzzValidateGraph(f *testing.F) {
	for _, s := range []string{
		``, ` `, `null`, `{}`, `[]`, `"x"`, `{"nodes":[],"edges":[]}`,
		`{"nodes":[{"id":"a","type":"start"},{"id":"b","type":"end","name":"B","params":{"x":1}}],"edges":[{"source":"a","target":"b"}]}`,
		`{"nodes":[{"id":"a","type":"start"},{"id":"a","type":"end"}],"edges":[]}`,
		`{"nodes":[{"id":"a","type":""}],"edges":[]}`,
		`{"nodes":[{"id":" ","type":"x"}],"edges":[]}`,
		`{"nodes":[{"id":1,"type":"x"}],"edges":[]}`,
		`{"nodes":[{"id":"a","type":"x","params":[1]}],"edges":[]}`,
		`{"nodes":[{"id":"a","type":"x","params":null}],"edges":[]}`,
		`{"nodes":[{"id":"a","type":"x"}],"edges":[{"source":"a","target":"z"}]}`,
		`{"nodes":[{"id":"a","type":"x"}],"edges":[{"source":"a"}]}`,
		`{"nodes":[{"id":"a","type":"x"}],"edges":[null]}`,
		`{"nodes":[null],"edges":[]}`, `{"nodes":null,"edges":[]}`, `{"nodes":[],"edges":null}`,
		`{"nodes":{},"edges":[]}`, `{"nodes":[]}`, `{"edges":[]}`,
		`{"nodes":[{"id":"a","type":"x"}],"edges":[{"source":"a","target":"a"}]}`,
		`{"nodes":[],"edges":[]} trailing`, "{\"nodes\":[{\"id\":\"\xff\",\"type\":\"x\"}],\"edges\":[]}",
		`{"nodes":[{"id":"a","type":"x"}],"edges":[],"nodes":[]}`,
		`{"nodes":[{"ID":"a","Type":"x"}],"edges":[{"SOURCE":"a","target":"a"}]}`,
		`{"nodes":[` + strings.Repeat(`[`, 3000) + `],"edges":[]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		err := ValidateGraph(text)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeValidation || e.Message == "" {
				t.Fatalf("ValidateGraph(%q) = %#v, want a VALIDATION_ERROR", text, err)
			}
			return
		}
		// Decoded the way a Go runner decodes it (field names match
		// case-insensitively, as encoding/json does).
		var g struct {
			Nodes []struct {
				ID   *string `json:"id"`
				Type *string `json:"type"`
			} `json:"nodes"`
			Edges []struct {
				Source *string `json:"source"`
				Target *string `json:"target"`
			} `json:"edges"`
		}
		if jerr := json.Unmarshal([]byte(text), &g); jerr != nil {
			t.Fatalf("accepted %q, which does not decode as a graph: %v", text, jerr)
		}
		if g.Nodes == nil || g.Edges == nil {
			t.Fatalf("accepted %q without nodes and edges arrays", text)
		}
		ids := map[string]bool{}
		for i, n := range g.Nodes {
			if n.ID == nil || strings.TrimSpace(*n.ID) == "" {
				t.Fatalf("accepted %q: nodes[%d] has no string id", text, i)
			}
			if n.Type == nil || strings.TrimSpace(*n.Type) == "" {
				t.Fatalf("accepted %q: nodes[%d] has no string type", text, i)
			}
			id := *n.ID
			if ids[id] {
				t.Fatalf("accepted %q: duplicate node id %q", text, id)
			}
			ids[id] = true
		}
		for i, e := range g.Edges {
			if e.Source == nil || e.Target == nil {
				t.Fatalf("accepted %q: edges[%d] lacks a string source or target", text, i)
			}
			if !ids[*e.Source] || !ids[*e.Target] {
				t.Fatalf("accepted %q: edges[%d] names a missing node", text, i)
			}
		}
	})
}
