package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The browser side of the console tests: Debian's chromium driven over the
// DevTools protocol, elements found by role and accessible name as a person
// (or a screen reader) finds them. Without chromium the tests skip, except
// under CI=true, where a missing browser fails them (.ci/run installs it).

// chromiumPath finds the browser, or skips (fails under CI) when there is none.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	skipUnlessCI(t, "chromium is not installed (CI installs it in .ci/run: apt-get install -y chromium)")
	return ""
}

// skipUnlessCI skips the test for why, except under CI=true, where a test
// that cannot run fails: CI never passes by skipping.
func skipUnlessCI(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " (CI=true: failing instead of skipping)")
	}
	t.Skip(why)
}

// page is one browser tab on a console; every action has a deadline.
type page struct {
	t    *testing.T
	ctx  context.Context // the tab (no deadline)
	base string

	mu     sync.Mutex
	errors []string // uncaught exceptions and CSP refusals seen in the tab
}

// sharedBrowser is one headless chromium for the package's tests (each
// test gets its own browser context: cookies and storage apart), started on
// first use and closed by TestMain.
var sharedBrowser struct {
	once    sync.Once
	ctx     context.Context
	cancel  func()
	dataDir string
	err     error
}

func startBrowser(path string) {
	b := &sharedBrowser
	b.dataDir, b.err = os.MkdirTemp("", "exekra-chromium")
	if b.err != nil {
		return
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(b.dataDir), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-background-timer-throttling", true), chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true), chromedp.Flag("password-store", "basic"),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b.ctx = ctx
	b.cancel = func() {
		cancel()
		acancel()
		os.RemoveAll(b.dataDir)
	}
	b.err = chromedp.Do(ctx) // starts the browser, no deadline
}

// stopBrowser closes the shared browser (TestMain calls it).
func stopBrowser() {
	if sharedBrowser.cancel != nil {
		sharedBrowser.cancel()
	}
}

// newPage opens a tab in a fresh browser context of the shared browser.
func newPage(t *testing.T, base string) *page {
	t.Helper()
	path := chromiumPath(t)
	sharedBrowser.once.Do(func() { startBrowser(path) })
	if sharedBrowser.err != nil {
		t.Fatalf("start chromium: %v", sharedBrowser.err)
	}
	ctx, cancel := chromedp.NewContext(sharedBrowser.ctx, chromedp.WithNewBrowserContext())
	p := &page{t: t, ctx: ctx, base: base}
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		t.Fatalf("open a tab: %v", err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
				p.mu.Lock()
				p.errors = append(p.errors, m.String())
				p.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, e := range p.errors {
			t.Errorf("browser: %s", e)
		}
	})
	return p
}

// do runs steps with a deadline and fails the test on error.
func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	for {
		err := chromedp.Do(ctx, steps...)
		if err == nil {
			return
		}
		// A live event can repaint the element between the query that found
		// it and the action on it (a row of a live table): act again on the
		// element as it is now, as a user's next click would.
		// A click whose point a repaint moved (a live table's columns
		// widened) is aimed again too.
		if ctx.Err() == nil && (strings.Contains(err.Error(), "Could not find node with given id") ||
			strings.Contains(err.Error(), "Node is detached") || errors.Is(err, errNotAtPoint)) {
			continue
		}
		p.t.Fatalf("%s: %v\npage text:\n%s", what, err, p.bodyText())
	}
}

// bodyText is the page's visible text (for failure messages).
func (p *page) bodyText() string {
	ctx, cancel := context.WithTimeout(p.ctx, 3*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 3000) : ""`))
	return s
}

// eval evaluates js and returns its value.
func eval[T any](p *page, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// open navigates to a console path.
func (p *page) open(path string) {
	p.t.Helper()
	p.do("open "+path, chromedp.Navigate(p.base+path))
}

// byRole finds the elements whose computed role and accessible name match,
// from the browser's accessibility tree.
func byRole(role, name string) chromedp.QueryOption {
	return chromedp.ByFunc(func(ctx context.Context, t *chromedp.Target, n *chromedp.Node) ([]cdp.NodeID, error) {
		res, err := cdp.Call(ctx, t, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{
			BackendNodeID: n.BackendNodeID, AccessibleName: name, Role: role,
		})
		if err != nil {
			return nil, err
		}
		var ids []cdp.BackendNodeID
		for _, ax := range res.Nodes {
			if !ax.Ignored && ax.BackendDOMNodeID != 0 {
				ids = append(ids, ax.BackendDOMNodeID)
			}
		}
		if len(ids) == 0 {
			return nil, nil
		}
		out, err := cdp.Call(ctx, t, dom.PushNodesByBackendIDsToFrontend, dom.PushNodesByBackendIDsToFrontendParams{BackendNodeIDs: ids})
		if err != nil {
			return nil, err
		}
		return out.NodeIDs, nil
	})
}

// sel is a role and an accessible name.
func sel(role, name string) []chromedp.QueryOption {
	return []chromedp.QueryOption{byRole(role, name), chromedp.NodeVisible}
}

// waitFor waits until an element with role and name is visible.
func (p *page) waitFor(role, name string) {
	p.t.Helper()
	p.do(fmt.Sprintf("wait for %s %q", role, name), chromedp.WaitVisible("", sel(role, name)...))
}

// click clicks the element with role and name.
func (p *page) click(role, name string) {
	p.t.Helper()
	p.do(fmt.Sprintf("click %s %q", role, name), hitClick(sel(role, name)))
}

// errNotAtPoint: the element is not what a click at its centre would hit
// (covered, or moved by a repaint since its box was read).
var errNotAtPoint = errors.New("the element is not at its click point")

// hitClick is chromedp.Click with the check a careful person makes: it
// clicks the element's centre only when the element (or one inside it) is
// what is there now. chromedp.Click reads the box and then sends the mouse;
// a live event that repaints the table between the two (its columns widen
// when a "last fired" time arrives) sent the click to a neighbour, and the
// dialog the test waited for never opened.
func hitClick(opts []chromedp.QueryOption) chromedp.Action[chromedp.Void] {
	return chromedp.QueryAfter("", func(ctx context.Context, t *chromedp.Target, nodes []*chromedp.Node) (chromedp.Void, error) {
		var none chromedp.Void
		if len(nodes) == 0 {
			return none, errNotAtPoint
		}
		n := nodes[0]
		if _, err := cdp.Call(ctx, t, dom.ScrollIntoViewIfNeeded, dom.ScrollIntoViewIfNeededParams{NodeID: n.NodeID}); err != nil {
			return none, err
		}
		q, err := cdp.Call(ctx, t, dom.GetContentQuads, dom.GetContentQuadsParams{NodeID: n.NodeID})
		if err != nil {
			return none, err
		}
		if len(q.Quads) == 0 || len(q.Quads[0]) != 8 {
			return none, errNotAtPoint
		}
		var x, y float64
		for i := 0; i < 8; i += 2 {
			x, y = x+q.Quads[0][i]/4, y+q.Quads[0][i+1]/4
		}
		obj, err := cdp.Call(ctx, t, dom.ResolveNode, dom.ResolveNodeParams{NodeID: n.NodeID})
		if err != nil {
			return none, err
		}
		defer cdp.Call(ctx, t, runtime.ReleaseObject, runtime.ReleaseObjectParams{ObjectID: obj.Object.ObjectID})
		hit, err := cdp.Call(ctx, t, runtime.CallFunctionOn, runtime.CallFunctionOnParams{
			ObjectID:            obj.Object.ObjectID,
			FunctionDeclaration: fmt.Sprintf(`function() { const e = document.elementFromPoint(%v, %v); return !!e && this.contains(e); }`, x, y),
			ReturnByValue:       ptrTo(true),
		})
		if err != nil {
			return none, err
		}
		if hit.ExceptionDetails != nil || hit.Result == nil || string(hit.Result.Value) != "true" {
			return none, errNotAtPoint
		}
		_, err = chromedp.MouseClickXY(x, y)(ctx, t)
		return none, err
	}, opts...)
}

func ptrTo[T any](v T) *T { return &v }

// fill replaces the value of the text field named name.
func (p *page) fill(name, value string) {
	p.t.Helper()
	p.do(fmt.Sprintf("fill %q", name), chromedp.SetValue("", value, sel("textbox", name)...))
}

// typeInto types text into the field named name (key by key).
func (p *page) typeInto(name, text string) {
	p.t.Helper()
	p.do(fmt.Sprintf("type into %q", name), chromedp.SendKeys("", text, sel("textbox", name)...))
}

// count is how many visible elements have role and name right now.
func (p *page) count(role, name string) int {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	// The document by object id: DOM.getDocument would reset the node ids
	// chromedp tracks.
	doc, err := chromedp.Run(ctx, chromedp.Evaluate[*runtime.RemoteObject](`document`))
	if err != nil {
		p.t.Fatal(err)
	}
	res, err := chromedp.Call(ctx, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{
		ObjectID: doc.ObjectID, AccessibleName: name, Role: role,
	})
	if err != nil {
		p.t.Fatal(err)
	}
	n := 0
	for _, ax := range res.Nodes {
		if !ax.Ignored {
			n++
		}
	}
	return n
}

// key presses a key (kb.Tab, " ", kb.Enter) with optional modifiers.
func (p *page) key(k string, mods ...chromedp.Modifier) {
	p.t.Helper()
	var opts []chromedp.KeyOption
	if len(mods) > 0 {
		opts = append(opts, chromedp.KeyModifiers(mods...))
	}
	p.do("key "+k, chromedp.KeyEvent(k, opts...))
}

// focused describes the focused element: its role-ish tag and accessible name.
func (p *page) focused() string {
	return eval[string](p, `(() => { const e = document.activeElement; if (!e) return "";
		const name = e.getAttribute("aria-label") || (e.labels && e.labels[0] ? e.labels[0].textContent : "") || e.textContent || "";
		return name.trim(); })()`)
}

// tabTo presses Tab (or Shift+Tab) until the focused element's name is name.
func (p *page) tabTo(name string, back bool) {
	p.t.Helper()
	var seen []string
	for i := 0; i < 80; i++ {
		if f := p.focused(); f == name {
			return
		} else {
			seen = append(seen, f)
		}
		if back {
			p.key(kb.Tab, chromedp.ModifierShift)
		} else {
			p.key(kb.Tab)
		}
	}
	p.t.Fatalf("Tab never reached %q; focus went through %q", name, seen)
}

// waitJS waits until the JavaScript expression is true.
func (p *page) waitJS(what, js string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 25*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		p.t.Fatalf("wait until %s: %v\npage text:\n%s", what, err, p.bodyText())
	}
}

// signIn uses the login page.
func (p *page) signIn(email, password string) {
	p.t.Helper()
	p.waitFor("button", "Sign in")
	p.fill("Email", email)
	p.fill("Password", password)
	p.click("button", "Sign in")
	p.waitFor("button", "Sign out")
}

// signedInPage opens path on a new page of the console at base, signs in
// there and waits for the page's heading ("": for none).
func signedInPage(t *testing.T, base, path, email, password, heading string) *page {
	t.Helper()
	p := newPage(t, base)
	p.open(path)
	p.signIn(email, password)
	if heading != "" {
		p.waitFor("heading", heading)
	}
	return p
}

// consoleUserPage registers a user with role (password "password-123"),
// opens path signed in as them and checks that the navigation offers
// exactly the pages the role may use.
func consoleUserPage(t *testing.T, h *harness, email, name, role, path, heading string) *page {
	t.Helper()
	h.expect(h.admin, "POST", "/api/auth/register", map[string]any{"email": email, "password": "password-123", "name": name, "role": role}, 201)
	p := signedInPage(t, h.base, path, email, "password-123", heading)
	p.checkNav(role)
	return p
}

// checkNav checks that the navigation offers every page to an ADMIN, and
// all but Users, Audit and System to the other roles.
func (p *page) checkNav(role string) {
	p.t.Helper()
	for _, name := range allNav {
		want := 1
		if role != "ADMIN" && (name == "Users" || name == "Audit" || name == "System") {
			want = 0
		}
		if n := p.count("link", name); n != want {
			p.t.Errorf("%s: navigation link %q: %d, want %d", role, name, n, want)
		}
	}
}

// shot saves a full-page screenshot of the current page.
func (p *page) shot(file string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		p.t.Fatal(err)
	}
}
