// Command shipevents is the operator's tool for shipevents: it normalizes
// carrier and aggregator payloads into canonical events, verifies the
// signature of a received webhook, and, against the PostgreSQL store,
// migrates the schema, lists events, deliveries and dead letters, and
// replays deliveries.
//
// Install it with
//
//	go install github.com/shipevents/shipevents/cmd/shipevents@v0.1.0
//
// and run "shipevents help" for the commands, their flags and the exit
// statuses: 0 success, 1 the input was rejected (an invalid payload, a bad
// signature, an unknown id), 2 a usage error, 3 the command could not run
// (a file that cannot be read, a database that cannot be reached).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Exit statuses. Scripts tell "the answer is no" (exitRejected) from "the
// question was wrong" (exitUsage) and "no answer" (exitFailure).
const (
	exitOK       = 0
	exitRejected = 1 // invalid payload, bad or expired signature, unknown id, schema behind
	exitUsage    = 2 // unknown command or flag, bad flag value, missing argument
	exitFailure  = 3 // unreadable file, database unreachable or failing
)

// Environment variables the commands read.
const (
	envDSN    = "SHIPEVENTS_PG_DSN"
	envSchema = "SHIPEVENTS_PG_SCHEMA"
	envSecret = "SHIPEVENTS_WEBHOOK_SECRET"
)

// env is what a command may touch of the process: its streams and its
// environment.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// runFunc runs a command with its flags parsed; args are the positional
// arguments.
type runFunc func(ctx context.Context, e *env, args []string) error

// command is one subcommand. define declares its flags on fs and returns
// the function that runs it, so that help can print the same flags the
// command parses.
type command struct {
	name     string
	synopsis string // arguments after the command name
	summary  string // one line for the command list
	details  string // the help text above the flags
	define   func(fs *flag.FlagSet) runFunc
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// commandOrder is the order of the command list in help.
var commandOrder = []string{"normalize", "verify", "migrate", "events", "deliveries", "dead-letters", "replay", "version", "help"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit status.
func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 {
		printOverview(e.stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help":
		printOverview(e.stdout)
		return exitOK
	case "help":
		return runHelp(rest, e)
	}
	c := commands[name]
	if c == nil {
		fmt.Fprintf(e.stderr, "shipevents: unknown command %s\nRun 'shipevents help' for the list of commands.\n", sanitize(name))
		return exitUsage
	}
	fs := newFlagSet(c.name)
	runner := c.define(fs)
	pos, err := parseFlags(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		printCommandHelp(e.stdout, c)
		return exitOK
	}
	if err == nil {
		err = runner(ctx, e, pos)
	}
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	fmt.Fprintf(e.stderr, "shipevents %s: %s\n", c.name, sanitize(err.Error()))
	if code == exitUsage {
		fmt.Fprintf(e.stderr, "Run 'shipevents help %s' for usage.\n", c.name)
	}
	return code
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package would print its own usage on every error; run
	// prints one message and points at help instead.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses flags placed anywhere among the positional arguments
// (shipevents normalize a.json -format ups), as operators type them; "--"
// ends the flags.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError("%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// exitError carries the exit status a failure maps to.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

func rejected(err error) error { return &exitError{code: exitRejected, err: err} }

func failure(err error) error { return &exitError{code: exitFailure, err: err} }

// exitCode maps an error to an exit status: the one an exitError carries,
// exitFailure for any other.
func exitCode(err error) int {
	if ee, ok := errors.AsType[*exitError](err); ok {
		return ee.code
	}
	return exitFailure
}

func runHelp(args []string, e *env) int {
	switch len(args) {
	case 0:
		printOverview(e.stdout)
		return exitOK
	case 1:
		if c := commands[args[0]]; c != nil {
			printCommandHelp(e.stdout, c)
			return exitOK
		}
		if args[0] == "help" {
			printOverview(e.stdout)
			return exitOK
		}
		fmt.Fprintf(e.stderr, "shipevents help: unknown command %s\nRun 'shipevents help' for the list of commands.\n", sanitize(args[0]))
	default:
		fmt.Fprintln(e.stderr, "shipevents help: name one command: shipevents help <command>")
	}
	return exitUsage
}

func printOverview(w io.Writer) {
	fmt.Fprint(w, `shipevents normalizes carrier payloads, verifies webhook signatures, and
inspects and replays deliveries in a shipevents PostgreSQL store.

Usage:

	shipevents <command> [flags] [arguments]

Commands:

`)
	for _, name := range commandOrder {
		summary := "this overview, or a command's flags and examples"
		if c := commands[name]; c != nil {
			summary = c.summary
		}
		fmt.Fprintf(w, "\t%-13s %s\n", name, summary)
	}
	fmt.Fprint(w, `
Run 'shipevents help <command>' or 'shipevents <command> -h' for a command's flags.
Flags may come before or after the arguments; "--" ends the flags.

Environment:

	SHIPEVENTS_PG_DSN          the PostgreSQL database (a postgres:// URL or key=value
	                           string) for migrate, events, deliveries, dead-letters and
	                           replay; -dsn overrides it. PGPASSWORD and ~/.pgpass are read
	                           as by psql, so the DSN need not hold the password. The
	                           password is never printed.
	SHIPEVENTS_PG_SCHEMA       the schema of the tables; -schema overrides it
	SHIPEVENTS_WEBHOOK_SECRET  the signing secret (or secrets, separated by spaces) for
	                           verify, unless -secret-file is given

Exit status:

	0  success
	1  the input was rejected: an invalid or unrecognised payload, a bad, missing or
	   expired signature, an unknown delivery or event (and for migrate -status, a
	   schema that needs migrating)
	2  usage: an unknown command or flag, a bad flag value, a missing argument
	3  the command could not run: a file that cannot be read, a database that cannot
	   be reached or that fails
`)
}

func printCommandHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "Usage: shipevents %s %s\n\n%s\n", c.name, c.synopsis, strings.TrimSpace(c.details))
	fs := newFlagSet(c.name)
	c.define(fs)
	var flags []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f) })
	if len(flags) == 0 {
		return
	}
	sort.Slice(flags, func(i, j int) bool { return flags[i].Name < flags[j].Name })
	fmt.Fprint(w, "\nFlags:\n\n")
	for _, f := range flags {
		name, usage := flag.UnquoteUsage(f)
		line := "\t-" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintln(w, line)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			usage += " (default " + f.DefValue + ")"
		}
		for _, l := range wrap(usage, 64) {
			fmt.Fprintf(w, "\t\t%s\n", l)
		}
	}
}

// wrap breaks text into lines of at most width bytes, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}
