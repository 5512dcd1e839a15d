package pgstore_test

import (
	"context"
	"log"
	"time"

	"github.com/shipevents/shipevents/pgstore"
)

// A host purges old, fully delivered events from a goroutine, keeping dead
// letters three times longer than the rest.
func ExampleStore_Purge() {
	ctx := context.Background()
	s, err := pgstore.Open(ctx, "postgres://localhost/shipevents", pgstore.Config{Schema: "shipevents"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for range tick.C {
		now := time.Now()
		res, err := s.Purge(ctx, now.AddDate(0, 0, -30), pgstore.PurgeOptions{DeadBefore: now.AddDate(0, 0, -90)})
		if err != nil {
			log.Printf("purge: %v (deleted so far: %+v)", err, res)
			continue
		}
		log.Printf("purged %d events, %d deliveries, %d attempts; kept %d", res.Events, res.Deliveries, res.Attempts, res.Kept)
	}
}
