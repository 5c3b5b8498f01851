package report

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// chromiumPage renders a report file in headless Chromium for the tests that check what a person
// sees: dom returns the page's DOM after its scripts ran, screenshot writes a PNG (to the file named
// by pngEnv when it is set, so a person can look at it) and checks that one was written. It skips the
// test where Chromium is not installed, or under -short.
type chromiumPage struct {
	t    *testing.T
	bin  string
	page string
}

func newChromiumPage(t *testing.T, file string) *chromiumPage {
	t.Helper()
	var bin string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("chromium not on PATH (apt-get install chromium)")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	return &chromiumPage{t: t, bin: bin, page: "file://" + file}
}

func (c *chromiumPage) run(extra ...string) []byte {
	c.t.Helper()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
		"--user-data-dir=" + c.t.TempDir()}, append(extra, c.page)...)
	ctx, cancel := context.WithTimeout(c.t.Context(), 2*time.Minute) // a hung browser fails, not stalls CI
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		c.t.Fatalf("%s: %v\n%s", c.bin, err, stderr.String())
	}
	return out
}

func (c *chromiumPage) dom() string { return string(c.run("--dump-dom")) }

func (c *chromiumPage) screenshot(pngEnv, window string) {
	c.t.Helper()
	png := filepath.Join(c.t.TempDir(), "page.png")
	if p := os.Getenv(pngEnv); p != "" {
		png = p
	}
	c.run("--screenshot="+png, "--window-size="+window)
	if b, err := os.ReadFile(png); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		c.t.Errorf("no screenshot: %v", err)
	}
}
