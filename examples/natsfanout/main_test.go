package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRun runs the example and checks that each consumer printed exactly
// the events its patterns and tenant select, each once.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard only
	defer cancel()
	var out bytes.Buffer
	const shipments = 6
	if err := run(ctx, &out, shipments, t.TempDir()); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	text := out.String()

	events := demoEvents(shipments)
	line := regexp.MustCompile(`(?m)^\[([a-z-]+)\]\s+(\S+)\s+(\S+)\s+(\S+)$`)
	got := map[string]map[string]int{}
	for _, m := range line.FindAllStringSubmatch(text, -1) {
		if got[m[1]] == nil {
			got[m[1]] = map[string]int{}
		}
		got[m[1]][m[2]+" "+m[3]+" "+m[4]]++
	}
	for _, c := range consumers {
		want := map[string]int{}
		for i := range events {
			if e := &events[i]; c.wants(e) {
				want[e.TenantID+" "+e.Ref+" "+e.TrackingNumber]++
			}
		}
		if len(want) == 0 {
			t.Fatalf("consumer %s selects nothing of the demo events", c.name)
		}
		if !equal(got[c.name], want) {
			t.Errorf("consumer %s printed %v, want %v", c.name, got[c.name], want)
		}
		if !strings.Contains(text, c.name+": ") {
			t.Errorf("no summary line for %s", c.name)
		}
	}
	if len(got) != len(consumers) {
		t.Errorf("lines from %d consumers, want %d:\n%s", len(got), len(consumers), text)
	}
	if strings.Contains(text, "refused") || strings.Contains(text, "did not ask") {
		t.Errorf("unexpected output:\n%s", text)
	}
}

func equal(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
