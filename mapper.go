package shipevents

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

//go:embed data/crosswalk/*.tsv
var crosswalkFS embed.FS

// ErrInvalidMapping is returned by [Mapper.Set] and [NewMapper] for a row
// that names an unknown status or event name, disagrees with the catalogue,
// or has an empty key.
var ErrInvalidMapping = errors.New("shipevents: invalid mapping")

// Row is one crosswalk entry: a carrier's raw code, in one of its code
// namespaces, and the canonical status and event name it means.
//
// Namespaces keep codes apart that a carrier reuses: UPS activity codes are
// keyed "type_code" as "I:OT" (type I, code OT) and fall back to "type";
// EasyPost has "status" and "status_detail"; AfterShip "tag" and "subtag".
// The README's crosswalk section lists each carrier's namespaces.
type Row struct {
	Carrier   string
	Namespace string
	Code      string
	Status    Status
	EventName string
	Note      string
}

// Mapping is what a code means: a canonical status and an event name from
// the catalogue.
type Mapping struct {
	Status    Status
	EventName string
}

type mapKey struct{ carrier, namespace, code string }

type mapTable struct {
	exact map[mapKey]Row
	fold  map[mapKey]Row // codes folded to lower case, for case-insensitive fallback
}

// Mapper resolves carrier codes to canonical statuses. The zero value is an
// empty mapper. A Mapper is safe for concurrent use: lookups never block,
// and [Mapper.Set] publishes a new table atomically (copy on write), so a
// host can add or override rows while traffic flows.
type Mapper struct {
	mu    sync.Mutex // serialises writers
	table atomic.Pointer[mapTable]
}

// builtinMapper returns the read-only mapper over the embedded tables,
// parsed once.
var builtinMapper = sync.OnceValue(func() *Mapper {
	rows, err := parseCrosswalkFS(crosswalkFS, "data/crosswalk")
	if err == nil {
		m := &Mapper{}
		if err = m.Set(rows...); err == nil {
			return m
		}
	}
	panic("shipevents: embedded crosswalk: " + err.Error())
})

// DefaultMapper returns a new Mapper holding every embedded crosswalk row.
// Each call returns an independent copy: changing it affects no other
// Normalizer.
func DefaultMapper() *Mapper {
	m := &Mapper{}
	// Tables are never modified once published, so the copy can share it.
	m.table.Store(builtinMapper().table.Load())
	return m
}

// NewMapper returns a Mapper holding only rows.
func NewMapper(rows ...Row) (*Mapper, error) {
	m := &Mapper{}
	if err := m.Set(rows...); err != nil {
		return nil, err
	}
	return m, nil
}

// Set adds rows, replacing any row with the same (carrier, namespace, code).
// Carrier and namespace are matched as given (lower-case by convention);
// codes are matched exactly first and then without regard to case. Set
// validates every row against the catalogue and changes nothing if one is
// invalid.
func (m *Mapper) Set(rows ...Row) error {
	for _, r := range rows {
		if err := validateRow(r); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.table.Load()
	next := &mapTable{exact: make(map[mapKey]Row, len(rows)), fold: make(map[mapKey]Row, len(rows))}
	if old != nil {
		for k, v := range old.exact {
			next.exact[k] = v
		}
	}
	for _, r := range rows {
		next.exact[mapKey{r.Carrier, r.Namespace, r.Code}] = r
	}
	for k, v := range next.exact {
		fk := mapKey{k.carrier, k.namespace, strings.ToLower(k.code)}
		// An exact lower-case entry wins over a folded upper-case one.
		if prev, ok := next.fold[fk]; ok && prev.Code == fk.code {
			continue
		}
		next.fold[fk] = v
	}
	m.table.Store(next)
	return nil
}

func validateRow(r Row) error {
	if r.Carrier == "" || r.Namespace == "" || r.Code == "" {
		return fmt.Errorf("%w: empty carrier, namespace or code in %+v", ErrInvalidMapping, r)
	}
	if !r.Status.Valid() {
		return fmt.Errorf("%w: %s/%s/%s: unknown status %q", ErrInvalidMapping, r.Carrier, r.Namespace, r.Code, r.Status)
	}
	n, ok := catalogue[r.EventName]
	if !ok {
		return fmt.Errorf("%w: %s/%s/%s: event name %q is not in the catalogue", ErrInvalidMapping, r.Carrier, r.Namespace, r.Code, r.EventName)
	}
	if n.Status != r.Status {
		return fmt.Errorf("%w: %s/%s/%s: event name %s carries status %s, row says %s", ErrInvalidMapping, r.Carrier, r.Namespace, r.Code, r.EventName, n.Status, r.Status)
	}
	return nil
}

// Lookup returns the mapping of code in the carrier's namespace.
func (m *Mapper) Lookup(carrier, namespace, code string) (Mapping, bool) {
	t := m.table.Load()
	if t == nil || code == "" {
		return Mapping{}, false
	}
	if r, ok := t.exact[mapKey{carrier, namespace, code}]; ok {
		return Mapping{r.Status, r.EventName}, true
	}
	if r, ok := t.fold[mapKey{carrier, namespace, strings.ToLower(code)}]; ok {
		return Mapping{r.Status, r.EventName}, true
	}
	return Mapping{}, false
}

// Rows returns every row, sorted by carrier, namespace and code. The caller
// owns the slice.
func (m *Mapper) Rows() []Row {
	t := m.table.Load()
	if t == nil {
		return nil
	}
	out := make([]Row, 0, len(t.exact))
	for _, r := range t.exact {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Row) int {
		return strings.Compare(a.Carrier+"\x00"+a.Namespace+"\x00"+a.Code, b.Carrier+"\x00"+b.Namespace+"\x00"+b.Code)
	})
	return out
}

// CarrierCount is how many codes a carrier's table holds.
type CarrierCount struct {
	Carrier string
	Codes   int
}

// Carriers returns each carrier with its number of codes, sorted by name.
func (m *Mapper) Carriers() []CarrierCount {
	counts := map[string]int{}
	for _, r := range m.Rows() {
		counts[r.Carrier]++
	}
	out := make([]CarrierCount, 0, len(counts))
	for c, n := range counts {
		out = append(out, CarrierCount{c, n})
	}
	slices.SortFunc(out, func(a, b CarrierCount) int { return strings.Compare(a.Carrier, b.Carrier) })
	return out
}

// parseCrosswalkFS reads every *.tsv file in dir; the file name (without
// .tsv) is the carrier. It rejects duplicate keys within the data.
func parseCrosswalkFS(fsys fs.FS, dir string) ([]Row, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var rows []Row
	seen := map[mapKey]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".tsv") {
			continue
		}
		data, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		carrier := strings.TrimSuffix(e.Name(), ".tsv")
		fileRows, err := ParseCrosswalk(carrier, data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		for _, r := range fileRows {
			k := mapKey{r.Carrier, r.Namespace, r.Code}
			if where, dup := seen[k]; dup {
				return nil, fmt.Errorf("%w: duplicate key %s/%s/%q (%s and %s)", ErrInvalidMapping, r.Carrier, r.Namespace, r.Code, where, e.Name())
			}
			seen[k] = e.Name()
		}
		rows = append(rows, fileRows...)
	}
	return rows, nil
}

// ParseCrosswalk parses one carrier's table in the embedded format: UTF-8,
// one row per line, tab-separated fields namespace, code, status,
// event_name and an optional note; blank lines and lines starting with '#'
// are ignored. A duplicate (namespace, code) in the same table is an error,
// so a host can keep its own tables in the same format.
func ParseCrosswalk(carrier string, data []byte) ([]Row, error) {
	var rows []Row
	seen := map[[2]string]int{}
	err := forEachTSVRow(data, 4, 5, func(line int, f []string) error {
		r := Row{Carrier: carrier, Namespace: f[0], Code: f[1], Status: Status(f[2]), EventName: f[3]}
		if len(f) == 5 {
			r.Note = f[4]
		}
		if err := validateRow(r); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		k := [2]string{r.Namespace, r.Code}
		if first, dup := seen[k]; dup {
			return fmt.Errorf("%w: line %d: duplicate key %s/%q (first on line %d)", ErrInvalidMapping, line, r.Namespace, r.Code, first)
		}
		seen[k] = line
		rows = append(rows, r)
		return nil
	})
	if err != nil && !errors.Is(err, ErrInvalidMapping) {
		err = fmt.Errorf("%w: %v", ErrInvalidMapping, err)
	}
	return rows, err
}
