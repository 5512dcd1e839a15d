package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestRun runs the example against the test database.
func TestRun(t *testing.T) {
	dsn := os.Getenv("SHIPEVENTS_PG_DSN")
	if dsn == "" {
		t.Skip("SHIPEVENTS_PG_DSN is not set: skipping the PostgreSQL example")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, dsn, ""); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	for _, want := range []string{"duplicates, nothing created", "subscription crm", "0 more than once", "shipment shop-a/", "shipment shop-b/", "dropped schema"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
