package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/shipevents/shipevents"
)

var (
	timeType    = reflect.TypeFor[time.Time]()
	timePtrType = reflect.TypeFor[*time.Time]()
	dataType    = reflect.TypeFor[shipevents.EventData]()
)

// diffFields compares the exported fields of two structs of one type and
// returns a line per difference. Times compare with Equal; nil and empty
// maps and slices are equal; EventData is compared field by field.
func diffFields(prefix string, got, want reflect.Value, skip ...string) []string {
	var out []string
	t := got.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || slices.Contains(skip, f.Name) {
			continue
		}
		g, w := got.Field(i), want.Field(i)
		name := prefix + f.Name
		switch f.Type {
		case timeType:
			if !g.Interface().(time.Time).Equal(w.Interface().(time.Time)) {
				out = append(out, fmt.Sprintf("%s: got %v, want %v", name, g.Interface(), w.Interface()))
			}
			continue
		case timePtrType:
			gp, wp := g.Interface().(*time.Time), w.Interface().(*time.Time)
			if (gp == nil) != (wp == nil) || (gp != nil && !gp.Equal(*wp)) {
				out = append(out, fmt.Sprintf("%s: got %s, want %s", name, show(g), show(w)))
			}
			continue
		case dataType:
			out = append(out, diffFields(name+".", g, w)...)
			continue
		}
		if (g.Kind() == reflect.Map || g.Kind() == reflect.Slice) && g.Len() == 0 && w.Len() == 0 {
			continue
		}
		if !reflect.DeepEqual(g.Interface(), w.Interface()) {
			out = append(out, fmt.Sprintf("%s: got %s, want %s", name, show(g), show(w)))
		}
	}
	return out
}

func show(v reflect.Value) string {
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		return fmt.Sprintf("&%+v", v.Elem().Interface())
	}
	return fmt.Sprintf("%#v", v.Interface())
}

func diffEvent(got, want shipevents.Event) []string {
	return diffFields("", reflect.ValueOf(got), reflect.ValueOf(want))
}

// diffSubscription ignores CreatedAt and UpdatedAt, which a store may set.
func diffSubscription(got, want shipevents.Subscription) []string {
	return diffFields("", reflect.ValueOf(got), reflect.ValueOf(want), "CreatedAt", "UpdatedAt")
}

func (e *env) sameEvent(rule string, got, want shipevents.Event) {
	e.Helper()
	if d := diffEvent(got, want); len(d) > 0 {
		e.errorf(rule, "event %s differs:\n\t\t%s", want.ID, strings.Join(d, "\n\t\t"))
	}
}
