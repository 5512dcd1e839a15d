package storetest

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/shipevents/shipevents"
)

// attemptCases check the outcomes RecordAttempts records.
var attemptCases = []testCase{
	{"OutcomeSucceeded", withSource("DeliveryQueue.RecordAttempts: OutcomeSucceeded moves the delivery to succeeded and appends the attempt"), testOutcomeSucceeded},
	{"OutcomeRetry", withSource("DeliveryQueue.RecordAttempts: OutcomeRetry makes the delivery pending again at NextAttemptAt and appends the attempt"), testOutcomeRetry},
	{"OutcomeDead", withSource("DeliveryQueue.RecordAttempts: OutcomeDead moves the delivery to dead (dead letter) and appends the attempt"), testOutcomeDead},
	{"OutcomeReleased", withSource("DeliveryQueue.RecordAttempts: OutcomeReleased makes the delivery pending at NextAttemptAt with no attempt counted"), testOutcomeReleased},
	{"PendingDeliveriesCount", withSource("StoredEvent.PendingDeliveries counts the event's deliveries not yet succeeded or dead"), testPendingDeliveriesCount},
}

func (e *env) checkAttempt(rule string, got, want shipevents.Attempt) {
	e.Helper()
	if d := diffFields("", reflect.ValueOf(got), reflect.ValueOf(want)); len(d) > 0 {
		e.errorf(rule, "attempt differs:\n\t\t%s", strings.Join(d, "\n\t\t"))
	}
}

func testOutcomeSucceeded(e *env) {
	ev, ids := e.seed(base)
	c := e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")
	rec := succeed(c)
	if errs := e.record(rec); errs[0] != nil {
		e.fatalf("recording with the current lease succeeds", "got %v", errs[0])
	}
	d := e.delivery(ids[0])
	e.checkState("OutcomeSucceeded moves the delivery to succeeded and counts the attempt", d, shipevents.DeliverySucceeded, 1)
	if d.LastStatusCode != rec.Attempt.StatusCode || d.LastError != "" {
		e.errorf("Delivery.LastStatusCode and LastError are the last attempt's", "LastStatusCode %d, LastError %q; want %d, \"\"", d.LastStatusCode, d.LastError, rec.Attempt.StatusCode)
	}
	as := e.attempts(ids[0])
	if len(as) != 1 {
		e.fatalf("the attempt is appended to the delivery's history", "ListAttempts has %d attempts, want 1", len(as))
	}
	e.checkAttempt("ListAttempts returns the attempt as recorded", as[0], rec.Attempt)
	if cl := e.claim(at(24*time.Hour), 10); len(cl) != 0 {
		e.errorf("a succeeded delivery is never claimed again", "claimed %v", claimIDs(cl))
	}
	if got := e.getEvent(ev.Key()).PendingDeliveries; got != 0 {
		e.errorf("StoredEvent.PendingDeliveries does not count succeeded deliveries", "got %d, want 0", got)
	}
}

func testOutcomeRetry(e *env) {
	_, ids := e.seed(base)
	c := e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")
	next := at(5 * time.Minute)
	rec := attemptRecord(c, shipevents.OutcomeRetry, next, 503, "503 Service Unavailable")
	if errs := e.record(rec); errs[0] != nil {
		e.fatalf("recording with the current lease succeeds", "got %v", errs[0])
	}
	d := e.delivery(ids[0])
	e.checkState("OutcomeRetry makes the delivery pending again and counts the attempt", d, shipevents.DeliveryPending, 1)
	if !d.NextAttemptAt.Equal(next) {
		e.errorf("OutcomeRetry makes the delivery pending again at NextAttemptAt", "NextAttemptAt = %s, want %s", d.NextAttemptAt, next)
	}
	if d.LastStatusCode != 503 || d.LastError != rec.Attempt.Error {
		e.errorf("Delivery.LastStatusCode and LastError are the last attempt's", "LastStatusCode %d, LastError %q; want 503, %q", d.LastStatusCode, d.LastError, rec.Attempt.Error)
	}
	if cl := e.claim(next.Add(-time.Second), 10); len(cl) != 0 {
		e.errorf("a retried delivery is not claimed before its NextAttemptAt", "claimed %v one second early", claimIDs(cl))
	}
	c2 := e.claimOne(next, ids[0], "a retried delivery is claimed at its NextAttemptAt")
	if c2.Delivery.Attempts != 1 {
		e.errorf("a claimed delivery carries its attempts so far", "Claim.Delivery.Attempts = %d, want 1", c2.Delivery.Attempts)
	}
	rec2 := attemptRecord(c2, shipevents.OutcomeRetry, at(time.Hour), 0, "dial tcp: connection refused")
	if errs := e.record(rec2); errs[0] != nil {
		e.fatalf("recording with the current lease succeeds", "got %v", errs[0])
	}
	e.checkState("OutcomeRetry counts the attempt", e.delivery(ids[0]), shipevents.DeliveryPending, 2)
	as := e.attempts(ids[0])
	if len(as) != 2 {
		e.fatalf("each attempt is appended to the delivery's history", "ListAttempts has %d attempts, want 2", len(as))
	}
	e.checkAttempt("ListAttempts returns every attempt, oldest first", as[0], rec.Attempt)
	e.checkAttempt("ListAttempts returns every attempt, oldest first", as[1], rec2.Attempt)
}

func testOutcomeDead(e *env) {
	ev, ids := e.seed(base, at(time.Hour))
	c := e.claimOne(base, ids[0], "ClaimDeliveries leases due pending deliveries only")
	rec := attemptRecord(c, shipevents.OutcomeDead, time.Time{}, 400, "400 Bad Request")
	if errs := e.record(rec); errs[0] != nil {
		e.fatalf("recording with the current lease succeeds", "got %v", errs[0])
	}
	d := e.delivery(ids[0])
	e.checkState("OutcomeDead moves the delivery to dead and counts the attempt", d, shipevents.DeliveryDead, 1)
	if d.LastStatusCode != 400 || d.LastError != rec.Attempt.Error {
		e.errorf("Delivery.LastStatusCode and LastError are the last attempt's", "LastStatusCode %d, LastError %q; want 400, %q", d.LastStatusCode, d.LastError, rec.Attempt.Error)
	}
	dead := e.listDeliveries(shipevents.DeliveryFilter{State: shipevents.DeliveryDead})
	if got := deliveryIDs(dead.Items); !slices.Equal(got, ids[:1]) || dead.PageInfo.Count != 1 {
		e.errorf("a dead delivery is listed by ListDeliveries{State: dead}, and only dead ones are", "got %v (Count %d), want %v", got, dead.PageInfo.Count, ids[:1])
	}
	if as := e.attempts(ids[0]); len(as) != 1 {
		e.errorf("the attempt is appended to the delivery's history", "ListAttempts has %d attempts, want 1", len(as))
	} else {
		e.checkAttempt("ListAttempts returns the attempt as recorded", as[0], rec.Attempt)
	}
	if got := claimIDs(e.claim(at(24*time.Hour), 10)); !slices.Equal(got, ids[1:]) {
		e.errorf("a dead delivery is never claimed again", "claim a day later got %v, want only %v", got, ids[1:])
	}
	if got := e.getEvent(ev.Key()).PendingDeliveries; got != 1 {
		e.errorf("StoredEvent.PendingDeliveries does not count dead deliveries", "got %d, want 1", got)
	}
}

func testOutcomeReleased(e *env) {
	_, ids := e.seed(base)
	c := e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")
	next := at(10 * time.Second)
	rec := attemptRecord(c, shipevents.OutcomeReleased, next, 500, "must be ignored")
	if errs := e.record(rec); errs[0] != nil {
		e.fatalf("recording with the current lease succeeds", "got %v", errs[0])
	}
	d := e.delivery(ids[0])
	e.checkState("OutcomeReleased makes the delivery pending with no attempt counted", d, shipevents.DeliveryPending, 0)
	if !d.NextAttemptAt.Equal(next) {
		e.errorf("OutcomeReleased makes the delivery pending at NextAttemptAt", "NextAttemptAt = %s, want %s", d.NextAttemptAt, next)
	}
	if as := e.attempts(ids[0]); len(as) != 0 {
		e.errorf("OutcomeReleased records no attempt (Attempt is ignored)", "ListAttempts has %d attempts, want 0", len(as))
	}
	if cl := e.claim(next.Add(-time.Second), 10); len(cl) != 0 {
		e.errorf("a released delivery is not claimed before its NextAttemptAt", "claimed %v one second early", claimIDs(cl))
	}
	c2 := e.claimOne(next, ids[0], "a released delivery is claimed again at its NextAttemptAt (before its old lease would have expired)")
	if c2.Lease.Token == c.Lease.Token {
		e.errorf("a delivery claimed again gets a new lease token", "both claims got token %q", c.Lease.Token)
	}
}

func testPendingDeliveriesCount(e *env) {
	ev, _ := e.seed(base, base, base, base)
	cl := e.claim(base, 3)
	if len(cl) != 3 {
		e.fatalf("ClaimDeliveries leases up to req.Limit due deliveries", "claimed %d, want 3", len(cl))
	}
	if got := e.getEvent(ev.Key()).PendingDeliveries; got != 4 {
		e.errorf("StoredEvent.PendingDeliveries counts deliveries not yet succeeded or dead (in flight ones included)", "got %d, want 4", got)
	}
	errs := e.record(
		succeed(cl[0]),
		attemptRecord(cl[1], shipevents.OutcomeDead, time.Time{}, 410, "410 Gone"),
		attemptRecord(cl[2], shipevents.OutcomeRetry, at(time.Minute), 500, "500"),
	)
	e.noErr(errors.Join(errs...), "RecordAttempts with held leases")
	if got := e.getEvent(ev.Key()).PendingDeliveries; got != 2 {
		e.errorf("StoredEvent.PendingDeliveries counts deliveries not yet succeeded or dead", "after succeeded, dead, retry of 3 of 4: got %d, want 2", got)
	}
	if p := e.listEvents(shipevents.EventFilter{}); len(p.Items) != 1 || p.Items[0].PendingDeliveries != 2 {
		e.errorf("StoredEvent.PendingDeliveries counts deliveries not yet succeeded or dead", "ListEvents disagrees with GetEvent (want 2)")
	}
}
