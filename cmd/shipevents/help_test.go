package main_test

import (
	"strings"
	"testing"
)

// commandFlags is every command and the flags its help must document.
var commandFlags = map[string][]string{
	"normalize":    {"-format", "-form", "-now", "-max-bytes"},
	"verify":       {"-secret-file", "-request", "-id", "-timestamp", "-signature", "-body", "-at", "-tolerance"},
	"migrate":      {"-dsn", "-schema", "-status"},
	"events":       {"-dsn", "-schema", "-type", "-ref", "-tenant", "-carrier", "-tracking", "-correlation", "-since", "-until", "-after", "-before", "-limit", "-all", "-o"},
	"deliveries":   {"-dsn", "-schema", "-state", "-tenant", "-event", "-subscription", "-after", "-limit", "-all", "-o"},
	"dead-letters": {"-dsn", "-schema", "-tenant", "-event", "-subscription", "-after", "-limit", "-all", "-o"},
	"replay":       {"-dsn", "-schema", "-delivery", "-event", "-tenant", "-subscription"},
	"version":      nil,
}

func TestHelpOverview(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"help", "help"}} {
		r := runCLI(t, args...)
		wantExit(t, r, 0)
		if r.stderr != "" {
			t.Errorf("%v: stderr %q", args, r.stderr)
		}
		for name := range commandFlags {
			if !strings.Contains(r.stdout, "\n\t"+name+" ") {
				t.Errorf("%v: the overview does not list %s:\n%s", args, name, r.stdout)
			}
		}
		for _, want := range []string{"Usage:", "SHIPEVENTS_PG_DSN", "SHIPEVENTS_WEBHOOK_SECRET", "Exit status:", "\t2  usage", "\t3  the command could not run"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%v: the overview lacks %q", args, want)
			}
		}
	}
}

func TestHelpOfEachCommand(t *testing.T) {
	for name, flags := range commandFlags {
		t.Run(name, func(t *testing.T) {
			r := runCLI(t, "help", name)
			wantExit(t, r, 0)
			if !strings.HasPrefix(r.stdout, "Usage: shipevents "+name+" ") {
				t.Errorf("help %s starts %.60q", name, r.stdout)
			}
			for _, f := range flags {
				if !strings.Contains(r.stdout, "\n\t"+f+" ") && !strings.Contains(r.stdout, "\n\t"+f+"\n") {
					t.Errorf("help %s does not document %s:\n%s", name, f, r.stdout)
				}
			}
			if len(flags) > 0 && !strings.Contains(r.stdout, "Examples:") {
				t.Errorf("help %s has no examples", name)
			}
			// -h (and -help) print the same, on stdout, with success.
			for _, h := range []string{"-h", "-help"} {
				hr := runCLI(t, name, h)
				wantExit(t, hr, 0)
				if hr.stdout != r.stdout {
					t.Errorf("%s %s differs from help %s:\n%s", name, h, name, hr.stdout)
				}
			}
		})
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{nil, "Usage:"},
		{[]string{"frobnicate"}, "shipevents: unknown command frobnicate\nRun 'shipevents help'"},
		{[]string{"help", "frobnicate"}, "shipevents help: unknown command frobnicate"},
		{[]string{"help", "events", "replay"}, "name one command"},
		{[]string{"events", "-limit", "many"}, "invalid value \"many\" for flag -limit"},
		{[]string{"\x1b[31mred"}, `unknown command \x1b[31mred`},
	}
	for _, c := range cases {
		r := runCLI(t, c.args...)
		wantExit(t, r, 2)
		if r.stdout != "" {
			t.Errorf("%q: stdout %q, want nothing", c.args, r.stdout)
		}
		if !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: stderr %q, want %q", c.args, r.stderr, c.want)
		}
	}
}

func TestVersion(t *testing.T) {
	r := runCLI(t, "version")
	wantExit(t, r, 0)
	for _, want := range []string{"github.com/shipevents/shipevents/cmd/shipevents ", "github.com/shipevents/shipevents ", "github.com/shipevents/shipevents/pgstore ", " go1."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("version %q lacks %q", r.stdout, want)
		}
	}
}
