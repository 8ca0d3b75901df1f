package httpd

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func TestBuildConsoleHashesInDependencyOrder(t *testing.T) {
	files := fstest.MapFS{
		"index.html": {Data: []byte(`<link rel="stylesheet" href="/assets/app.css">` + "\n<!-- modulepreload -->\n" + `<script type="module" src="/assets/app.js"></script>`)},
		"app.css":    {Data: []byte("body{}")},
		"app.js":     {Data: []byte(`import { a } from "./a.js";` + "\n" + `import * as b from "./b.js";`)},
		"a.js":       {Data: []byte(`import { c } from "./c.js"; export const a = 1;`)},
		"b.js":       {Data: []byte(`export const b = 2;`)},
		"c.js":       {Data: []byte(`export const c = 3;`)},
	}
	site, err := buildConsole(files)
	if err != nil {
		t.Fatal(err)
	}
	hashed := regexp.MustCompile(`^[a-z]+\.[0-9a-f]{10}\.(js|css)$`)
	for f, h := range site.names {
		if !hashed.MatchString(h) {
			t.Errorf("%s → %s", f, h)
		}
	}
	app := string(site.assets["/assets/"+site.names["app.js"]].body)
	if !strings.Contains(app, `"./`+site.names["a.js"]+`"`) || !strings.Contains(app, `"./`+site.names["b.js"]+`"`) {
		t.Errorf("imports not rewritten: %s", app)
	}
	index := string(site.index.body)
	for _, f := range []string{"app.css", "app.js"} {
		if !strings.Contains(index, `"/assets/`+site.names[f]+`"`) {
			t.Errorf("index.html does not name %s: %s", f, index)
		}
	}
	for _, f := range []string{"a.js", "b.js", "c.js"} {
		if !strings.Contains(index, `<link rel="modulepreload" href="/assets/`+site.names[f]+`">`) {
			t.Errorf("%s is not preloaded", f)
		}
	}

	// A change deep down renames every module that imports it, and only those.
	files["c.js"] = &fstest.MapFile{Data: []byte(`export const c = 4;`)}
	site2, err := buildConsole(files)
	if err != nil {
		t.Fatal(err)
	}
	for f, changed := range map[string]bool{"c.js": true, "a.js": true, "app.js": true, "b.js": false, "app.css": false} {
		if (site.names[f] != site2.names[f]) != changed {
			t.Errorf("%s: %s → %s (changed should be %v)", f, site.names[f], site2.names[f], changed)
		}
	}

	files["c.js"] = &fstest.MapFile{Data: []byte(`import { a } from "./a.js";`)}
	if _, err := buildConsole(files); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
	files["c.js"] = &fstest.MapFile{Data: []byte(`import { z } from "./z.js";`)}
	if _, err := buildConsole(files); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing import: %v", err)
	}
}

func TestConsoleServedOutsideTheAPI(t *testing.T) {
	s := newMetricsServer(t) // an unactivated server: the console still serves
	for _, p := range []string{"/", "/executions", "/executions/abc?status=QUEUED", "/login", "/runners/x/y"} {
		r := serveOnce(t, s, "GET", p)
		if r.StatusCode() != 200 || !strings.HasPrefix(string(r.Header.ContentType()), "text/html") {
			t.Fatalf("GET %s: %d %s", p, r.StatusCode(), r.Header.ContentType())
		}
		for h, want := range map[string]string{
			"Cache-Control":          "no-cache",
			"Referrer-Policy":        "same-origin",
			"X-Content-Type-Options": "nosniff",
			"X-Frame-Options":        "DENY",
		} {
			if got := string(r.Header.Peek(h)); got != want {
				t.Errorf("GET %s: %s = %q, want %q", p, h, got, want)
			}
		}
		csp := string(r.Header.Peek("Content-Security-Policy"))
		for _, d := range []string{"default-src 'self'", "script-src 'self';", "style-src 'self';", "frame-ancestors 'none'", "connect-src 'self'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("GET %s: CSP %q lacks %q", p, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("CSP allows unsafe sources: %s", csp)
		}
	}
	// The API keeps its JSON 404 and 405; other methods on console paths
	// (which exist for GET and HEAD) are a JSON 405.
	for _, c := range []struct {
		method, path string
		status       int
	}{{"GET", "/api/nope", 404}, {"GET", "/api", 404}, {"GET", "/api/", 404}, {"POST", "/", 405}, {"DELETE", "/executions", 405}, {"POST", "/api/health", 405}} {
		r := serveOnce(t, s, c.method, c.path)
		if r.StatusCode() != c.status || !strings.HasPrefix(string(r.Header.ContentType()), "application/json") {
			t.Errorf("%s %s: %d %s", c.method, c.path, r.StatusCode(), r.Header.ContentType())
		}
		if c.status == 405 && !strings.Contains(string(r.Body()), "METHOD_NOT_ALLOWED") {
			t.Errorf("%s %s: %s", c.method, c.path, r.Body())
		}
	}
	if r := serveOnce(t, s, "GET", "/metrics"); r.StatusCode() != 200 || strings.HasPrefix(string(r.Header.ContentType()), "text/html") {
		t.Errorf("/metrics: %d %s", r.StatusCode(), r.Header.ContentType())
	}

	site := embeddedConsole()
	index := serveOnce(t, s, "GET", "/").Body()
	refs := regexp.MustCompile(`"/assets/([^"]+)"`).FindAllSubmatch(index, -1)
	if len(refs) < 5 {
		t.Fatalf("index.html names %d assets", len(refs))
	}
	for _, m := range refs {
		p := "/assets/" + string(m[1])
		r := serveOnce(t, s, "GET", p, "Accept-Encoding", "gzip, deflate, br")
		if r.StatusCode() != 200 || string(r.Header.Peek("Cache-Control")) != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: %d %s", p, r.StatusCode(), r.Header.Peek("Cache-Control"))
		}
		body := r.Body()
		if string(r.Header.Peek("Content-Encoding")) == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(body, site.assets[p].body) {
			t.Errorf("GET %s: body differs", p)
		}
	}
	if r := serveOnce(t, s, "GET", "/assets/app.js"); r.StatusCode() != 404 ||
		!strings.HasPrefix(string(r.Header.ContentType()), "application/json") || !strings.Contains(string(r.Body()), `"code":"NOT_FOUND"`) {
		t.Errorf("an unhashed asset name: %d %s %s", r.StatusCode(), r.Header.ContentType(), r.Body())
	}
}

// TestConsoleBudgetAndSafety: the first load (index.html and every asset,
// all of which it preloads) stays under 300 KB compressed; nothing inline
// needs 'unsafe-inline'; no module parses strings as HTML.
func TestConsoleBudgetAndSafety(t *testing.T) {
	site := embeddedConsole()
	size := len(site.index.gz)
	for _, a := range site.assets {
		if a.gz != nil {
			size += len(a.gz)
		} else {
			size += len(a.body)
		}
	}
	if size > 300<<10 {
		t.Errorf("first load is %d bytes compressed, over 300 KB", size)
	}
	t.Logf("first load: %d bytes compressed", size)
	index := string(site.index.body)
	if regexp.MustCompile(`<script(?:[^>]*)>[^<]`).MatchString(index) || strings.Contains(index, "style=") || strings.Contains(index, "<style") {
		t.Error("index.html has inline script or style")
	}
	err := fs.WalkDir(consoleFiles, "console", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		b, _ := fs.ReadFile(consoleFiles, p)
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "localStorage.setItem(\"exekra.token", "setAttribute(\"style\""} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s uses %s", p, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Accept-Encoding is read with its weights: gzip;q=0 refuses gzip.
func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"": false, "gzip": true, "gzip, deflate, br": true, "deflate, GZIP;q=0.5": true, "br": false,
		"gzip;q=0": false, "gzip; q=0.0, br": false, "*": true, "*;q=0": false, "x-gzip": false,
		"*;q=0, gzip": true, "gzip;q=0, *": false,
	} {
		if got := acceptsGzip([]byte(h)); got != want {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", h, got, want)
		}
	}
}
