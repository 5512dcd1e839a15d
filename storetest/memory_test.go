package storetest_test

import (
	"testing"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/storetest"
)

// TestMemoryStore runs the conformance suite on the embedded reference
// store.
func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) shipevents.Store {
		return shipevents.NewMemoryStore(shipevents.MemoryStoreConfig{})
	})
}
