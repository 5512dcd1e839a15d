package shipevents

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestChainOrder(t *testing.T) {
	var trace []string
	mw := func(name string) Middleware {
		return func(next Sender) Sender {
			return SenderFunc(func(ctx context.Context, m *Message) (Response, error) {
				trace = append(trace, name+">")
				resp, err := next.Send(ctx, m)
				trace = append(trace, "<"+name)
				return resp, err
			})
		}
	}
	base := SenderFunc(func(ctx context.Context, m *Message) (Response, error) {
		trace = append(trace, "send")
		return Response{StatusCode: 204}, nil
	})
	resp, err := Chain(base, mw("outer"), mw("inner")).Send(context.Background(), &Message{})
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("Send = %v, %v", resp, err)
	}
	if got := strings.Join(trace, " "); got != "outer> inner> send <inner <outer" {
		t.Errorf("order = %q, want the first middleware outermost", got)
	}
	trace = nil
	if _, err := Chain(base).Send(context.Background(), &Message{}); err != nil || strings.Join(trace, " ") != "send" {
		t.Errorf("Chain without middleware: trace %q, err %v; want the base sender alone", trace, err)
	}
}

// TestMiddlewareCanFailPermanently shows the contract a middleware relies
// on: an error it wraps with Permanent is not retried.
func TestMiddlewareCanFailPermanently(t *testing.T) {
	refuse := func(next Sender) Sender {
		return SenderFunc(func(ctx context.Context, m *Message) (Response, error) {
			return Response{}, Permanent(errors.New("tenant is suspended"))
		})
	}
	_, err := Chain(SenderFunc(func(context.Context, *Message) (Response, error) { return Response{}, nil }), refuse).Send(context.Background(), &Message{})
	var p RetryPolicy
	if d := p.Decide(err, 1, time.Time{}, time.Time{}); d.Retry {
		t.Errorf("a Permanent error from a middleware was retried: %+v", d)
	}
}
