package shipevents

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// matchRefReference is the rule of MatchRef's doc comment written as
// plainly as possible, to check MatchRef and RefIndex against.
func matchRefReference(pattern, ref string) bool {
	if pattern == "" {
		return false
	}
	p := strings.Split(pattern, "/")
	r := strings.Split(ref, "/")
	if len(p) > len(r) {
		return false
	}
	for i := range p {
		if p[i] != "*" && p[i] != r[i] {
			return false
		}
	}
	return true
}

var matchRefTests = []struct {
	pattern, ref string
	want         bool
}{
	{"*", "shipments/delivered/SUCCESSFULLY_DELIVERED", true},
	{"*", "claims/created", true},
	{"shipments", "shipments/delivered/SUCCESSFULLY_DELIVERED", true},
	{"shipments", "claims/created", false},
	{"shipments/delivered", "shipments/delivered/SUCCESSFULLY_DELIVERED", true},
	{"shipments/delivered", "shipments/in_transit/DELAY_EXPECTED", false},
	{"shipments/*/DELIVERY_ATTEMPT_FAILED", "shipments/delivery_failed/DELIVERY_ATTEMPT_FAILED", true},
	{"shipments/*/DELIVERY_ATTEMPT_FAILED", "shipments/delivery_failed/ADDRESS_ISSUE", false},
	{"shipments/deliv", "shipments/delivered/SUCCESSFULLY_DELIVERED", false},
	{"Shipments", "shipments/delivered/SUCCESSFULLY_DELIVERED", false},
	{"shipments/delivered/SUCCESSFULLY_DELIVERED", "shipments/delivered/SUCCESSFULLY_DELIVERED", true},
	{"shipments/delivered/SUCCESSFULLY_DELIVERED/x", "shipments/delivered/SUCCESSFULLY_DELIVERED", false},
	{"", "shipments", false},
	{"", "", false},
	{"*/*", "claims/created", true},
	{"*/*/*", "claims/created", false},
	{"claims/*", "claims/created", true},
	{"shipments/", "shipments/delivered", false},
}

func TestMatchRef(t *testing.T) {
	for _, tt := range matchRefTests {
		if got := MatchRef(tt.pattern, tt.ref); got != tt.want {
			t.Errorf("MatchRef(%q, %q) = %v, want %v", tt.pattern, tt.ref, got, tt.want)
		}
		if ref := matchRefReference(tt.pattern, tt.ref); ref != tt.want {
			t.Errorf("reference(%q, %q) = %v, want %v (the table is wrong)", tt.pattern, tt.ref, ref, tt.want)
		}
	}
}

func TestMatchRefNoAlloc(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		MatchRef("shipments/*/DELIVERY_ATTEMPT_FAILED", "shipments/delivery_failed/DELIVERY_ATTEMPT_FAILED")
	})
	if allocs != 0 {
		t.Errorf("MatchRef allocates %v times per call, want 0", allocs)
	}
}

func TestValidatePattern(t *testing.T) {
	for _, p := range []string{"", "a//b", "shipments/", "/shipments", strings.Repeat("a", MaxPatternLen+1)} {
		if err := ValidatePattern(p); err == nil {
			t.Errorf("ValidatePattern(%q) = nil, want an error", p)
		}
	}
	for _, p := range []string{"*", "shipments", "shipments/*/X", "claims/created"} {
		if err := ValidatePattern(p); err != nil {
			t.Errorf("ValidatePattern(%q) = %v, want nil", p, err)
		}
	}
}

// TestRefIndexAgreesWithMatchRef builds an index of random patterns and
// checks, for many refs, that it returns exactly the values a linear
// MatchRef scan returns, before and after removing some patterns.
func TestRefIndexAgreesWithMatchRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	segs := []string{"shipments", "claims", "delivered", "in_transit", "*", "X", "Y", "created"}
	randPath := func(maxLen int) string {
		n := 1 + rng.IntN(maxLen)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = segs[rng.IntN(len(segs))]
		}
		return strings.Join(parts, "/")
	}
	type entry struct {
		pattern string
		id      int
	}
	ix := NewRefIndex[int]()
	var entries []entry
	for i := range 2000 {
		e := entry{randPath(4), i % 700} // ids repeat: one value under several patterns
		entries = append(entries, e)
		if err := ix.Add(e.pattern, e.id); err != nil {
			t.Fatal(err)
		}
	}
	check := func() {
		t.Helper()
		for range 500 {
			ref := strings.ReplaceAll(randPath(5), "*", "Z")
			var want []int
			for _, e := range entries {
				if MatchRef(e.pattern, ref) && !slices.Contains(want, e.id) {
					want = append(want, e.id)
				}
			}
			got := ix.Match(ref, nil)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("Match(%q) = %v, want %v", ref, got, want)
			}
		}
	}
	check()
	for i := 0; i < len(entries); i += 3 {
		if !ix.Remove(entries[i].pattern, entries[i].id) {
			// Duplicate (pattern, id) pairs were added once.
			continue
		}
	}
	var kept []entry
	for i, e := range entries {
		if i%3 != 0 {
			kept = append(kept, e)
		}
	}
	// A pair removed through one copy is gone for its duplicates too.
	removed := map[string]bool{}
	for i := 0; i < len(entries); i += 3 {
		removed[fmt.Sprint(entries[i].pattern, "\x00", entries[i].id)] = true
	}
	entries = entries[:0]
	for _, e := range kept {
		if !removed[fmt.Sprint(e.pattern, "\x00", e.id)] {
			entries = append(entries, e)
		}
	}
	check()
}

func TestRefIndexMatchNoAlloc(t *testing.T) {
	ix := NewRefIndex[int]()
	for i := range 1000 {
		_ = ix.Add(fmt.Sprintf("shipments/*/E%d", i), i)
	}
	_ = ix.Add("shipments", -1)
	_ = ix.Add("shipments/*/E5", -1) // -1 under two patterns: de-duplicated
	dst := make([]int, 0, 16)
	allocs := testing.AllocsPerRun(100, func() { dst = ix.Match("shipments/delivered/E5", dst[:0]) })
	if allocs != 0 {
		t.Errorf("Match allocates %v times, want 0", allocs)
	}
	slices.Sort(dst)
	if !slices.Equal(dst, []int{-1, 5}) {
		t.Errorf("Match = %v, want [-1 5]", dst)
	}
}

// FuzzMatchRef checks MatchRef against the reference rule, and the index
// against MatchRef, on arbitrary inputs.
func FuzzMatchRef(f *testing.F) {
	for _, tt := range matchRefTests {
		f.Add(tt.pattern, tt.ref)
	}
	f.Fuzz(func(t *testing.T, pattern, ref string) {
		want := matchRefReference(pattern, ref)
		if got := MatchRef(pattern, ref); got != want {
			t.Fatalf("MatchRef(%q, %q) = %v, reference says %v", pattern, ref, got, want)
		}
		ix := NewRefIndex[int]()
		if err := ix.Add(pattern, 1); err != nil {
			if ValidatePattern(pattern) == nil {
				t.Fatalf("Add(%q) = %v for a valid pattern", pattern, err)
			}
			return
		}
		got := len(ix.Match(ref, nil)) == 1
		if got != want {
			t.Fatalf("index match(%q, %q) = %v, MatchRef says %v", pattern, ref, got, want)
		}
	})
}
