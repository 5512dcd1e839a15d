package shipevents

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestAddressPolicyDefault(t *testing.T) {
	cases := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1", false},
		{"127.1.2.3", false},
		{"::1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
		{"::ffff:169.254.169.254", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"172.32.0.1", true},
		{"172.15.255.255", true},
		{"192.168.1.1", false},
		{"169.254.169.254", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"fc00::1", false},
		{"fd12::1", false},
		{"fd00:ec2::254", false},
		{"100.64.0.1", false},
		{"100.100.100.200", false},
		{"100.127.255.255", false},
		{"100.128.0.1", true},
		{"100.63.255.255", true},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"::", false},
		{"::ffff:0.0.0.0", false},
		{"::7f00:1", false}, // IPv4-compatible 127.0.0.1
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"ff02::1", false},
		{"255.255.255.255", false},
		{"240.0.0.1", false},
		{"198.18.0.1", false},
		{"198.19.255.255", false},
		{"198.20.0.1", true},
		{"192.0.2.1", false},
		{"2001:db8::1", false},
		{"64:ff9b::7f00:1", false},  // NAT64 of 127.0.0.1
		{"64:ff9b::808:808", true},  // NAT64 of 8.8.8.8
		{"2002:c0a8:101::1", false}, // 6to4 of 192.168.1.1
		{"2002:808:808::1", true},   // 6to4 of 8.8.8.8
		{"8.8.8.8", true},
		{"1.1.1.1", true},
		{"::ffff:8.8.8.8", true},
		{"2001:4860::8888", true},
		{"2606:4700:4700::1111", true},
	}
	var p AddressPolicy
	for _, c := range cases {
		err := p.Check(netip.MustParseAddr(c.addr))
		switch {
		case c.ok && err != nil:
			t.Errorf("Check(%s) = %v, want allowed", c.addr, err)
		case !c.ok && !errors.Is(err, ErrDestinationRefused):
			t.Errorf("Check(%s) = %v, want ErrDestinationRefused", c.addr, err)
		}
	}
	if err := p.Check(netip.Addr{}); !errors.Is(err, ErrDestinationRefused) {
		t.Errorf("Check(zero Addr) = %v", err)
	}
}

func TestAddressPolicyAllowDeny(t *testing.T) {
	p := AddressPolicy{
		Allow: []netip.Prefix{
			netip.MustParsePrefix("127.0.0.1/32"),
			netip.MustParsePrefix("::ffff:10.0.0.0/104"), // mapped form of 10.0.0.0/8
			netip.MustParsePrefix("fd00::/8"),
		},
		Deny: []netip.Prefix{
			netip.MustParsePrefix("10.9.0.0/16"),
			netip.MustParsePrefix("8.8.4.0/24"),
		},
	}
	cases := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1", true},
		{"::ffff:127.0.0.1", true},
		{"127.0.0.2", false},
		{"::1", false},
		{"10.1.2.3", true},
		{"10.9.1.1", false}, // Deny wins over Allow
		{"fd12::1", true},
		{"fc00::1", false},
		{"192.168.1.1", false},
		{"8.8.8.8", true},
		{"8.8.4.4", false},
		{"::ffff:8.8.4.4", false},
	}
	for _, c := range cases {
		err := p.Check(netip.MustParseAddr(c.addr))
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrDestinationRefused)) {
			t.Errorf("Check(%s) = %v, want ok=%v", c.addr, err, c.ok)
		}
	}

	private := AddressPolicy{AllowPrivate: true, Deny: []netip.Prefix{netip.MustParsePrefix("169.254.0.0/16")}}
	for addr, ok := range map[string]bool{"127.0.0.1": true, "10.0.0.1": true, "::1": true, "8.8.8.8": true, "169.254.169.254": false, "::ffff:169.254.169.254": false} {
		if err := private.Check(netip.MustParseAddr(addr)); ok != (err == nil) {
			t.Errorf("AllowPrivate Check(%s) = %v, want ok=%v", addr, err, ok)
		}
	}
}

func TestAddressPolicyControl(t *testing.T) {
	var p AddressPolicy
	cases := []struct {
		network, address string
		ok               bool
	}{
		{"tcp4", "127.0.0.1:80", false},
		{"tcp6", "[::1]:443", false},
		{"tcp6", "[::ffff:127.0.0.1]:443", false},
		{"tcp6", "[fe80::1%eth0]:80", false},
		{"tcp4", "169.254.169.254:80", false},
		{"tcp4", "8.8.8.8:443", true},
		{"tcp6", "[2001:4860::8888]:443", true},
		{"tcp", "8.8.8.8:443", true},
		{"udp4", "8.8.8.8:53", false},
		{"tcp4", "example.com:80", false},
		{"tcp4", "8.8.8.8", false},
	}
	for _, c := range cases {
		err := p.Control(c.network, c.address, nil)
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrDestinationRefused)) {
			t.Errorf("Control(%s, %s) = %v, want ok=%v", c.network, c.address, err, c.ok)
		}
	}
	allow := AddressPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	if err := allow.Control("tcp4", "127.0.0.1:8080", nil); err != nil {
		t.Errorf("Control with Allow: %v", err)
	}
}

func TestAddressPolicyPorts(t *testing.T) {
	p := AddressPolicy{Ports: []uint16{443, 80}}
	for address, ok := range map[string]bool{
		"8.8.8.8:443":          true,
		"8.8.8.8:80":           true,
		"8.8.8.8:5432":         false,
		"[2001:4860::8888]:25": false,
		"127.0.0.1:443":        false, // the address rules still apply
	} {
		err := p.Control("tcp", address, nil)
		if ok != (err == nil) || (err != nil && !errors.Is(err, ErrDestinationRefused)) {
			t.Errorf("Control(%s) = %v, want ok=%v", address, err, ok)
		}
	}
	if err := p.CheckPort(5432); err == nil || !strings.Contains(err.Error(), "port 5432") {
		t.Errorf("CheckPort(5432) = %v, want a refusal naming the port", err)
	}
	if err := (AddressPolicy{}).CheckPort(5432); err != nil {
		t.Errorf("zero policy refused a port: %v", err)
	}

	// The HTTP sender refuses the connection before sending anything.
	var hit atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit.Store(true) }))
	defer srv.Close()
	s := NewHTTPSender(HTTPSenderConfig{Policy: AddressPolicy{
		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Ports: []uint16{443},
	}})
	msg := &Message{DeliveryID: "d", Attempt: 1, Event: &Event{ID: "e"}, Subscription: &Subscription{ID: "s", URL: srv.URL}, Body: []byte("{}"), Timestamp: time.Now()}
	_, err := s.Send(context.Background(), msg)
	if !errors.Is(err, ErrDestinationRefused) || hit.Load() {
		t.Errorf("Send to a refused port: err %v, request arrived %v", err, hit.Load())
	}
}
