package messages

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestValidateGraph(t *testing.T) {
	tests := []struct {
		name  string
		graph string
		want  string // substring of the error, "" for valid
	}{
		{"minimal", `{"nodes":[],"edges":[]}`, ""},
		{"chain", `{"nodes":[{"id":"a","type":"start"},{"id":"b","type":"log","name":"Log","params":{"message":"hi"}},{"id":"c","type":"custom-x"}],"edges":[{"source":"a","target":"b"},{"source":"b","target":"c"}]}`, ""},
		{"null params", `{"nodes":[{"id":"a","type":"start","params":null}],"edges":[]}`, ""},
		{"empty", ``, "must not be empty"},
		{"not json", `{nodes`, "JSON text of an object"},
		{"array", `[1,2]`, "JSON text of an object"},
		{"null", `null`, "JSON text of an object"},
		{"no nodes", `{"edges":[]}`, "nodes is required"},
		{"nodes not array", `{"nodes":{},"edges":[]}`, "nodes must be an array"},
		{"no edges", `{"nodes":[]}`, "edges is required"},
		{"edges null", `{"nodes":[],"edges":null}`, "edges must be an array"},
		{"node not object", `{"nodes":[1],"edges":[]}`, "nodes[0] must be an object"},
		{"node id missing", `{"nodes":[{"type":"start"}],"edges":[]}`, "nodes[0].id"},
		{"node id empty", `{"nodes":[{"id":"","type":"start"}],"edges":[]}`, "nodes[0].id"},
		{"node id number", `{"nodes":[{"id":1,"type":"start"}],"edges":[]}`, "nodes[0] must be an object"},
		{"duplicate id", `{"nodes":[{"id":"a","type":"start"},{"id":"a","type":"end"}],"edges":[]}`, "more than once"},
		{"type missing", `{"nodes":[{"id":"a"}],"edges":[]}`, ".type"},
		{"type empty", `{"nodes":[{"id":"a","type":" "}],"edges":[]}`, ".type"},
		{"params array", `{"nodes":[{"id":"a","type":"x","params":[1]}],"edges":[]}`, ".params must be an object"},
		{"edge not object", `{"nodes":[{"id":"a","type":"x"}],"edges":["a"]}`, "edges[0] must be an object"},
		{"edge no source", `{"nodes":[{"id":"a","type":"x"}],"edges":[{"target":"a"}]}`, "edges[0].source is required"},
		{"edge no target", `{"nodes":[{"id":"a","type":"x"}],"edges":[{"source":"a"}]}`, "edges[0].target is required"},
		{"edge unknown source", `{"nodes":[{"id":"a","type":"x"}],"edges":[{"source":"z","target":"a"}]}`, `source "z" names no node`},
		{"edge unknown target", `{"nodes":[{"id":"a","type":"x"}],"edges":[{"source":"a","target":"z"}]}`, `target "z" names no node`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateGraph(tt.graph)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want error containing %q, got nil", tt.want)
			}
			if ErrorCode(err) != CodeValidation || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want VALIDATION_ERROR containing %q", err, tt.want)
			}
		})
	}
}

// publishedVersionId is null until a version is published, and both forms
// read back into the record.
func TestWorkflowPublishedVersionIDJSON(t *testing.T) {
	w := Workflow{ID: "w1", Name: "n"}
	b, err := json.Marshal(w)
	if err != nil || !strings.Contains(string(b), `"publishedVersionId":null`) || strings.Count(string(b), "publishedVersionId") != 1 {
		t.Fatalf("unpublished: %s %v", b, err)
	}
	var back Workflow
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, w) {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	w.PublishedVersionID = "v1"
	b, _ = json.Marshal(&w)
	if !strings.Contains(string(b), `"publishedVersionId":"v1"`) || strings.Count(string(b), "publishedVersionId") != 1 {
		t.Fatalf("published: %s", b)
	}
	if err := json.Unmarshal([]byte(`{"id":"w1","publishedVersionId":""}`), &back); err != nil || back.PublishedVersionID != "" {
		t.Fatalf("older stored form: %+v %v", back, err)
	}
}
