package shipevents

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestSubscriptionMatches(t *testing.T) {
	e := shipmentEvent("e1", "1Z1", StatusDelivered, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	e.TenantID = "shop-1"
	e.Metadata = map[string]string{"channel": "web", "priority": "high"}
	e.CarrierStatus = &CarrierStatus{Code: "FS", Type: "D"}
	e.Data = EventData{SignedBy: "J SMITH", Location: &Location{Country: "US"}, Extra: map[string]any{"weight": 2.5, "fragile": true}}
	base := Subscription{ID: "s", URL: "https://example.com", EnabledEvents: []string{"*"}}
	tests := []struct {
		name string
		mod  func(*Subscription)
		want bool
	}{
		{"no filters", func(s *Subscription) {}, true},
		{"disabled", func(s *Subscription) { s.Disabled = true }, false},
		{"tenant match", func(s *Subscription) { s.TenantID = "shop-1" }, true},
		{"other tenant", func(s *Subscription) { s.TenantID = "shop-2" }, false},
		{"group match", func(s *Subscription) { s.EventGroups = []string{"shipment_out_for_delivery", "shipment_delivered"} }, true},
		{"group miss", func(s *Subscription) { s.EventGroups = []string{"shipment_delivery_failed"} }, false},
		{"type match", func(s *Subscription) { s.Types = []string{TypeTrackingUpdated} }, true},
		{"type miss", func(s *Subscription) { s.Types = []string{TypeOrderUpdated} }, false},
		{"carrier eq", func(s *Subscription) {
			s.Conditions = []Condition{{Field: "carrier", Op: OpEq, Values: []string{"ups"}}}
		}, true},
		{"carrier ne", func(s *Subscription) {
			s.Conditions = []Condition{{Field: "carrier", Op: OpNe, Values: []string{"ups"}}}
		}, false},
		{"metadata in", func(s *Subscription) {
			s.Conditions = []Condition{{Field: "metadata.channel", Op: OpIn, Values: []string{"pos", "web"}}}
		}, true},
		{"metadata not_in", func(s *Subscription) {
			s.Conditions = []Condition{{Field: "metadata.channel", Op: OpNotIn, Values: []string{"web"}}}
		}, false},
		{"metadata missing key", func(s *Subscription) { s.Conditions = []Condition{{Field: "metadata.gift", Op: OpMissing}} }, true},
		{"metadata exists", func(s *Subscription) { s.Conditions = []Condition{{Field: "metadata.priority", Op: OpExists}} }, true},
		{"prefix", func(s *Subscription) {
			s.Conditions = []Condition{{Field: "tracking_number", Op: OpPrefix, Values: []string{"1Z"}}}
		}, true},
		{"raw code", func(s *Subscription) {
			s.Conditions = []Condition{{Field: "carrier_status.code", Op: OpEq, Values: []string{"FS"}}}
		}, true},
		{"event_data typed", func(s *Subscription) {
			s.Conditions = []Condition{{Field: "event_data.signed_by", Op: OpExists}, {Field: "event_data.location.country", Op: OpEq, Values: []string{"US"}}}
		}, true},
		{"event_data extra number", func(s *Subscription) {
			s.Conditions = []Condition{{Field: "event_data.weight", Op: OpEq, Values: []string{"2.5"}}}
		}, true},
		{"event_data extra bool", func(s *Subscription) {
			s.Conditions = []Condition{{Field: "event_data.fragile", Op: OpEq, Values: []string{"true"}}}
		}, true},
		{"all conditions must hold", func(s *Subscription) {
			s.Conditions = []Condition{{Field: "status", Op: OpEq, Values: []string{"DELIVERED"}}, {Field: "test_mode", Op: OpEq, Values: []string{"true"}}}
		}, false},
	}
	for _, tt := range tests {
		s := base.Clone()
		tt.mod(&s)
		if err := s.Validate(); err != nil {
			t.Fatalf("%s: invalid subscription: %v", tt.name, err)
		}
		if got := s.Matches(&e); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSubscriptionValidate(t *testing.T) {
	ok := Subscription{ID: "s", URL: "https://example.com/h", EnabledEvents: []string{"shipments"}}
	tests := map[string]func(*Subscription){
		"no id":             func(s *Subscription) { s.ID = "" },
		"url and handler":   func(s *Subscription) { s.Handler = "h" },
		"neither":           func(s *Subscription) { s.URL = "" },
		"relative url":      func(s *Subscription) { s.URL = "/hooks" },
		"ftp url":           func(s *Subscription) { s.URL = "ftp://example.com" },
		"no patterns":       func(s *Subscription) { s.EnabledEvents = nil },
		"empty pattern":     func(s *Subscription) { s.EnabledEvents = []string{""} },
		"bad form":          func(s *Subscription) { s.Form = "xml" },
		"bad condition op":  func(s *Subscription) { s.Conditions = []Condition{{Field: "status", Op: "like"}} },
		"eq without value":  func(s *Subscription) { s.Conditions = []Condition{{Field: "status", Op: OpEq}} },
		"bad secret":        func(s *Subscription) { s.Secrets = []string{"whsec_***"} },
		"oauth2 incomplete": func(s *Subscription) { s.OAuth2 = &OAuth2{TokenURL: "https://auth.example.com/token"} },
		"bad retry":         func(s *Subscription) { s.Retry = &RetryPolicy{Multiplier: 0.5} },
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid subscription rejected: %v", err)
	}
	for name, mod := range tests {
		s := ok.Clone()
		mod(&s)
		if err := s.Validate(); !errors.Is(err, ErrInvalidSubscription) {
			t.Errorf("%s: Validate = %v, want ErrInvalidSubscription", name, err)
		}
	}
}

func TestSubscriptionLogValueHidesSecrets(t *testing.T) {
	s := Subscription{ID: "s", URL: "https://user:pw@example.com/h?token=abc", EnabledEvents: []string{"*"},
		Secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, Headers: map[string]string{"Authorization": "Bearer topsecret"},
		OAuth2: &OAuth2{TokenURL: "https://auth.example.com/t", ClientID: "id", ClientSecret: "clientsecret"}}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("sub", "subscription", s)
	out := b.String()
	for _, secret := range []string{"MfKQ9r8G", "topsecret", "clientsecret", "pw@", "token=abc"} {
		if strings.Contains(out, secret) {
			t.Errorf("log output contains %q: %s", secret, out)
		}
	}
	if !strings.Contains(out, "https://example.com/redacted") {
		t.Errorf("log output lacks the (redacted) URL: %s", out)
	}
}

func TestSubscriptionCloneIsDeep(t *testing.T) {
	s := Subscription{ID: "s", EnabledEvents: []string{"a"}, Headers: map[string]string{"k": "v"},
		Conditions: []Condition{{Field: "status", Op: OpIn, Values: []string{"X"}}}, OAuth2: &OAuth2{Scopes: []string{"a"}},
		Retry: &RetryPolicy{Schedule: []time.Duration{time.Second}}}
	c := s.Clone()
	c.EnabledEvents[0] = "b"
	c.Headers["k"] = "w"
	c.Conditions[0].Values[0] = "Y"
	c.OAuth2.Scopes[0] = "b"
	c.Retry.Schedule[0] = time.Hour
	if s.EnabledEvents[0] != "a" || s.Headers["k"] != "v" || s.Conditions[0].Values[0] != "X" || s.OAuth2.Scopes[0] != "a" || s.Retry.Schedule[0] != time.Second {
		t.Error("Clone shares state")
	}
}

// TestSubscriptionValidateRefusesUnstorableText: a subscription is stored
// (as JSON) and its ids in text columns, so a NUL byte or invalid UTF-8 in
// any of its strings, an id too long for an index, or a header a request
// cannot carry is refused when it is subscribed, not when it is stored or
// sent.
func TestSubscriptionValidateRefusesUnstorableText(t *testing.T) {
	ok := Subscription{ID: "s", URL: "https://example.com/h", EnabledEvents: []string{"shipments"},
		OAuth2: &OAuth2{TokenURL: "https://auth.example.com/t", ClientID: "c", ClientSecret: "x"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid subscription refused: %v", err)
	}
	for _, bad := range []string{"a\x00b", "a\xffb"} {
		tests := map[string]func(*Subscription){
			"id":              func(s *Subscription) { s.ID = bad },
			"tenant_id":       func(s *Subscription) { s.TenantID = bad },
			"name":            func(s *Subscription) { s.Name = bad },
			"url":             func(s *Subscription) { s.URL = "https://example.com/" + bad },
			"handler":         func(s *Subscription) { s.URL, s.Handler = "", bad },
			"disabled_reason": func(s *Subscription) { s.DisabledReason = bad },
			"conditions": func(s *Subscription) {
				s.Conditions = []Condition{{Field: "metadata.k", Op: OpEq, Values: []string{bad}}}
			},
			"headers":       func(s *Subscription) { s.Headers = map[string]string{"X-Key": bad} },
			"oauth2":        func(s *Subscription) { s.OAuth2.ClientSecret = bad },
			"oauth2 params": func(s *Subscription) { s.OAuth2.Params = map[string]string{"audience": bad} },
		}
		for name, mod := range tests {
			s := ok.Clone()
			mod(&s)
			if err := s.Validate(); !errors.Is(err, ErrInvalidSubscription) {
				t.Errorf("%q in %s: Validate = %v, want ErrInvalidSubscription", bad, name, err)
			} else if strings.ContainsAny(err.Error(), "\x00\xff") {
				t.Errorf("%q in %s: the message copies the bad bytes: %q", bad, name, err)
			}
		}
	}
	for name, mod := range map[string]func(*Subscription){
		"id too long":             func(s *Subscription) { s.ID = strings.Repeat("x", MaxIdentifierBytes+1) },
		"header value with CR LF": func(s *Subscription) { s.Headers = map[string]string{"X-Key": "a\r\nX-Injected: 1"} },
		"header name with space":  func(s *Subscription) { s.Headers = map[string]string{"X Key": "v"} },
		"empty header name":       func(s *Subscription) { s.Headers = map[string]string{"": "v"} },
	} {
		s := ok.Clone()
		mod(&s)
		if err := s.Validate(); !errors.Is(err, ErrInvalidSubscription) {
			t.Errorf("%s: Validate = %v, want ErrInvalidSubscription", name, err)
		}
	}
}

// TestSubscriptionErrorsQuoteHostileText: Validate's messages quote the
// subscription's id and values, bounded.
func TestSubscriptionErrorsQuoteHostileText(t *testing.T) {
	forged := "x\nlevel=ERROR msg=forged" + strings.Repeat("x", 100_000)
	for name, s := range map[string]Subscription{
		"id":              {ID: forged, URL: "https://example.com/h"},
		"condition field": {ID: "s", URL: "https://example.com/h", EnabledEvents: []string{"*"}, Conditions: []Condition{{Field: forged, Op: OpEq}}},
		"condition op":    {ID: "s", URL: "https://example.com/h", EnabledEvents: []string{"*"}, Conditions: []Condition{{Field: "status", Op: ConditionOp(forged)}}},
		"form":            {ID: "s", URL: "https://example.com/h", EnabledEvents: []string{"*"}, Form: PayloadForm(forged)},
		"pattern":         {ID: "s", URL: "https://example.com/h", EnabledEvents: []string{"a//" + forged[:200]}},
	} {
		err := s.Validate()
		if !errors.Is(err, ErrInvalidSubscription) {
			t.Errorf("%s: Validate = %v", name, err)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || len(msg) > 500 {
			t.Errorf("%s: message of %d bytes: %.200q", name, len(msg), msg)
		}
	}
}
