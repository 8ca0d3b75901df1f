package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// print writes an answer: with -o json the API's JSON as it came
// (indented); as a table otherwise.
func (c *cli) print(raw json.RawMessage, r Resource, a Action) error {
	if c.g.output == "json" {
		return printJSON(c.env.Stdout, raw)
	}
	var top map[string]any
	if err := json.Unmarshal(raw, &top); err != nil {
		return printJSON(c.env.Stdout, raw)
	}
	if a.Answer == "" {
		printObject(c.env.Stdout, top, r.Columns)
	} else if list, ok := top[a.Answer].([]any); ok {
		printTable(c.env.Stdout, list, r.Columns)
		if p, ok := top["pagination"].(map[string]any); ok {
			if pages, _ := p["totalPages"].(float64); pages > 1 {
				fmt.Fprintf(c.env.Stderr, "page %v of %v (%v in all): --page N for more\n", p["page"], pages, p["total"])
			}
		}
	} else if obj, ok := top[a.Answer].(map[string]any); ok {
		printObject(c.env.Stdout, obj, r.Columns)
	} else {
		return printJSON(c.env.Stdout, raw)
	}
	for _, k := range a.Also {
		if v, ok := top[k]; ok {
			fmt.Fprintf(c.env.Stdout, "%s: %s\n", k, cell(v))
		}
	}
	if a.Note != "" {
		fmt.Fprintln(c.env.Stderr, a.Note)
	}
	return nil
}

// printJSON writes raw indented, ending with a newline.
func printJSON(w io.Writer, raw json.RawMessage) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		_, err = w.Write(append(raw, '\n'))
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// printTable writes one row per object, the columns' values aligned.
func printTable(w io.Writer, list []any, cols []Column) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var head []string
	for _, c := range cols {
		head = append(head, c.Header)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, item := range list {
		obj, _ := item.(map[string]any)
		var row []string
		for _, c := range cols {
			v := cell(lookup(obj, c.Path))
			if len(v) > 60 {
				v = v[:57] + "..."
			}
			row = append(row, v)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
}

// printObject writes one object as "field: value" lines, the table's
// columns first; a text of several lines (an execution's log) comes last,
// whole.
func printObject(w io.Writer, obj map[string]any, cols []Column) {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	shown := map[string]bool{}
	var blocks []string
	for _, c := range cols {
		if v := lookup(obj, c.Path); v != nil {
			fmt.Fprintf(tw, "%s:\t%s\n", c.Path, cell(v))
		}
		shown[strings.SplitN(c.Path, ".", 2)[0]] = c.Path == strings.SplitN(c.Path, ".", 2)[0]
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if shown[k] {
			continue
		}
		if s, ok := obj[k].(string); ok && strings.Contains(s, "\n") {
			blocks = append(blocks, k)
			continue
		}
		fmt.Fprintf(tw, "%s:\t%s\n", k, cell(obj[k]))
	}
	tw.Flush()
	for _, k := range blocks {
		fmt.Fprintf(w, "%s:\n%s", k, obj[k])
		if s := obj[k].(string); !strings.HasSuffix(s, "\n") {
			fmt.Fprintln(w)
		}
	}
}

// lookup follows a dotted path through nested objects.
func lookup(obj map[string]any, path string) any {
	var v any = obj
	for _, part := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	return v
}

// cell is a value as table text: strings bare, null empty, the rest JSON.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return strings.ReplaceAll(x, "\n", " ")
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return fmt.Sprint(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
