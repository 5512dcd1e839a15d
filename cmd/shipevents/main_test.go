package main_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cliPath is the binary TestMain builds: the tests run the command as an
// operator does, as a process with its own arguments, streams, environment
// and exit status.
var cliPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shipevents-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cliPath = filepath.Join(dir, "shipevents")
	build := exec.Command("go", "build", "-o", cliPath, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the command:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cli is one run of the command.
type cli struct {
	args  []string
	stdin []byte
	env   []string // KEY=value, added to a clean environment
	dir   string
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs the command. The environment is the test's without any
// SHIPEVENTS_ variable, so that a DSN or secret set for the test run never
// leaks into a case that expects none, plus c.env.
func (c cli) run(t *testing.T) result {
	t.Helper()
	cmd := exec.Command(cliPath, c.args...)
	cmd.Dir = c.dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SHIPEVENTS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, c.env...)
	cmd.Stdin = bytes.NewReader(c.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running %v: %v", c.args, err)
	}
	return r
}

// runCLI runs the command with args and nothing on standard input.
func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	return cli{args: args}.run(t)
}

// wantExit fails the test unless r exited with code.
func wantExit(t *testing.T, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit status %d, want %d\n%s", r.code, code, r)
	}
}
