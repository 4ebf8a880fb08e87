package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotlinebot/hotlinebot/storage/storagetest"
)

// cli runs the program as a clerk would, through run, against a fresh,
// migrated database.
type cli struct {
	t      *testing.T
	config string
	dir    string
	env    map[string]string
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	url := storagetest.NewDatabase(t)
	dir := t.TempDir()
	c := &cli{t: t, config: filepath.Join(dir, "config.toml"), dir: dir, env: map[string]string{}}
	c.write("config.toml", "[database]\nurl = \""+url+"\"\n")
	c.ok("migrate")
	return c
}

// write puts a file in the test's folder and returns its path.
func (c *cli) write(name, content string) string {
	c.t.Helper()
	path := filepath.Join(c.dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return path
}

// run runs hotlinebot with args (the config comes first, as a clerk's shell
// alias would put it) and returns what it printed and its exit status.
func (c *cli) run(args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"--config", c.config}, args...),
		func(k string) string { return c.env[k] }, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

// ok runs a command that must succeed and returns its stdout.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	out, errs, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("hotlinebot %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// fails runs a command that must fail with the given exit status and
// returns its stderr.
func (c *cli) fails(code int, args ...string) string {
	c.t.Helper()
	out, errs, got := c.run(args...)
	if got != code {
		c.t.Fatalf("hotlinebot %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, code, out, errs)
	}
	return errs
}

// json runs a command with -o json and decodes its one JSON document into v.
func (c *cli) json(v any, args ...string) {
	c.t.Helper()
	out := c.ok(append(args, "-o", "json")...)
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(v); err != nil {
		c.t.Fatalf("hotlinebot %s -o json: %v\n%s", strings.Join(args, " "), err, out)
	}
	if dec.More() {
		c.t.Fatalf("hotlinebot %s -o json printed more than one JSON document:\n%s", strings.Join(args, " "), out)
	}
}
