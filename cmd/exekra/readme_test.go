package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
)

// quickstartScript is the README's walkthrough: the ```sh blocks between
// each pair of quickstart markers (the Quickstart itself, then its
// continuation in "Credentials for robots" and "Labels"), in order.
func quickstartScript(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	var script strings.Builder
	regions, blocks := 0, 0
	for {
		begin := strings.Index(text, "<!-- quickstart:begin -->")
		if begin < 0 {
			break
		}
		end := strings.Index(text[begin:], "<!-- quickstart:end -->")
		if end < 0 {
			t.Fatal("README.md: a quickstart:begin marker without its end")
		}
		regions++
		for _, b := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(text[begin:begin+end], -1) {
			script.WriteString(b[1])
			blocks++
		}
		text = text[begin+end:]
	}
	if regions < 3 || blocks < 6 {
		t.Fatalf("the walkthrough has %d marked regions and %d shell blocks", regions, blocks)
	}
	return script.String()
}

// TestREADMEQuickstart runs the README's walkthrough as written, with bash,
// against the built binary on a free 127.0.0.1 port: it must reach a
// completed execution and a signed webhook, run a workflow with a
// credential whose password reaches no output and no log, hold a labelled
// workflow's execution until a runner with the label starts, and stop its
// processes.
func TestREADMEQuickstart(t *testing.T) {
	if testing.Short() {
		skipUnlessCI(t, "builds the binary and runs the README: not with -short")
	}
	for _, tool := range []string{"bash", "curl", "openssl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipUnlessCI(t, "the Quickstart needs "+tool)
		}
	}
	script := quickstartScript(t)
	work := t.TempDir()
	if err := os.MkdirAll(filepath.Join(work, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(testBinary(t), filepath.Join(work, "bin", "exekra")); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	qs := filepath.Join(work, "quickstart")
	// Whatever happens, the processes the script started stop with the test.
	t.Cleanup(func() {
		for _, f := range []string{"fin.pid", "runner.pid", "serve.pid"} {
			if b, err := os.ReadFile(filepath.Join(qs, f)); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
					if p, err := os.FindProcess(pid); err == nil {
						_ = p.Kill()
					}
				}
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port), "QS=quickstart", "HOME="+work)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	logs := func() string {
		var b strings.Builder
		for _, f := range []string{"serve.log", "runner.log", "fin.log"} {
			data, _ := os.ReadFile(filepath.Join(qs, f))
			fmt.Fprintf(&b, "--- %s\n%s", f, data)
		}
		return b.String()
	}
	if err != nil {
		t.Fatalf("the Quickstart failed: %v\n%s\n%s", err, out, logs())
	}
	for _, want := range []string{`"state":"UNACTIVATED"`, "logged in to", "version 1 saved and published", "hello", "COMPLETED", `"success":true`,
		`"erp-robot"`, "logging in as robot-7 with ***", "All matching runners with labels [finance] are offline (1 offline).", "payroll done"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the walkthrough's output lacks %q:\n%s", want, out)
		}
	}
	// Both Payroll executions ran, on fin-01 (not on runner-01, idle all along).
	fin, err := os.ReadFile(filepath.Join(qs, "fin.json"))
	if err != nil {
		t.Fatal(err)
	}
	finID := regexp.MustCompile(`"id": "([^"]+)"`).FindSubmatch(fin)
	if finID == nil {
		t.Fatalf("fin.json: %s", fin)
	}
	if n := len(regexp.MustCompile(`(?m)^\S+\s+Payroll\s+COMPLETED\s+\S+\s+`+regexp.QuoteMeta(string(finID[1]))).FindAll(out, -1)); n != 2 {
		t.Errorf("executions list --workflow Payroll shows %d COMPLETED by fin-01, want 2:\n%s", n, out)
	}
	// The last block stopped the server: it logs a clean stop.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs(), "stopped cleanly") {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not stop cleanly:\n%s", logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The asset's password went to the runner only: no output, no log.
	if strings.Contains(string(out), "Tr0ub4dor-3x") || strings.Contains(logs(), "Tr0ub4dor-3x") {
		t.Errorf("the asset's password reached the output or a log:\n%s\n%s", out, logs())
	}
}

// readmeSection is the text of the README's "## title" section, up to the
// next "## " heading.
func readmeSection(t *testing.T, title string) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	i := strings.Index(text, "\n## "+title+"\n")
	if i < 0 {
		t.Fatalf("README.md has no %q section", title)
	}
	text = text[i+len("\n## "+title+"\n"):]
	if j := strings.Index(text, "\n## "); j >= 0 {
		text = text[:j]
	}
	return text
}

// TestREADMEDependencies checks that the README's dependency table names
// every direct requirement of go.mod, each in a row with its reason, and
// that the table is one table (a blank line inside splits it in two).
func TestREADMEDependencies(t *testing.T) {
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var direct []string
	inRequire := false
	for _, line := range strings.Split(string(gomod), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "require (":
			inRequire = true
			continue
		case line == ")":
			inRequire = false
			continue
		case strings.HasPrefix(line, "require "):
			line = strings.TrimPrefix(line, "require ")
		case !inRequire:
			continue
		}
		if f := strings.Fields(line); len(f) >= 2 && !strings.Contains(line, "// indirect") {
			direct = append(direct, f[0])
		}
	}
	if len(direct) == 0 {
		t.Fatal("go.mod lists no direct requirement")
	}
	// The table: the first run of lines starting with "|".
	var rows []string
	for _, line := range strings.Split(readmeSection(t, "Dependencies and why"), "\n") {
		if strings.HasPrefix(line, "|") {
			rows = append(rows, line)
		} else if len(rows) > 0 {
			break
		}
	}
	if len(rows) < 3 {
		t.Fatalf("the dependency table has %d lines", len(rows))
	}
	for _, mod := range direct {
		found := false
		for _, row := range rows[2:] {
			cells := strings.Split(strings.Trim(row, "|"), "|")
			if strings.Contains(cells[0], "`"+mod+"`") {
				found = true
				if len(cells) < 2 || strings.TrimSpace(cells[1]) == "" {
					t.Errorf("README: %s has no reason: %s", mod, row)
				}
			}
		}
		if !found {
			t.Errorf("README's dependency table does not name %s (a direct requirement in go.mod)", mod)
		}
	}
}

// headingSlug is the anchor a Markdown heading gets: lower case, letters,
// digits, spaces, hyphens and underscores kept, spaces made hyphens.
func headingSlug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// headings are the heading texts of a Markdown file.
func headings(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var hs []string
	for _, line := range strings.Split(string(data), "\n") {
		if m := regexp.MustCompile(`^#{1,6} (.+)$`).FindStringSubmatch(line); m != nil {
			hs = append(hs, strings.TrimSpace(m[1]))
		}
	}
	return hs
}

// TestREADMEReferences checks what the README points a reader to: every
// relative link's file exists and its #anchor is a heading there, every
// docs/ path it names exists, every `docs/x.md, "Section"` names a heading
// of that file, and it cites only the repository's own documents.
func TestREADMEReferences(t *testing.T) {
	const root = "../../"
	readme, err := os.ReadFile(root + "README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	// Fenced blocks are commands, not references.
	prose := regexp.MustCompile("(?s)```.*?```").ReplaceAllString(text, "")
	for _, m := range regexp.MustCompile(`\]\(([^)#\s]*)(#[^)\s]*)?\)`).FindAllStringSubmatch(prose, -1) {
		file, anchor := m[1], strings.TrimPrefix(m[2], "#")
		if strings.Contains(file, "://") {
			continue
		}
		if file == "" {
			file = "README.md"
		}
		if _, err := os.Stat(root + file); err != nil {
			t.Errorf("README links to %s, which does not exist", m[0])
			continue
		}
		if anchor == "" {
			continue
		}
		found := false
		for _, h := range headings(t, root+file) {
			found = found || headingSlug(h) == anchor
		}
		if !found {
			t.Errorf("README links to %s: %s has no such heading", m[0], file)
		}
	}
	for _, p := range regexp.MustCompile(`docs/[\w/.-]*\w`).FindAllString(prose, -1) {
		if _, err := os.Stat(root + p); err != nil {
			t.Errorf("README names %s, which does not exist", p)
		}
	}
	for _, m := range regexp.MustCompile(`(docs/[\w/.-]+\.md), "([^"]+)"`).FindAllStringSubmatch(prose, -1) {
		found := false
		for _, h := range headings(t, root+m[1]) {
			found = found || strings.EqualFold(h, m[2])
		}
		if !found {
			t.Errorf("README refers to %s, %q: no such heading there", m[1], m[2])
		}
	}
	for _, outside := range []string{"SPEC", "STYLE"} {
		if regexp.MustCompile(`\b` + outside + `\b`).MatchString(text) {
			t.Errorf("README cites %s, a document outside the repository", outside)
		}
	}
}
