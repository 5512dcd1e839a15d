package pgstore

import (
	"regexp"
	"slices"
	"testing"
)

// TestScopedSettingsCoverTheAppend: every setting the append's
// statements change for themselves is one AppendEventsTx puts back, so a
// host's transaction goes on with its own.
func TestScopedSettingsCoverTheAppend(t *testing.T) {
	set := regexp.MustCompile(`set_config\('([a-z_]+)'`)
	changed := []string{"search_path"} // hostScope.open, with Config.Schema
	for _, q := range []string{sqlByIDPlan, sqlLockShipments, sqlInsertEvents, sqlShipmentStates, sqlMarkLate,
		sqlInsertStates, sqlUpdateStates, sqlInsertDeliveries} {
		for _, m := range set.FindAllStringSubmatch(q, -1) {
			changed = append(changed, m[1])
		}
	}
	if len(changed) < 2 {
		t.Fatalf("found %v: the pattern no longer reads the statements", changed)
	}
	for _, name := range changed {
		if !slices.Contains(scopedSettings, name) {
			t.Errorf("the append sets %s, which AppendEventsTx does not put back", name)
		}
	}
}
