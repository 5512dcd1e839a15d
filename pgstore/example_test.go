package pgstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/pgstore"
)

// A Keyring lists the keys newest first: the first encrypts, all decrypt.
// Each key is 32 random bytes; the fixed ones here only keep the output
// stable.
func ExampleNewKeyring() {
	newKey := bytes.Repeat([]byte{2}, pgstore.KeySize)
	oldKey := bytes.Repeat([]byte{1}, pgstore.KeySize)
	kr, err := pgstore.NewKeyring(newKey, oldKey)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("key ids:", kr.IDs())
	_ = pgstore.Config{Schema: "shipevents", Keyring: kr}

	_, err = pgstore.NewKeyring([]byte("too short"))
	fmt.Println(errors.Is(err, pgstore.ErrInvalidKey), err)
	// Output:
	// key ids: [218bee23e4f45284 89a1fa0ca65c0c5b]
	// true pgstore: invalid subscription key: key 0 is 9 bytes, want 32 (AES-256)
}

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

// An order service marks an order shipped and publishes the carrier's
// scans in one transaction of its own: both commit, or neither does. The
// workers of every instance sharing the store deliver the events once the
// transaction commits.
func ExampleStore_AppendEventsTx() {
	ctx := context.Background()
	s, err := pgstore.Open(ctx, "postgres://localhost/shop", pgstore.Config{Schema: "shipevents"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	d := shipevents.NewDispatcher(shipevents.DispatcherConfig{Store: s})
	orders, err := pgxpool.New(ctx, "postgres://localhost/shop") // the service's own pool
	if err != nil {
		log.Fatal(err)
	}
	defer orders.Close()
	events, err := shipevents.Normalize("", []byte(`{"trackingNumber":"1Z999AA10123456784",
		"activityStatus":{"type":"I","code":"OR","description":"Origin Scan"},
		"gmtActivityDate":"20260301","gmtActivityTime":"081500","gmtOffset":"+01.00"}`))
	if err != nil {
		log.Fatal(err)
	}
	for {
		err := pgx.BeginFunc(ctx, orders, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `UPDATE orders SET status = 'shipped' WHERE id = $1`, "order-42"); err != nil {
				return err
			}
			_, err := shipevents.PublishTx(ctx, d, tx, events...) // last, just before the commit
			return err
		})
		if errors.Is(err, shipevents.ErrTxConflict) {
			continue // a deadlock or serialization failure: run the transaction again
		}
		if err != nil {
			log.Fatal(err)
		}
		break
	}
}
