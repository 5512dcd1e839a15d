package natsjs

import (
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
)

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
