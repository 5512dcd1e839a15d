package natsjs_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/natsjs"
)

// TestConsumersReceiveWhatMatchRefSays publishes events of many refs and
// tenants (awkward segments included) to a real server, then creates
// consumers on random patterns, two at a time, one of them for a single
// tenant: each receives exactly the events shipevents.MatchRef (and the
// tenant) says it should, each once.
func TestConsumersReceiveWhatMatchRefSays(t *testing.T) {
	s := runServer(t, t.TempDir(), 0)
	nc := connect(t, s.ClientURL())
	st := createStream(t, jetStream(t, nc), natsjs.StreamConfig("EVENTS", "oms.events"))
	pub := newPublisher(t, nc, natsjs.PublisherConfig{Prefix: "oms.events", Stream: "EVENTS"})
	ctx := context.Background()

	rng := rand.New(rand.NewPCG(14, 4))
	segments := []string{"shipments", "orders", "delivered", "in_transit", "X", "x y", "a.b", "*", ">", "_", "%", ""}
	tenants := []string{"", "acme", "globex", "_", "t.1", "*"}
	pick := func(list []string) string { return list[rng.IntN(len(list))] }
	type key struct{ tenant, id string }
	type published struct {
		key
		ref string
	}
	var events []published
	for i := range 300 {
		segs := []string{pick(segments[:2])}
		for range rng.IntN(3) {
			segs = append(segs, pick(segments))
		}
		ref := strings.Join(segs, "/")
		e := shipevents.Event{
			ID: fmt.Sprintf("e%03d", i), TenantID: pick(tenants), Ref: ref, Source: segs[0], Type: "test.event",
			Version: shipevents.EnvelopeVersion, OccurredAt: baseTime,
		}
		if _, err := pub.Send(ctx, message(t, e, nil)); err != nil {
			t.Fatal(err)
		}
		events = append(events, published{key{e.TenantID, e.ID}, ref})
	}

	// Patterns are made of the same segments, "*" being the wildcard
	// (the empty segment never appears in a valid pattern): half of them
	// cut from a published ref, so that most select something.
	randomPattern := func() string {
		var segs []string
		if rng.IntN(2) == 0 {
			ref := events[rng.IntN(len(events))].ref
			segs = strings.Split(ref, "/")[:1+rng.IntN(strings.Count(ref, "/")+1)]
		} else {
			segs = make([]string, 1+rng.IntN(3))
			for i := range segs {
				segs[i] = pick(segments)
			}
		}
		for i := range segs {
			if segs[i] == "" || rng.IntN(4) == 0 {
				segs[i] = "*"
			}
		}
		return strings.Join(segs, "/")
	}
	nonEmpty := 0
	for round := range 25 {
		patterns := []string{randomPattern(), randomPattern()}
		tenant := pick(tenants)
		everyTenant, err := natsjs.Filters("oms.events", patterns[0])
		if err != nil {
			t.Fatal(err)
		}
		oneTenant, err := natsjs.TenantFilters("oms.events", tenant, patterns[1])
		if err != nil {
			t.Fatal(err)
		}
		for c, consumer := range []struct {
			filters []string
			wants   func(published) bool
		}{
			{everyTenant, func(p published) bool { return shipevents.MatchRef(patterns[0], p.ref) }},
			{oneTenant, func(p published) bool { return p.tenant == tenant && shipevents.MatchRef(patterns[1], p.ref) }},
		} {
			var want []key
			for _, p := range events {
				if consumer.wants(p) {
					want = append(want, p.key)
				}
			}
			var got []key
			for _, m := range readAll(t, st, consumer.filters...) {
				e, err := natsjs.Decode(m.header, m.data)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, key{e.TenantID, e.ID})
			}
			if len(want) > 0 {
				nonEmpty++
			}
			// The stream's order is the publish order.
			if !slices.Equal(got, want) {
				t.Errorf("round %d, consumer %d (pattern %q, filters %q): got %d events, want %d:\ngot  %v\nwant %v",
					round, c, patterns[c], consumer.filters, len(got), len(want), got, want)
			}
		}
	}

	if nonEmpty < 25 {
		t.Errorf("only %d of 50 consumers had events to receive: the patterns test little", nonEmpty)
	}

	// Several patterns in one consumer: the union, each event once.
	for _, patterns := range [][]string{
		{"shipments", "orders/delivered", "orders/in_transit/X"},
		{"orders/*", "shipments/delivered"},
		{"*", "orders"},
	} {
		filters, err := natsjs.Filters("oms.events", patterns...)
		if err != nil {
			t.Fatalf("Filters(%q): %v", patterns, err)
		}
		var want, got []key
		for _, p := range events {
			if slices.ContainsFunc(patterns, func(pat string) bool { return shipevents.MatchRef(pat, p.ref) }) {
				want = append(want, p.key)
			}
		}
		for _, m := range readAll(t, st, filters...) {
			e, err := natsjs.Decode(m.header, m.data)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, key{e.TenantID, e.ID})
		}
		if !slices.Equal(got, want) {
			t.Errorf("patterns %q (filters %q): got %d events, want %d", patterns, filters, len(got), len(want))
		}
	}
	// Overlapping patterns are refused before the server would be asked.
	if _, err := natsjs.Filters("oms.events", "orders/*/X", "*/delivered"); !errors.Is(err, natsjs.ErrOverlappingPatterns) {
		t.Errorf("overlapping patterns: %v", err)
	}
}
