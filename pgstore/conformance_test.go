package pgstore_test

import (
	"testing"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/pgstore"
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

// TestConformanceEncrypted runs the conformance suite on stores that
// encrypt subscriptions.
func TestConformanceEncrypted(t *testing.T) {
	dsn := testDSN(t)
	t.Parallel()
	kr := keyring(t, newKey(t), newKey(t))
	storetest.Run(t, func(t *testing.T) shipevents.Store {
		return openStore(t, dsn, testSchema(t, dsn), pgstore.Config{Keyring: kr})
	})
}
