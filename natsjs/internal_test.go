package natsjs

import (
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/shipevents/shipevents"
)

func TestMessageID(t *testing.T) {
	plain := &shipevents.Event{ID: "evt-1"}
	if got := messageID(plain); got != "evt-1" {
		t.Errorf("without a tenant: %q, want the event id", got)
	}
	a := messageID(&shipevents.Event{ID: "evt-1", TenantID: "acme"})
	if a == "evt-1" || a != messageID(&shipevents.Event{ID: "evt-1", TenantID: "acme"}) {
		t.Errorf("with a tenant: %q, want a stable key other than the id", a)
	}
	for _, e := range []shipevents.Event{
		{ID: "evt-1", TenantID: "globex"}, {ID: "evt-2", TenantID: "acme"},
		// The parts are separated, so shifting a byte from one to the
		// other makes another key.
		{ID: "1", TenantID: "acmeevt-"}, {ID: "cmeevt-1", TenantID: "a"},
	} {
		if got := messageID(&e); got == a {
			t.Errorf("tenant %q, id %q has the key of acme's evt-1", e.TenantID, e.ID)
		}
	}
}

func TestDenialsNameTheRefusedSubject(t *testing.T) {
	d := newDenials()
	seq, wake := d.watch()
	d.observe(errPermission(`Permissions Violation for Publish to "shipevents.acme.orders.created"`))
	select {
	case <-wake:
	default:
		t.Fatal("a refusal did not wake the waiting publishes")
	}
	if !d.since("shipevents.acme.orders.created", seq) {
		t.Error("the refused subject is not recorded")
	}
	if d.since("shipevents.acme.orders.updated", seq) {
		t.Error("another subject is recorded as refused")
	}
	seq2, _ := d.watch()
	if d.since("shipevents.acme.orders.created", seq2) {
		t.Error("a refusal before the publish started counts against it")
	}
	// Other errors, and subscription refusals, are not publish refusals.
	d.observe(errPermission(`Permissions Violation for Subscription to "x"`))
	d.observe(errPlain("Permissions Violation for Publish to \"y\""))
	if d.since("x", seq2) || d.since("y", seq2) {
		t.Error("a non-publish error recorded a refusal")
	}
}

type errPlain string

func (e errPlain) Error() string { return string(e) }

func errPermission(msg string) error { return fmt.Errorf("%w: %s", nats.ErrPermissionViolation, msg) }
