package pgstore_test

import (
	"testing"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/storetest"
)

// TestConformance runs the Store conformance suite, each case on a fresh
// schema.
func TestConformance(t *testing.T) {
	dsn := testDSN(t)
	t.Parallel()
	storetest.Run(t, func(t *testing.T) shipevents.Store {
		return openStore(t, dsn, testSchema(t, dsn), pgstoreConfig())
	})
}
