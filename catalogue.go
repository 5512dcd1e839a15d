package shipevents

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"slices"
	"strings"
)

//go:embed data/catalogue.tsv
var catalogueTSV []byte

// EventName describes one entry of the event-name catalogue: the detailed
// thing that happened, the canonical status it implies and its notification
// group in each direction.
type EventName struct {
	Name        string
	Status      Status
	Forward     string // event_group on a merchant_customer shipment
	Return      string // event_group on a customer_merchant shipment
	Description string
	ref         string // shipments/{phase}/{name}, computed once
}

// Group returns the event group of the name for the given direction; an
// empty or unknown direction counts as forward.
func (n EventName) Group(d Direction) string {
	if d == DirectionReturn {
		return n.Return
	}
	return n.Forward
}

var catalogue, catalogueOrder = mustParseCatalogue(catalogueTSV)

func mustParseCatalogue(data []byte) (map[string]EventName, []string) {
	m, order, err := parseCatalogue(data)
	if err != nil {
		panic("shipevents: embedded catalogue: " + err.Error())
	}
	return m, order
}

func parseCatalogue(data []byte) (map[string]EventName, []string, error) {
	m := make(map[string]EventName)
	var order []string
	err := forEachTSVRow(data, 5, 5, func(line int, f []string) error {
		n := EventName{Name: f[0], Status: Status(f[1]), Forward: f[2], Return: f[3], Description: f[4]}
		if !n.Status.Valid() {
			return fmt.Errorf("line %d: %s: unknown status %q", line, n.Name, n.Status)
		}
		if _, dup := m[n.Name]; dup {
			return fmt.Errorf("line %d: duplicate event name %s", line, n.Name)
		}
		n.ref = ShipmentRef(n.Status.Phase(), n.Name)
		m[n.Name] = n
		order = append(order, n.Name)
		return nil
	})
	return m, order, err
}

// forEachTSVRow calls fn for each row of a tab-separated table, skipping
// blank lines and '#' comments, after checking the number of fields.
func forEachTSVRow(data []byte, minFields, maxFields int, fn func(line int, fields []string) error) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Split(text, "\t")
		if len(f) < minFields || len(f) > maxFields {
			return fmt.Errorf("line %d: %d tab-separated fields, want %d to %d", line, len(f), minFields, maxFields)
		}
		if err := fn(line, f); err != nil {
			return err
		}
	}
	return sc.Err()
}

// LookupEventName returns the catalogue entry for name.
func LookupEventName(name string) (EventName, bool) {
	n, ok := catalogue[name]
	return n, ok
}

// EventNames returns the whole catalogue in its documented order. The caller
// owns the returned slice.
func EventNames() []EventName {
	out := make([]EventName, 0, len(catalogueOrder))
	for _, name := range catalogueOrder {
		out = append(out, catalogue[name])
	}
	return out
}

// EventGroups returns every event group an event can have, sorted: those
// of the event names in each direction and those of the record events
// ([Actions]).
func EventGroups() []string { return sortedKeys(eventGroupSet) }

// EventTypes returns every event type the library's events have, sorted:
// the Type constants and the types of the record events ([Actions]).
func EventTypes() []string { return sortedKeys(eventTypeSet) }

// eventGroupSet and eventTypeSet hold what EventGroups and EventTypes
// list; Subscription.Validate refuses filters outside them.
var eventGroupSet, eventTypeSet = func() (groups, types map[string]bool) {
	groups, types = map[string]bool{}, map[string]bool{}
	for _, n := range catalogue {
		groups[n.Forward] = true
		groups[n.Return] = true
	}
	for _, a := range actions {
		groups[a.Group] = true
		types[a.Type] = true
	}
	for _, t := range []string{
		TypeTrackingUpdated, TypeShipmentCreated, TypeShipmentUpdated, TypeShipmentDeleted, TypeShipmentCancelled,
		TypeShipmentStatus, TypeShipmentItems, TypeOrderCreated, TypeOrderUpdated, TypeOrderFulfilled,
		TypeReturnCreated, TypeReturnUpdated, TypeClaimCreated, TypeClaimUpdated, TypeClaimResolved,
		TypeWebhookDelivered, TypeWebhookFailed, TypeWebhookDisabled,
	} {
		types[t] = true
	}
	return groups, types
}()

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// defaultEventName is the event name used for a status when a mapping only
// knows the status.
var defaultEventName = map[Status]string{
	StatusBooked:             "LABEL_CREATED",
	StatusReadyToShip:        "READY_TO_SHIP",
	StatusPickedUp:           "PICKED_UP",
	StatusInTransit:          "IN_TRANSIT",
	StatusOnHold:             "HELD_BY_CARRIER",
	StatusOutForDelivery:     "OUT_FOR_DELIVERY",
	StatusAvailableForPickup: "AVAILABLE_FOR_PICKUP",
	StatusDelivered:          "SUCCESSFULLY_DELIVERED",
	StatusFailedDelivery:     "DELIVERY_ATTEMPT_FAILED",
	StatusReturned:           "RETURNING_TO_SENDER",
	StatusCancelled:          "SHIPMENT_CANCELLED",
	StatusError:              "CARRIER_EXCEPTION",
	StatusUnknown:            "UNMAPPED_STATUS",
}

// DefaultEventName returns the generic event name for a status (for example
// SUCCESSFULLY_DELIVERED for DELIVERED), used when only the status is known.
func DefaultEventName(s Status) string { return defaultEventName[s] }

//go:embed data/actions.tsv
var actionsTSV []byte

// Action describes a record event: something that happens to an entity
// (an order update, a claim, a delivery of this library's) without moving
// a shipment milestone. Its ref is {source}/{action}.
type Action struct {
	Ref         string
	Type        string
	EventName   string
	Group       string
	Description string
}

// Source returns the first segment of the action's ref.
func (a Action) Source() string {
	src, _, _ := strings.Cut(a.Ref, "/")
	return src
}

var actions, actionOrder = mustParseActions(actionsTSV)

func mustParseActions(data []byte) (map[string]Action, []string) {
	m := map[string]Action{}
	var order []string
	err := forEachTSVRow(data, 5, 5, func(line int, f []string) error {
		if _, dup := m[f[0]]; dup {
			return fmt.Errorf("line %d: duplicate ref %s", line, f[0])
		}
		m[f[0]] = Action{Ref: f[0], Type: f[1], EventName: f[2], Group: f[3], Description: f[4]}
		order = append(order, f[0])
		return nil
	})
	if err != nil {
		panic("shipevents: embedded actions: " + err.Error())
	}
	return m, order
}

// LookupAction returns the record event with the given ref.
func LookupAction(ref string) (Action, bool) {
	a, ok := actions[ref]
	return a, ok
}

// Actions returns every record event in documented order.
func Actions() []Action {
	out := make([]Action, 0, len(actionOrder))
	for _, r := range actionOrder {
		out = append(out, actions[r])
	}
	return out
}
