package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// sanitize makes a string from outside (a payload, a stored event, an
// error quoting either) safe to print on a terminal: every rune that is
// not printable (control characters, escape sequences, bidirectional
// overrides, tabs that would break a table's columns) and every invalid
// byte is written as a Go escape.
func sanitize(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRune(r) // '\x1b', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}

// safeJSON rewrites the runes encoding/json leaves raw but a terminal may
// act on (DEL, the C1 controls, bidirectional overrides and other
// non-printable runes) as \u escapes. The JSON means the same: outside
// strings a compact encoding holds only printable ASCII.
func safeJSON(b []byte) []byte {
	i := 0
	for i < len(b) && b[i] >= 0x20 && b[i] < 0x7f {
		i++
	}
	if i == len(b) {
		return b
	}
	out := append([]byte(nil), b[:i]...)
	for i < len(b) {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			out = append(out, `\ufffd`...)
		case r >= 0x20 && r < 0x7f || r >= 0x80 && unicode.IsPrint(r):
			out = append(out, b[i:i+size]...)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		default:
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += size
	}
	return out
}

// lineWriter writes one JSON value per line.
type lineWriter struct{ w *bufio.Writer }

func newLineWriter(w io.Writer) *lineWriter { return &lineWriter{w: bufio.NewWriter(w)} }

// writeRaw writes an already marshalled value.
func (lw *lineWriter) writeRaw(b []byte) error {
	lw.w.Write(safeJSON(b))
	return lw.w.WriteByte('\n')
}

func (lw *lineWriter) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return lw.writeRaw(b)
}

func (lw *lineWriter) flush() error { return lw.w.Flush() }

// table writes aligned columns; every cell is sanitized, and long ones
// are cut to maxCell runes.
type table struct{ tw *tabwriter.Writer }

const maxCell = 80

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	fmt.Fprintln(t.tw, strings.Join(header, "\t"))
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		c = sanitize(c)
		if utf8.RuneCountInString(c) > maxCell {
			c = string([]rune(c)[:maxCell-1]) + "…"
		}
		if c == "" {
			c = "-"
		}
		cells[i] = c
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// formatTime prints a stored time in UTC to the second, or "-" for none.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// timeFlag is a flag holding an instant, written as RFC 3339, as a date
// (midnight UTC), as unix seconds, or as a duration meaning that long
// before now (24h, 90m).
type timeFlag struct {
	t   time.Time
	now func() time.Time
}

func (f *timeFlag) String() string {
	if f == nil || f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339Nano)
}

func (f *timeFlag) Set(s string) error {
	t, err := parseTime(s, f.now)
	if err != nil {
		return err
	}
	f.t = t
	return nil
}

func parseTime(s string, now func() time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now().Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: want RFC 3339 (2026-03-01T12:00:00Z), a date (2026-03-01), unix seconds, or a duration ago (24h)", s)
}

// listFlag collects a repeatable flag whose values may also be
// comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// outputFlag selects table or JSON lines output.
func outputFlag(fs *flag.FlagSet) *string {
	return fs.String("o", "table", "the output `format`: table (aligned columns) or json (one JSON object per line)")
}

func checkOutput(o string) error {
	if o != "table" && o != "json" {
		return usageError("-o %q: want table or json", o)
	}
	return nil
}
