package refrunner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Graph is a workflow graph as stored in a version's graphJson.
type Graph struct {
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`
}

// Node is one step of a workflow graph.
type Node struct {
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Name   string          `json:"name,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
}

// Edge orders two nodes: Source runs before Target.
type Edge struct {
	Source string `json:"source"`
	Target string `json:"target"`
}

// ParseGraph decodes graphJson, which is either a JSON string holding the
// graph document (as the API sends it) or the graph object itself.
func ParseGraph(raw []byte) (Graph, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return Graph{}, fmt.Errorf("graphJson: %w", err)
		}
		raw = []byte(text)
	}
	var g Graph
	if err := json.Unmarshal(raw, &g); err != nil {
		return Graph{}, fmt.Errorf("graphJson is not a graph object: %w", err)
	}
	return g, nil
}

// Order returns the nodes in execution order: a topological order of the
// edges that starts from the nodes without incoming edges and, whenever
// several nodes are ready, takes the one listed first in the graph.
func (g Graph) Order() ([]Node, error) {
	index := make(map[string]int, len(g.Nodes))
	for i, n := range g.Nodes {
		if n.ID == "" {
			return nil, fmt.Errorf("node #%d has no id", i+1)
		}
		if _, dup := index[n.ID]; dup {
			return nil, fmt.Errorf("node id %q appears twice", n.ID)
		}
		index[n.ID] = i
	}
	incoming := make([]int, len(g.Nodes))
	next := make([][]int, len(g.Nodes))
	for _, e := range g.Edges {
		s, ok := index[e.Source]
		if !ok {
			return nil, fmt.Errorf("edge source %q names no node", e.Source)
		}
		t, ok := index[e.Target]
		if !ok {
			return nil, fmt.Errorf("edge target %q names no node", e.Target)
		}
		next[s] = append(next[s], t)
		incoming[t]++
	}
	done := make([]bool, len(g.Nodes))
	order := make([]Node, 0, len(g.Nodes))
	for len(order) < len(g.Nodes) {
		pick := -1
		for i := range g.Nodes { // lowest index among the ready nodes; graphs are small
			if !done[i] && incoming[i] == 0 {
				pick = i
				break
			}
		}
		if pick < 0 {
			return nil, errors.New("the graph has a cycle")
		}
		done[pick] = true
		order = append(order, g.Nodes[pick])
		for _, t := range next[pick] {
			incoming[t]--
		}
	}
	return order, nil
}

// label names a node in logs and errors: its name when it has one, and its id and type.
func (n Node) label() string {
	if n.Name != "" && n.Name != n.ID {
		return fmt.Sprintf("%q (%s %s)", n.Name, n.Type, n.ID)
	}
	return fmt.Sprintf("%s %s", n.Type, n.ID)
}

// flexInt is an integer parameter that also accepts a numeric JSON string.
type flexInt struct {
	set   bool
	value int64
}

// UnmarshalJSON accepts 500, 500.0 and "500".
func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v != float64(int64(v)) {
		return fmt.Errorf("want a whole number, got %s", string(b))
	}
	f.set, f.value = true, int64(v)
	return nil
}
