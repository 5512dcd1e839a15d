package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/shipevents/shipevents"
)

func init() {
	register(&command{
		name:     "events",
		synopsis: "[filters] [-limit N] [-after CURSOR | -before CURSOR | -all] [-o table|json]",
		summary:  "list stored events, newest first",
		details: `
Events lists the stored events matching every filter given, newest first (append
order), one page at a time. The filters are those of shipevents.EventFilter. After
the page, standard error says how many events match and the flag that shows the
next page (-after CURSOR: older events) or the previous one (-before CURSOR: newer);
-all reads every page.

With -o json each line is an object with seq, late, stored_at, pending_deliveries
and event (the envelope).

Times (-since, -until) are RFC 3339, a date (midnight UTC), unix seconds, or a
duration meaning that long ago (24h).

Examples:

	shipevents events -carrier ups -tracking 1Z999AA10123456784
	shipevents events -ref 'shipments/*/DELIVERY_ATTEMPT_FAILED' -since 24h -o json
	shipevents events -tenant acme -type shipment.status_changed -limit 200 -after MTIzNA`,
		define: defineEvents,
	})
	register(&command{
		name:     "deliveries",
		synopsis: "[-state STATE] [-tenant ID] [-event ID] [-subscription ID] [-limit N] [-after CURSOR | -all] [-o table|json]",
		summary:  "list deliveries by state, event or subscription",
		details: `
Deliveries lists the deliveries matching every filter given, oldest first (creation
order): one row per event and subscription, with its state (pending, in_flight,
succeeded, dead), the attempts made, and the last error. After the page, standard
error says how many match and the flag that shows the next page (-after CURSOR);
-all reads every page.

An event is known by its tenant and id together: -event names the event without a
tenant, and with -tenant that tenant's event; -tenant alone selects the deliveries
of every event of the tenant.

Examples:

	shipevents deliveries -state pending -subscription oms
	shipevents deliveries -tenant acme -event 6f1c0e0a-4b0e-5d3a-9a57-1b8f0c2d3e4f -o json`,
		define: func(fs *flag.FlagSet) runFunc { return defineDeliveries(fs, "") },
	})
	register(&command{
		name:     "dead-letters",
		synopsis: "[-tenant ID] [-event ID] [-subscription ID] [-limit N] [-after CURSOR | -all] [-o table|json]",
		summary:  "list dead letters (deliveries that gave up)",
		details: `
Dead-letters lists the dead deliveries (retries exhausted, or a failure no retry
can fix), oldest first, with their last error: deliveries -state dead. Send them
again with shipevents replay once the endpoint is fixed. The filters are those of
shipevents deliveries.

Examples:

	shipevents dead-letters
	shipevents dead-letters -subscription oms -all -o json`,
		define: func(fs *flag.FlagSet) runFunc { return defineDeliveries(fs, shipevents.DeliveryDead) },
	})
	register(&command{
		name:     "replay",
		synopsis: "(-delivery ID | -event ID [-tenant ID] | -subscription ID) [-dsn DSN] [-schema NAME]",
		summary:  "send a delivery, an event or dead letters again",
		details: `
Replay makes deliveries pending again, due now, whatever their state: one delivery
(-delivery), every delivery of an event (-event, with -tenant for a tenant's event:
an event is known by its tenant and id together, and another tenant's event with
the same id is left alone), or every dead letter of a subscription
(-subscription). Their attempt history is kept and receivers see the same
webhook-id as before. The dispatchers running on the database send them at their
next poll. It prints how many deliveries it requeued; an unknown delivery or event
exits 1.

Examples:

	shipevents replay -delivery 0c7d2f6e-1a2b-5c3d-8e4f-5a6b7c8d9e0f
	shipevents replay -event 6f1c0e0a-4b0e-5d3a-9a57-1b8f0c2d3e4f -tenant acme
	shipevents replay -subscription oms`,
		define: defineReplay,
	})
}

// pageFlags are the paging flags of the list commands.
type pageFlags struct {
	limit *int
	after *string
	all   *bool
}

func definePage(fs *flag.FlagSet) pageFlags {
	return pageFlags{
		limit: fs.Int("limit", shipevents.DefaultPageSize, "the page size, at most "+strconv.Itoa(shipevents.MaxPageSize)),
		after: fs.String("after", "", "continue after this `cursor` (the end_cursor of the previous page)"),
		all:   fs.Bool("all", false, "read every page"),
	}
}

func (p pageFlags) check() error {
	if *p.limit <= 0 || *p.limit > shipevents.MaxPageSize {
		return usageError("-limit %d: want 1 to %d", *p.limit, shipevents.MaxPageSize)
	}
	if *p.all && *p.after != "" {
		return usageError("-all reads from the first page: give it without -after")
	}
	return nil
}

// footer tells the reader, on standard error, where the page sits.
func footer(w io.Writer, noun string, shown int, info shipevents.PageInfo, all bool, prevFlag string) {
	about := ""
	if info.CountEstimated { // past MaxExactCount the store may estimate
		about = "about "
	}
	fmt.Fprintf(w, "%d of %s%d %s", shown, about, info.Count, noun)
	if !all {
		if info.HasNextPage {
			fmt.Fprintf(w, "; next page: -after %s", info.EndCursor)
		}
		if info.HasPreviousPage && prevFlag != "" {
			fmt.Fprintf(w, "; previous page: %s %s", prevFlag, info.StartCursor)
		}
	}
	fmt.Fprintln(w)
}

// storedEventLine is the JSON line of a stored event.
type storedEventLine struct {
	Seq               int64            `json:"seq"`
	Late              bool             `json:"late"`
	StoredAt          time.Time        `json:"stored_at"`
	PendingDeliveries int              `json:"pending_deliveries"`
	Event             shipevents.Event `json:"event"`
}

func defineEvents(fs *flag.FlagSet) runFunc {
	dbf := defineDB(fs)
	var types listFlag
	fs.Var(&types, "type", "only events of this `type` (tracking.updated, shipment.status_changed, ...); repeat or separate with commas for several")
	ref := fs.String("ref", "", "only events whose ref matches this `pattern` (shipments/delivered, shipments/*/DELIVERY_ATTEMPT_FAILED)")
	tenant := fs.String("tenant", "", "only events of this tenant `id`")
	carrier := fs.String("carrier", "", "only events of this carrier `slug` (ups, fedex, dhl, ...)")
	tracking := fs.String("tracking", "", "only events of this tracking `number`")
	correlation := fs.String("correlation", "", "only events with this correlation `id`")
	since := &timeFlag{now: time.Now}
	fs.Var(since, "since", "only events that occurred at or after this `time`")
	until := &timeFlag{now: time.Now}
	fs.Var(until, "until", "only events that occurred before this `time`")
	before := fs.String("before", "", "go back to newer events, before this `cursor` (the start_cursor of the previous page)")
	page := definePage(fs)
	output := outputFlag(fs)
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) > 0 {
			return usageError("unexpected argument %q", args[0])
		}
		if err := page.check(); err != nil {
			return err
		}
		if err := checkOutput(*output); err != nil {
			return err
		}
		if *before != "" && (*page.after != "" || *page.all) {
			return usageError("-before goes one way, -after and -all the other: give one")
		}
		if *ref != "" {
			if err := shipevents.ValidatePattern(*ref); err != nil {
				return usageError("-ref: %v", err)
			}
		}
		f := shipevents.EventFilter{
			Types: types, RefPattern: *ref, TenantID: *tenant, Carrier: *carrier, TrackingNumber: *tracking,
			CorrelationID: *correlation, OccurredAfter: since.t, OccurredBefore: until.t,
			After: *page.after, Before: *before, Limit: *page.limit,
		}
		db, err := dbf.open(ctx, e, true)
		if err != nil {
			return err
		}
		defer db.close()
		d := shipevents.NewDispatcher(shipevents.DispatcherConfig{Store: db.store})

		var lines *lineWriter
		var tab *table
		if *output == "json" {
			lines = newLineWriter(e.stdout)
		} else {
			tab = newTable(e.stdout, "OCCURRED_AT", "ID", "TYPE", "REF", "CARRIER", "TRACKING", "TENANT", "LATE", "PENDING")
		}
		shown := 0
		var info shipevents.PageInfo
		for {
			p, err := d.Events(ctx, f)
			if err != nil {
				return db.fail(err)
			}
			for _, se := range p.Items {
				if lines != nil {
					if err := lines.write(storedEventLine{Seq: se.Seq, Late: se.Late, StoredAt: se.StoredAt,
						PendingDeliveries: se.PendingDeliveries, Event: se.Event}); err != nil {
						return failure(err)
					}
					continue
				}
				ev := &se.Event
				late := ""
				if se.Late {
					late = "late"
				}
				tab.row(formatTime(ev.OccurredAt), ev.ID, ev.Type, ev.Ref, ev.Carrier, ev.TrackingNumber, ev.TenantID,
					late, strconv.Itoa(se.PendingDeliveries))
			}
			shown += len(p.Items)
			info = p.PageInfo
			if !*page.all || !p.PageInfo.HasNextPage {
				break
			}
			f.After = p.PageInfo.EndCursor
		}
		if err := flushOutput(lines, tab); err != nil {
			return err
		}
		footer(e.stderr, "events", shown, info, *page.all, "-before")
		return nil
	}
}

func flushOutput(lines *lineWriter, tab *table) error {
	var err error
	if lines != nil {
		err = lines.flush()
	} else {
		err = tab.flush()
	}
	if err != nil {
		return failure(fmt.Errorf("write: %w", err))
	}
	return nil
}

// deliveryLine is the JSON line of a delivery.
type deliveryLine struct {
	ID             string                   `json:"id"`
	TenantID       string                   `json:"tenant_id,omitempty"`
	EventID        string                   `json:"event_id"`
	SubscriptionID string                   `json:"subscription_id"`
	State          shipevents.DeliveryState `json:"state"`
	Attempts       int                      `json:"attempts"`
	NextAttemptAt  time.Time                `json:"next_attempt_at"`
	CreatedAt      time.Time                `json:"created_at"`
	UpdatedAt      time.Time                `json:"updated_at"`
	LastError      string                   `json:"last_error,omitempty"`
	LastStatusCode int                      `json:"last_status_code,omitempty"`
	LeaseExpiresAt time.Time                `json:"lease_expires_at,omitzero"`
}

var deliveryStates = []shipevents.DeliveryState{shipevents.DeliveryPending, shipevents.DeliveryInFlight,
	shipevents.DeliverySucceeded, shipevents.DeliveryDead}

// defineDeliveries defines deliveries, or, with a fixed state,
// dead-letters.
func defineDeliveries(fs *flag.FlagSet, fixed shipevents.DeliveryState) runFunc {
	dbf := defineDB(fs)
	state := new(string)
	if fixed == "" {
		state = fs.String("state", "", "only deliveries in this `state`: pending, in_flight, succeeded or dead")
	}
	tenant := fs.String("tenant", "", "only the deliveries of the events of this tenant `id`; with -event, of that tenant's event")
	event := fs.String("event", "", "only the deliveries of the event with this `id` (and the tenant of -tenant, none without it)")
	sub := fs.String("subscription", "", "only the deliveries to this subscription `id`")
	page := definePage(fs)
	output := outputFlag(fs)
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) > 0 {
			return usageError("unexpected argument %q", args[0])
		}
		if err := page.check(); err != nil {
			return err
		}
		if err := checkOutput(*output); err != nil {
			return err
		}
		st := shipevents.DeliveryState(*state)
		if fixed != "" {
			st = fixed
		}
		if st != "" && !isState(st) {
			return usageError("-state %q: want pending, in_flight, succeeded or dead", st)
		}
		f := shipevents.DeliveryFilter{TenantID: *tenant, EventID: *event, SubscriptionID: *sub, State: st,
			After: *page.after, Limit: *page.limit}
		db, err := dbf.open(ctx, e, true)
		if err != nil {
			return err
		}
		defer db.close()
		d := shipevents.NewDispatcher(shipevents.DispatcherConfig{Store: db.store})

		var lines *lineWriter
		var tab *table
		if *output == "json" {
			lines = newLineWriter(e.stdout)
		} else {
			tab = newTable(e.stdout, "ID", "TENANT", "EVENT", "SUBSCRIPTION", "STATE", "ATTEMPTS", "NEXT_ATTEMPT_AT", "UPDATED_AT", "LAST_STATUS", "LAST_ERROR")
		}
		shown := 0
		var info shipevents.PageInfo
		for {
			p, err := d.Deliveries(ctx, f)
			if err != nil {
				return db.fail(err)
			}
			for _, del := range p.Items {
				if lines != nil {
					if err := lines.write(deliveryLine{ID: del.ID, TenantID: del.TenantID, EventID: del.EventID, SubscriptionID: del.SubscriptionID,
						State: del.State, Attempts: del.Attempts, NextAttemptAt: del.NextAttemptAt, CreatedAt: del.CreatedAt,
						UpdatedAt: del.UpdatedAt, LastError: del.LastError, LastStatusCode: del.LastStatusCode,
						LeaseExpiresAt: del.LeaseExpiresAt}); err != nil {
						return failure(err)
					}
					continue
				}
				next, code := formatTime(del.NextAttemptAt), ""
				if del.State == shipevents.DeliverySucceeded || del.State == shipevents.DeliveryDead {
					next = "-"
				}
				if del.LastStatusCode != 0 {
					code = strconv.Itoa(del.LastStatusCode)
				}
				tab.row(del.ID, del.TenantID, del.EventID, del.SubscriptionID, string(del.State), strconv.Itoa(del.Attempts), next,
					formatTime(del.UpdatedAt), code, del.LastError)
			}
			shown += len(p.Items)
			info = p.PageInfo
			if !*page.all || !p.PageInfo.HasNextPage {
				break
			}
			f.After = p.PageInfo.EndCursor
		}
		if err := flushOutput(lines, tab); err != nil {
			return err
		}
		noun := "deliveries"
		if fixed == shipevents.DeliveryDead {
			noun = "dead letters"
		}
		footer(e.stderr, noun, shown, info, *page.all, "")
		return nil
	}
}

func isState(s shipevents.DeliveryState) bool {
	for _, st := range deliveryStates {
		if s == st {
			return true
		}
	}
	return false
}

func defineReplay(fs *flag.FlagSet) runFunc {
	dbf := defineDB(fs)
	delivery := fs.String("delivery", "", "replay this delivery `id`")
	event := fs.String("event", "", "replay every delivery of the event with this `id`")
	tenant := fs.String("tenant", "", "the tenant `id` of the -event; empty for an event without a tenant")
	sub := fs.String("subscription", "", "replay every dead letter of this subscription `id`")
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) > 0 {
			return usageError("unexpected argument %q", args[0])
		}
		given := 0
		for _, v := range []string{*delivery, *event, *sub} {
			if v != "" {
				given++
			}
		}
		if given != 1 {
			return usageError("give one of -delivery, -event and -subscription")
		}
		if *tenant != "" && *event == "" {
			return usageError("-tenant names the tenant of an -event: a delivery id is unique across tenants, and -subscription replays the dead letters of every tenant")
		}
		db, err := dbf.open(ctx, e, true)
		if err != nil {
			return err
		}
		defer db.close()
		d := shipevents.NewDispatcher(shipevents.DispatcherConfig{Store: db.store})
		var n int
		var what string
		switch {
		case *delivery != "":
			err = d.ReplayDelivery(ctx, *delivery)
			n, what = 1, "delivery "+*delivery
		case *event != "":
			key := shipevents.EventKey{TenantID: *tenant, ID: *event}
			n, err = d.ReplayEvent(ctx, key)
			what = "the deliveries of event " + key.String()
		default:
			n, err = d.ReplayDeadLetters(ctx, *sub)
			what = "the dead letters of subscription " + *sub
		}
		if err != nil {
			return db.fail(err)
		}
		fmt.Fprintf(e.stdout, "requeued %d %s (%s)\n", n, plural(n, "delivery", "deliveries"), sanitize(what))
		return nil
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
