package shipevents

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"syscall"
)

// ErrDestinationRefused is wrapped by the errors of [AddressPolicy] and by
// the HTTP sender's error for a destination the policy refuses. The
// messages say which setting would allow the destination.
var ErrDestinationRefused = errors.New("shipevents: destination address refused")

// AddressPolicy decides which IP addresses webhooks may connect to, to
// keep subscriptions from reaching internal services (SSRF).
//
// The zero value refuses every address that is not globally routable:
// loopback, private (RFC 1918), shared (CGNAT 100.64.0.0/10), link-local
// (including the cloud metadata address 169.254.169.254), unique-local
// IPv6, unspecified, multicast, broadcast and other reserved ranges,
// documentation and benchmarking ranges, and the IPv4-mapped IPv6 forms
// of all of these.
//
// The HTTP sender checks the address it actually connects to, after DNS
// resolution (in net.Dialer.Control), so a name that resolves to a
// refused address, now or after a DNS change, is refused too.
type AddressPolicy struct {
	// AllowPrivate turns the built-in refusals off; only Deny applies.
	AllowPrivate bool
	// Allow lists prefixes that are accepted even though a built-in rule
	// refuses them (say 127.0.0.1/32 for tests, or an internal network).
	Allow []netip.Prefix
	// Deny lists prefixes that are always refused; it wins over Allow and
	// AllowPrivate.
	Deny []netip.Prefix
	// Ports, when not empty, lists the only destination ports accepted
	// (say 443 and 80), so that a subscription cannot aim webhooks at a
	// database or mail port of a public host. Empty accepts any port.
	Ports []uint16
}

// reservedRange is a built-in refused prefix and why.
type reservedRange struct {
	prefix netip.Prefix
	why    string
}

// reservedRanges are refused by the zero AddressPolicy. IPv4-mapped IPv6
// addresses are unmapped before the check, so they need no entries.
var reservedRanges = func() []reservedRange {
	list := []struct{ p, why string }{
		// IPv4 (IANA special-purpose registry).
		{"0.0.0.0/8", "\"this network\""},
		{"10.0.0.0/8", "private"},
		{"100.64.0.0/10", "shared address space (CGNAT)"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local"},
		{"172.16.0.0/12", "private"},
		{"192.0.0.0/24", "IETF protocol assignments"},
		{"192.0.2.0/24", "documentation"},
		{"192.88.99.0/24", "6to4 relay anycast"},
		{"192.168.0.0/16", "private"},
		{"198.18.0.0/15", "benchmarking"},
		{"198.51.100.0/24", "documentation"},
		{"203.0.113.0/24", "documentation"},
		{"224.0.0.0/4", "multicast"},
		{"240.0.0.0/4", "reserved"},
		{"255.255.255.255/32", "broadcast"},
		// IPv6.
		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"::/96", "IPv4-compatible (deprecated)"},
		{"64:ff9b:1::/48", "local-use NAT64"},
		{"100::/64", "discard-only"},
		{"2001::/32", "Teredo"},
		{"2001:2::/48", "benchmarking"},
		{"2001:db8::/32", "documentation"},
		{"3fff::/20", "documentation"},
		{"fc00::/7", "unique-local"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local (deprecated)"},
		{"ff00::/8", "multicast"},
	}
	out := make([]reservedRange, len(list))
	for i, r := range list {
		out[i] = reservedRange{netip.MustParsePrefix(r.p), r.why}
	}
	return out
}()

// Prefixes of IPv6 ranges that embed an IPv4 address in their last 32
// bits (NAT64) or in bits 16–47 (6to4): the embedded address is checked
// as well.
var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// canonical strips the zone and unmaps IPv4-mapped IPv6 addresses.
func canonical(a netip.Addr) netip.Addr { return a.WithZone("").Unmap() }

// prefixContains is Prefix.Contains on canonical addresses, so that a
// prefix written in IPv4-mapped form matches plain IPv4 addresses.
func prefixContains(p netip.Prefix, a netip.Addr) bool {
	if pa := p.Addr(); pa.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(pa.Unmap(), p.Bits()-96)
	}
	return p.Contains(a)
}

func prefixesContain(list []netip.Prefix, a netip.Addr) bool {
	for _, p := range list {
		if prefixContains(p, a) {
			return true
		}
	}
	return false
}

// Check returns nil when the policy lets a webhook connect to addr, and
// otherwise an error wrapping ErrDestinationRefused that names the range.
func (p AddressPolicy) Check(addr netip.Addr) error {
	if !addr.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrDestinationRefused)
	}
	a := canonical(addr)
	if prefixesContain(p.Deny, a) {
		return fmt.Errorf("%w: %v is in a denied range (AddressPolicy.Deny)", ErrDestinationRefused, a)
	}
	if p.AllowPrivate || prefixesContain(p.Allow, a) {
		return nil
	}
	if why := reservedWhy(a); why != "" {
		return fmt.Errorf("%w: %v is %s; to allow it, add its prefix to AddressPolicy.Allow "+
			"(or set AllowPrivate) in HTTPSenderConfig.Policy", ErrDestinationRefused, a, why)
	}
	return nil
}

// reservedWhy names the built-in range a canonical address falls in, or
// returns "".
func reservedWhy(a netip.Addr) string {
	for _, r := range reservedRanges {
		if r.prefix.Contains(a) {
			return r.why
		}
	}
	var embedded netip.Addr
	switch b := a.As16(); {
	case a.Is6() && nat64Prefix.Contains(a):
		embedded = netip.AddrFrom4([4]byte(b[12:16]))
	case a.Is6() && sixToFour.Contains(a):
		embedded = netip.AddrFrom4([4]byte(b[2:6]))
	default:
		return ""
	}
	if why := reservedWhy(embedded); why != "" {
		return why + " (embedded in " + a.String() + ")"
	}
	return ""
}

// Control checks the address a dialer is about to connect to; use it as
// net.Dialer.Control (the HTTP sender does) so the check sees the
// resolved address, which defeats DNS rebinding. Only TCP is allowed.
func (p AddressPolicy) Control(network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return fmt.Errorf("%w: network %q", ErrDestinationRefused, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparseable address %q", ErrDestinationRefused, address)
	}
	if err := p.CheckPort(ap.Port()); err != nil {
		return err
	}
	return p.Check(ap.Addr())
}

// CheckPort returns nil when the policy lets a webhook connect to port,
// and otherwise an error wrapping ErrDestinationRefused.
func (p AddressPolicy) CheckPort(port uint16) error {
	if len(p.Ports) == 0 || slices.Contains(p.Ports, port) {
		return nil
	}
	return fmt.Errorf("%w: port %d is not among the allowed ports %v (AddressPolicy.Ports)", ErrDestinationRefused, port, p.Ports)
}
