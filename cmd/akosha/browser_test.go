package main

// Headless Chromium for the console's tests (console_test.go): found on the
// machine (make test's setup installs Debian's chromium when it is missing,
// scripts/with-services.sh), driven with chromedp, one browser per test.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/akosha/akosha/internal/testenv"
)

// chromiumPath finds the browser: AKOSHA_TEST_CHROMIUM (which make test's
// setup sets to the path it found or installed, or to "unavailable: why"
// when it could not install one), else the PATH. Without one the test
// skips, or fails when the suite requires its services.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if v := os.Getenv("AKOSHA_TEST_CHROMIUM"); v != "" {
		if why, ok := strings.CutPrefix(v, "unavailable:"); ok {
			t.Skipf("no Chromium: the test setup could not install it (%s)", strings.TrimSpace(why))
		}
		return v
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("AKOSHA_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatal("no Chromium on the PATH but AKOSHA_TEST_REQUIRE_SERVICES=1 (scripts/with-services.sh installs Debian's chromium)")
	}
	t.Skip("no Chromium on the PATH: install Debian's chromium, or run make test, whose setup does")
	return ""
}

// artefactsDir is where the tests leave screenshots: AKOSHA_TEST_ARTEFACTS
// (make test sets bin/test-artefacts), else a folder under the system temp
// dir that outlives the test. The path is logged.
func artefactsDir(t *testing.T, name string) string {
	t.Helper()
	root := os.Getenv("AKOSHA_TEST_ARTEFACTS")
	if root == "" {
		root = filepath.Join(os.TempDir(), "akosha-test-artefacts")
	}
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// browser is one headless Chromium tab.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu     sync.Mutex
	errors []string // uncaught exceptions in the page
}

// newBrowser starts Chromium at width x height, until the test ends. The
// flags keep it off the network (this machine has none but the loopback:
// without them Chromium tries Google's hosts at every start).
func newBrowser(t *testing.T, width, height int) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // root in CI's container
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(testenv.Context(t), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx}
	// The first action starts the browser; it must run on ctx itself (a
	// derived context's end would end the browser).
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, m.String())
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// stepTimeout bounds one step (chromedp's own 30 s limit on polls is off):
// a page that never shows what a step waits for fails the test in a minute
// with what it shows, not at the binary's deadline.
var stepTimeout = time.Minute

// step runs actions, failing the test with what they were for.
func (b *browser) step(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(what, err)
	}
}

func (b *browser) fail(what string, err error) {
	b.t.Helper()
	text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById('view') ? document.getElementById('view').innerText.slice(0, 800) : document.body.innerText.slice(0, 800)`))
	b.t.Fatalf("%s: %v\nthe page shows:\n%s", what, err, text)
}

// wait polls a JavaScript condition until it holds.
func (b *browser) wait(what, cond string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(0))); err != nil {
		b.fail("wait for "+what, err)
	}
}

// text is an element's innerText.
func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(sel))
	if err != nil {
		b.fail("read "+sel, err)
	}
	return s
}

func (b *browser) eval(expr string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.fail("evaluate "+expr, err)
	}
	return s
}

// go navigates within the console (a #fragment: no page load).
func (b *browser) goTo(hash string) {
	b.t.Helper()
	b.eval(fmt.Sprintf("(location.hash = %q, '')", hash))
}

// screenshot saves the viewport as dir/name.png.
func (b *browser) screenshot(dir, name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.fail("screenshot "+name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// pageErrors are the page's uncaught exceptions so far.
func (b *browser) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// loadTime loads url as a new document and answers the time from the
// navigation's start to the moment ready, a JavaScript condition, first held,
// by the page's own clock. A script installed before the page's own (a
// MutationObserver, and a check each frame) notes that moment, so the figure
// does not include chromedp's round trips.
func (b *browser) loadTime(url, ready string) time.Duration {
	b.t.Helper()
	src := `(() => {
  window.__akoshaReady = 0;
  const check = () => { try { if (!window.__akoshaReady && (` + ready + `)) window.__akoshaReady = performance.now(); } catch (e) {} };
  new MutationObserver(check).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  const frame = () => { check(); if (!window.__akoshaReady) requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
})();`
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	added, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) (page.AddScriptToEvaluateOnNewDocumentResult, error) {
		return cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: src})
	})
	if err != nil {
		b.fail("install the load probe", err)
	}
	defer chromedp.Do(b.ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.RemoveScriptToEvaluateOnNewDocument, page.RemoveScriptToEvaluateOnNewDocumentParams{Identifier: added.Identifier})
		return err
	}))
	b.step("load "+url, chromedp.Navigate(url))
	ms, err := chromedp.Run(ctx, chromedp.Poll[float64](`window.__akoshaReady`, chromedp.WithPollingTimeout(0)))
	if err != nil {
		b.fail("wait for "+ready, err)
	}
	return time.Duration(ms * float64(time.Millisecond))
}
