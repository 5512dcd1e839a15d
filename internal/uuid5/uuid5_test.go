package uuid5

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

var testNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://example.com/uuid5-test"))

func TestJoinedMatchesNewSHA1(t *testing.T) {
	for _, parts := range [][]string{
		nil, {""}, {"a"}, {"evt-1", "sub-1"}, {"", "", ""}, {"ünïcode", "\x00"},
		{strings.Repeat("long", 200)}, // beyond the stack buffer
	} {
		want := uuid.NewSHA1(testNamespace, []byte(strings.Join(parts, "\x00"))).String()
		if got := Joined(testNamespace, parts...); got != want {
			t.Errorf("Joined(%q) = %s, want %s", parts, got, want)
		}
	}
}

func TestFromDataIsVersion5(t *testing.T) {
	got := FromData(append(testNamespace[:], "name"...))
	u, err := uuid.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if u.Version() != 5 || u.Variant() != uuid.RFC4122 {
		t.Errorf("%s: version %d variant %v, want 5 and RFC 4122", got, u.Version(), u.Variant())
	}
	if want := uuid.NewSHA1(testNamespace, []byte("name")).String(); got != want {
		t.Errorf("FromData = %s, want %s", got, want)
	}
}

// Ids are derived on hot paths: a short name costs the string alone.
func TestJoinedAllocatesOnlyTheString(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() { _ = Joined(testNamespace, "evt-1", "sub-1") })
	if allocs > 1 {
		t.Errorf("%v allocations, want 1", allocs)
	}
}

func FuzzJoined(f *testing.F) {
	f.Add("evt-1", "sub-1")
	f.Add("", "\x00")
	f.Fuzz(func(t *testing.T, a, b string) {
		want := uuid.NewSHA1(testNamespace, []byte(a+"\x00"+b)).String()
		if got := Joined(testNamespace, a, b); got != want {
			t.Fatalf("Joined(%q, %q) = %s, want %s", a, b, got, want)
		}
	})
}
