package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/shipevents/shipevents"
)

// Tail is where the live tail reads events published since a point.
type Tail interface {
	// Next waits until events matching f newer than cursor exist, or ctx
	// ends, and returns them oldest first (at most a page) with the
	// cursor to pass next time. An empty cursor means from now: the call
	// returns no events and the cursor of the newest one.
	Next(ctx context.Context, f shipevents.EventFilter, cursor string) ([]shipevents.StoredEvent, string, error)
}

// PollingTail is the default Tail: it asks Dispatcher.Events for the
// page just newer than the cursor, every Interval until there is one. It
// works with every Store; a store that can push new events serves a
// Tail of its own better.
type PollingTail struct {
	Dispatcher *shipevents.Dispatcher
	Interval   time.Duration
}

// tailPage is how many events one step of the tail reads.
const tailPage = 100

// Next implements Tail.
func (t *PollingTail) Next(ctx context.Context, f shipevents.EventFilter, cursor string) ([]shipevents.StoredEvent, string, error) {
	f.After, f.Offset, f.Limit = "", 0, tailPage
	if cursor == "" {
		f.Limit = 1
		page, err := t.Dispatcher.Events(ctx, f)
		if err != nil || len(page.Items) == 0 {
			// No event yet: the cursor before every event.
			return nil, shipevents.EncodeCursor(0), err
		}
		return nil, page.PageInfo.StartCursor, nil
	}
	f.Before = cursor
	tick := time.NewTicker(t.Interval)
	defer tick.Stop()
	for {
		page, err := t.Dispatcher.Events(ctx, f) // the page just newer than the cursor
		if err != nil {
			return nil, cursor, err
		}
		if len(page.Items) > 0 {
			slices.Reverse(page.Items)
			return page.Items, page.PageInfo.StartCursor, nil
		}
		select {
		case <-ctx.Done():
			return nil, cursor, ctx.Err()
		case <-tick.C:
		}
	}
}

// tailParams are the parameters of GET /api/tail: the event search's
// filters (paging aside) and the cursor to resume from.
var tailParams = []string{"type", "ref", "tenant", "carrier", "tracking_number", "correlation_id", "transaction_id",
	"event_group", "status", "metadata_key", "metadata_value", "test_mode", "cursor"}

// tailEvent is one Server-Sent Event of the tail.
type tailEvent struct {
	Event    shipevents.Event `json:"event"`
	Late     bool             `json:"late"`
	StoredAt time.Time        `json:"stored_at"`
}

// heartbeat keeps idle tail connections open through proxies.
const heartbeat = 15 * time.Second

// serveTail streams new events as Server-Sent Events: each batch's last
// event carries the cursor as its id, so a reconnecting EventSource
// resumes after it (Last-Event-ID).
func (c *Console) serveTail(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := &params{q: q}
	p.only(tailParams)
	cursor := p.one("cursor")
	if err := p.problem(); err != nil {
		writeProblem(w, r, c.problemOf(r, err))
		return
	}
	q.Del("cursor")
	f, err := eventFilter(principalOf(r), q)
	if err != nil {
		writeProblem(w, r, c.problemOf(r, err))
		return
	}
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		cursor = id
	}
	if cursor != "" {
		if _, err := shipevents.DecodeCursor(cursor); err != nil {
			writeProblem(w, r, badParams(invalidParam{"cursor", "not a cursor of this tail"}))
			return
		}
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a tail runs for as long as it is watched
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	ctx := r.Context()
	if cursor == "" {
		_, cursor, err = c.tail.Next(ctx, f, "")
		if err != nil {
			return
		}
	}
	fmt.Fprintf(w, "retry: 1000\n: tail from %s\n\n", cursor)
	if rc.Flush() != nil {
		return
	}
	for ctx.Err() == nil {
		wait, cancel := context.WithTimeout(ctx, heartbeat)
		events, next, err := c.tail.Next(wait, f, cursor)
		cancel()
		if err != nil && ctx.Err() == nil && wait.Err() == nil {
			c.log.Warn("console: live tail", "error", err)
			return
		}
		for i, se := range events {
			b, err := json.Marshal(tailEvent{Event: se.Event, Late: se.Late, StoredAt: se.StoredAt})
			if err != nil {
				continue
			}
			if i == len(events)-1 {
				fmt.Fprintf(w, "id: %s\n", next)
			}
			fmt.Fprintf(w, "event: event\ndata: %s\n\n", b)
		}
		if len(events) == 0 {
			fmt.Fprint(w, ": idle\n\n")
		}
		cursor = next
		if rc.Flush() != nil {
			return
		}
	}
}
