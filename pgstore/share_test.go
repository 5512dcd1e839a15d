package pgstore_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shipevents/shipevents"
)

// TestHealthyBesideHangingEndpoint measures, over loopback HTTP with a
// dispatcher in its default configuration, what a hanging endpoint costs
// another subscription: one receiver never answers (each attempt ends at
// the sender's 10 s timeout), another answers at once, and events for both
// arrive ten a second for 12 s, in one case after a backlog of 1,000
// deliveries of the hanging subscription alone. It checks that every
// healthy delivery arrives and logs the healthy latency (publish to
// request); wall-clock figures are reported, not asserted. Skipped with
// -short.
func TestHealthyBesideHangingEndpoint(t *testing.T) {
	dsn := testDSN(t)
	if testing.Short() {
		t.Skip("-short: the measurement takes a quarter of a minute")
	}
	for _, backlog := range []int{0, 1000} {
		t.Run(fmt.Sprintf("backlog=%d", backlog), func(t *testing.T) {
			t.Parallel()
			s := openStore(t, dsn, testSchema(t, dsn), pgstoreConfig())
			var mu sync.Mutex
			published := map[string]time.Time{}
			var lat []time.Duration
			healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				id := r.Header.Get(shipevents.HeaderWebhookID)
				mu.Lock()
				if at, ok := published[id]; ok {
					lat = append(lat, time.Since(at))
					delete(published, id) // the first arrival counts
				}
				mu.Unlock()
				w.WriteHeader(http.StatusNoContent)
			}))
			defer healthy.Close()
			release := make(chan struct{})
			hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-release:
				}
			}))
			defer hanging.Close()
			defer close(release)

			d := shipevents.NewDispatcher(shipevents.DispatcherConfig{Store: s, Sender: loopbackSender(0)})
			ctx := t.Context()
			sick := webhookSub("hanging", hanging.URL)
			well := webhookSub("healthy", healthy.URL)
			well.Conditions = []shipevents.Condition{{Field: "tracking_number", Op: shipevents.OpPrefix, Values: []string{"H"}}}
			for _, sub := range []shipevents.Subscription{sick, well} {
				if err := d.Subscribe(ctx, sub); err != nil {
					t.Fatal(err)
				}
			}
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			var old []shipevents.Event
			for i := range backlog {
				old = append(old, shipmentEvent(fmt.Sprintf("backlog-%d", i), fmt.Sprintf("B%d", i), at))
			}
			publishAll(ctx, t, d, old, 500)
			stop := runDispatcher(t, d)

			const n, gap = 120, 100 * time.Millisecond
			next := time.Now()
			for i := range n {
				e := shipmentEvent(fmt.Sprintf("e-%d", i), fmt.Sprintf("H%d", i), at)
				mu.Lock()
				published[shipevents.MessageID(e.Key())] = time.Now() // what the webhook-id header carries
				mu.Unlock()
				publishAll(ctx, t, d, []shipevents.Event{e}, 1)
				next = next.Add(gap)
				time.Sleep(time.Until(next))
			}
			waitFor(t, 15*time.Minute, "every healthy delivery", func() (bool, error) {
				mu.Lock()
				defer mu.Unlock()
				return len(lat) == n, nil
			})
			stop()
			mu.Lock()
			defer mu.Unlock()
			slices.Sort(lat)
			q := func(f float64) time.Duration {
				return lat[min(int(f*float64(n)+0.999999)-1, n-1)].Round(time.Millisecond)
			}
			t.Logf("healthy endpoint beside a hanging one (backlog %d), %d deliveries over loopback: p50 %v, p99 %v, max %v",
				backlog, n, q(0.50), q(0.99), lat[n-1].Round(time.Millisecond))
		})
	}
}
