package shipevents

import (
	"errors"
	"fmt"
	"strings"
	"sync"
)

// ErrInvalidPattern is returned by [RefIndex.Add] for an empty pattern, one
// with an empty segment, or one longer than MaxPatternLen.
var ErrInvalidPattern = errors.New("shipevents: invalid ref pattern")

// MaxPatternLen bounds a subscription pattern's length in bytes.
const MaxPatternLen = 512

// MatchRef reports whether the subscription pattern matches ref.
//
// A ref is a slash-separated path: shipments/{phase}/{event_name} for
// shipment events, {source}/{action} for the others. A pattern matches a
// ref when its segments are a prefix of the ref's segments, compared whole
// and case-sensitively, where a segment "*" matches any one segment. So
// these patterns match:
//
//	shipments                            every shipment event
//	shipments/delivered                  every event in the delivered phase
//	shipments/*/DELIVERY_ATTEMPT_FAILED  that event name in any phase
//	shipments/deliv                      nothing (segments are whole)
//	*                                    every ref
//
// An empty pattern matches nothing. MatchRef does not allocate.
func MatchRef(pattern, ref string) bool {
	if pattern == "" {
		return false
	}
	for {
		pseg, prest, pmore := strings.Cut(pattern, "/")
		rseg, rrest, rmore := strings.Cut(ref, "/")
		if pseg != "*" && pseg != rseg {
			return false
		}
		if !pmore {
			return true
		}
		if !rmore {
			return false // pattern is longer than ref
		}
		pattern, ref = prest, rrest
	}
}

// ValidatePattern reports why pattern cannot be used in a subscription, or
// nil. Patterns must be non-empty, at most MaxPatternLen bytes, and have no
// empty segment (so "shipments/" and "a//b" are refused: they could never
// match a ref).
func ValidatePattern(pattern string) error {
	if pattern == "" {
		return fmt.Errorf("%w: empty", ErrInvalidPattern)
	}
	if len(pattern) > MaxPatternLen {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidPattern, len(pattern), MaxPatternLen)
	}
	for seg := range strings.SplitSeq(pattern, "/") {
		if seg == "" {
			return fmt.Errorf("%w: %q has an empty segment", ErrInvalidPattern, pattern)
		}
	}
	return nil
}

// RefIndex is a compiled set of patterns, each with a value (typically a
// subscription id), that finds every value whose pattern matches a ref in
// time proportional to the ref's segments, not to the number of patterns.
// It is a trie of segments with a separate "*" branch per node.
//
// A RefIndex is safe for concurrent use; Match runs under a read lock and
// does not allocate beyond growing dst.
type RefIndex[V comparable] struct {
	mu    sync.RWMutex
	root  refNode[V]
	count map[V]int // patterns per value, to know which values need de-duplication
	size  int
}

type refNode[V comparable] struct {
	children map[string]*refNode[V]
	wild     *refNode[V]
	// values whose pattern ends at this node; they match every ref at or
	// below it (patterns are prefixes).
	values []refValue[V]
}

type refValue[V comparable] struct {
	v V
	// multi marks a value registered under several patterns, which could
	// then match the same ref more than once.
	multi bool
}

// NewRefIndex returns an empty index.
func NewRefIndex[V comparable]() *RefIndex[V] {
	return &RefIndex[V]{count: map[V]int{}}
}

// Len returns the number of (pattern, value) pairs in the index.
func (x *RefIndex[V]) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.size
}

// Add registers v under pattern. Adding the same pair twice is a no-op.
// It returns an error wrapping [ErrInvalidPattern] for a pattern
// [ValidatePattern] refuses.
func (x *RefIndex[V]) Add(pattern string, v V) error {
	if err := ValidatePattern(pattern); err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	n := &x.root
	for seg := range strings.SplitSeq(pattern, "/") {
		if seg == "*" {
			if n.wild == nil {
				n.wild = &refNode[V]{}
			}
			n = n.wild
			continue
		}
		child := n.children[seg]
		if child == nil {
			if n.children == nil {
				n.children = map[string]*refNode[V]{}
			}
			child = &refNode[V]{}
			n.children[seg] = child
		}
		n = child
	}
	for _, rv := range n.values {
		if rv.v == v {
			return nil
		}
	}
	x.size++
	x.count[v]++
	switch x.count[v] {
	case 1:
		n.values = append(n.values, refValue[V]{v: v})
	case 2:
		n.values = append(n.values, refValue[V]{v: v})
		x.markMulti(&x.root, v, true)
	default:
		n.values = append(n.values, refValue[V]{v: v, multi: true})
	}
	return nil
}

// Remove unregisters v from pattern; it reports whether the pair was there.
func (x *RefIndex[V]) Remove(pattern string, v V) bool {
	if ValidatePattern(pattern) != nil {
		return false
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	path := []*refNode[V]{&x.root}
	segs := strings.Split(pattern, "/")
	n := &x.root
	for _, seg := range segs {
		if seg == "*" {
			n = n.wild
		} else {
			n = n.children[seg]
		}
		if n == nil {
			return false
		}
		path = append(path, n)
	}
	i := -1
	for j, rv := range n.values {
		if rv.v == v {
			i = j
			break
		}
	}
	if i < 0 {
		return false
	}
	n.values = append(n.values[:i], n.values[i+1:]...)
	x.size--
	x.count[v]--
	switch x.count[v] {
	case 0:
		delete(x.count, v)
	case 1:
		x.markMulti(&x.root, v, false)
	}
	// Prune empty nodes bottom-up so a churn of subscriptions does not
	// leave the trie growing.
	for k := len(segs) - 1; k >= 0; k-- {
		child, parent := path[k+1], path[k]
		if len(child.values) > 0 || len(child.children) > 0 || child.wild != nil {
			break
		}
		if segs[k] == "*" {
			parent.wild = nil
		} else {
			delete(parent.children, segs[k])
		}
	}
	return true
}

func (x *RefIndex[V]) markMulti(n *refNode[V], v V, multi bool) {
	for i := range n.values {
		if n.values[i].v == v {
			n.values[i].multi = multi
		}
	}
	for _, c := range n.children {
		x.markMulti(c, v, multi)
	}
	if n.wild != nil {
		x.markMulti(n.wild, v, multi)
	}
}

// Match appends to dst every value whose pattern matches ref, each once,
// and returns the extended slice. Order is unspecified.
func (x *RefIndex[V]) Match(ref string, dst []V) []V {
	x.mu.RLock()
	dst = x.root.match(ref, true, dst, len(dst))
	x.mu.RUnlock()
	return dst
}

// match walks the trie; first is true at the root, where even the first
// segment has not been consumed yet.
func (n *refNode[V]) match(ref string, atRoot bool, dst []V, start int) []V {
	if !atRoot {
		dst = appendValues(dst, n.values, start)
	}
	if n.children == nil && n.wild == nil {
		return dst
	}
	if !atRoot {
		var more bool
		_, ref, more = strings.Cut(ref, "/")
		if !more {
			return dst
		}
	}
	seg, _, _ := strings.Cut(ref, "/")
	if c := n.children[seg]; c != nil {
		dst = c.match(ref, false, dst, start)
	}
	if n.wild != nil {
		dst = n.wild.match(ref, false, dst, start)
	}
	return dst
}

func appendValues[V comparable](dst []V, values []refValue[V], start int) []V {
	for _, rv := range values {
		if rv.multi {
			dup := false
			for _, have := range dst[start:] {
				if have == rv.v {
					dup = true
					break
				}
			}
			if dup {
				continue
			}
		}
		dst = append(dst, rv.v)
	}
	return dst
}
