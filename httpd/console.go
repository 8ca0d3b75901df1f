package httpd

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// The web console (docs/console.md): plain ES modules and CSS embedded in
// the binary, served at every path outside /api/ and /metrics. Static files
// get content-hashed names computed at startup, so they are cached for a
// year; index.html, which names them, is revalidated on every load.

//go:embed console
var consoleFiles embed.FS

// consoleCSP is the Content-Security-Policy of every console answer: nothing
// from another origin, no inline script or style, no framing.
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// consoleAsset is one file as served: its bytes, their gzip form (nil when
// it does not pay) and its content type.
type consoleAsset struct {
	body  []byte
	gz    []byte
	ctype string
}

// consoleSite is the console ready to serve: index.html with the hashed
// names written in, and the assets by their hashed path.
type consoleSite struct {
	index  *consoleAsset
	assets map[string]*consoleAsset // "/assets/app.0123456789.js"
	names  map[string]string        // "app.js" → "app.0123456789.js"
}

// jsImport matches the relative module specifiers of the console's own
// modules (`from "./x.js"`, `import "./x.js"`, `import("./x.js")`): the
// console writes them with double quotes, one module per file name.
var jsImport = regexp.MustCompile(`((?:from|import)\s*\(?\s*)"\./([A-Za-z0-9_-]+\.js)"`)

// assetRef matches a reference to an asset in index.html.
var assetRef = regexp.MustCompile(`"/assets/([A-Za-z0-9_.-]+)"`)

// buildConsole reads the console's files from fsys (rooted at the console
// folder) and gives every static file a name carrying the hash of its
// content. A module's content includes the hashed names of the modules it
// imports, so the files are named in dependency order; an import cycle or
// a reference to a missing file is an error.
func buildConsole(fsys fs.FS) (*consoleSite, error) {
	raw := map[string][]byte{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.Contains(p, "/") {
			return fmt.Errorf("console: %s: the console's files live in one folder", p)
		}
		b, err := fs.ReadFile(fsys, p)
		raw[p] = b
		return err
	})
	if err != nil {
		return nil, err
	}
	html, ok := raw["index.html"]
	if !ok {
		return nil, fmt.Errorf("console: index.html is missing")
	}
	site := &consoleSite{assets: map[string]*consoleAsset{}, names: map[string]string{}}
	state := map[string]int{} // 1 naming, 2 named
	var name func(file string) error
	name = func(file string) error {
		switch state[file] {
		case 1:
			return fmt.Errorf("console: import cycle through %s", file)
		case 2:
			return nil
		}
		body, ok := raw[file]
		if !ok {
			return fmt.Errorf("console: %s is referenced but missing", file)
		}
		state[file] = 1
		if path.Ext(file) == ".js" {
			var ferr error
			body = jsImport.ReplaceAllFunc(body, func(m []byte) []byte {
				sub := jsImport.FindSubmatch(m)
				if err := name(string(sub[2])); err != nil {
					ferr = err
					return m
				}
				return []byte(string(sub[1]) + `"./` + site.names[string(sub[2])] + `"`)
			})
			if ferr != nil {
				return ferr
			}
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(file)
		hashed := strings.TrimSuffix(file, ext) + "." + hex.EncodeToString(sum[:5]) + ext
		site.names[file] = hashed
		site.assets["/assets/"+hashed] = newConsoleAsset(body, contentTypeOf(file))
		state[file] = 2
		return nil
	}
	files := make([]string, 0, len(raw))
	for f := range raw {
		if f != "index.html" {
			files = append(files, f)
		}
	}
	sort.Strings(files)
	for _, f := range files {
		if err := name(f); err != nil {
			return nil, err
		}
	}
	var rerr error
	html = assetRef.ReplaceAllFunc(html, func(m []byte) []byte {
		f := string(assetRef.FindSubmatch(m)[1])
		h, ok := site.names[f]
		if !ok {
			rerr = fmt.Errorf("console: index.html names missing asset %s", f)
			return m
		}
		return []byte(`"/assets/` + h + `"`)
	})
	if rerr != nil {
		return nil, rerr
	}
	// Every module is preloaded, so the browser fetches them in parallel
	// instead of discovering them one import level at a time.
	var preload bytes.Buffer
	for _, f := range files {
		if path.Ext(f) == ".js" && f != "app.js" {
			fmt.Fprintf(&preload, "<link rel=\"modulepreload\" href=\"/assets/%s\">\n", site.names[f])
		}
	}
	html = bytes.Replace(html, []byte("<!-- modulepreload -->\n"), preload.Bytes(), 1)
	site.index = newConsoleAsset(html, "text/html; charset=utf-8")
	return site, nil
}

func contentTypeOf(file string) string {
	switch path.Ext(file) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	if t := mime.TypeByExtension(path.Ext(file)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// newConsoleAsset compresses body once, at startup.
func newConsoleAsset(body []byte, ctype string) *consoleAsset {
	a := &consoleAsset{body: body, ctype: ctype}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(body)
	_ = zw.Close()
	if buf.Len() < len(body) {
		a.gz = buf.Bytes()
	}
	return a
}

var (
	embeddedOnce sync.Once
	embeddedSite *consoleSite
)

// embeddedConsole builds the embedded console once per process; a broken
// embed is a build mistake that the tests catch.
func embeddedConsole() *consoleSite {
	embeddedOnce.Do(func() {
		sub, err := fs.Sub(consoleFiles, "console")
		if err == nil {
			embeddedSite, err = buildConsole(sub)
		}
		if err != nil {
			panic(err)
		}
	})
	return embeddedSite
}

// isConsolePath tells whether path belongs to the console: everything but
// the API and the metrics.
func isConsolePath(p []byte) bool {
	return !bytes.HasPrefix(p, []byte("/api/")) && !bytes.Equal(p, []byte("/api")) &&
		!bytes.Equal(p, []byte("/metrics")) && !bytes.HasPrefix(p, []byte("/metrics/"))
}

// serveConsole answers a GET or HEAD of a console path: an asset by its
// hashed name, else index.html (the console routes in the browser). It
// returns false for requests that are not the console's.
func (s *Server) serveConsole(ctx *fasthttp.RequestCtx) bool {
	p := ctx.Path()
	if !isConsolePath(p) || !(ctx.IsGet() || ctx.IsHead()) {
		return false
	}
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	var a *consoleAsset
	if bytes.HasPrefix(p, []byte("/assets/")) {
		a = embeddedConsole().assets[string(p)]
		if a == nil { // an unknown path: the JSON 404 of every other one
			h.Set("Cache-Control", "no-store")
			s.writeError(ctx, messages.Errorf(messages.CodeNotFound, "no such file: %s", p))
			return true
		}
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		a = embeddedConsole().index
		h.Set("Cache-Control", "no-cache")
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType(a.ctype)
	h.Set("Vary", "Accept-Encoding")
	if a.gz != nil && acceptsGzip(ctx.Request.Header.Peek("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		ctx.Response.SetBodyRaw(a.gz)
	} else {
		ctx.Response.SetBodyRaw(a.body)
	}
	return true
}

// acceptsGzip reads an Accept-Encoding header: gzip named with a weight
// above 0, or "*" above 0 when gzip is not named ("gzip;q=0" refuses it).
func acceptsGzip(header []byte) bool {
	gzipQ, starQ := -1.0, -1.0
	for _, part := range bytes.Split(header, []byte(",")) {
		coding, params, _ := bytes.Cut(part, []byte(";"))
		coding = bytes.TrimSpace(coding)
		q := 1.0
		for _, p := range bytes.Split(params, []byte(";")) {
			k, v, ok := bytes.Cut(bytes.TrimSpace(p), []byte("="))
			if ok && bytes.EqualFold(bytes.TrimSpace(k), []byte("q")) {
				if f, err := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64); err == nil {
					q = f
				}
			}
		}
		switch {
		case bytes.EqualFold(coding, []byte("gzip")):
			gzipQ = q
		case bytes.Equal(coding, []byte("*")):
			starQ = q
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}
