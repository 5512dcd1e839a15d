package xmlscan

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
)

// node is an element as both parsers see it: the comparison ignores
// comments, processing instructions and namespace declarations, and joins
// adjacent character data.
type node struct {
	space, local string
	attrs        []string // space|local=value, in document order
	children     []any    // *node or string
}

func (n *node) addText(t string) {
	if k := len(n.children) - 1; k >= 0 {
		if prev, ok := n.children[k].(string); ok {
			n.children[k] = prev + t
			return
		}
	}
	n.children = append(n.children, t)
}

func (n *node) String() string {
	var b strings.Builder
	var walk func(n *node)
	walk = func(n *node) {
		fmt.Fprintf(&b, "<{%s}%s", n.space, n.local)
		for _, a := range n.attrs {
			fmt.Fprintf(&b, " %q", a)
		}
		b.WriteString(">")
		for _, c := range n.children {
			switch c := c.(type) {
			case *node:
				walk(c)
			case string:
				fmt.Fprintf(&b, "%q", c)
			}
		}
		b.WriteString("</>")
	}
	walk(n)
	return b.String()
}

// scanTree reads data with the Scanner.
func scanTree(data []byte, lim Limits) (*node, error) {
	s := New(data, lim)
	var stack []*node
	var root *node
	for {
		tok, err := s.Next()
		if err == io.EOF {
			return root, nil
		}
		if err != nil {
			return nil, err
		}
		switch tok.Kind {
		case StartElement:
			n := &node{space: string(tok.Space), local: string(tok.Local)}
			for _, a := range tok.Attrs {
				n.attrs = append(n.attrs, string(a.Space)+"|"+string(a.Local)+"="+string(a.Value))
			}
			if len(stack) == 0 {
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case EndElement:
			if got := string(tok.Local); got != stack[len(stack)-1].local {
				return nil, fmt.Errorf("end %s for %s", got, stack[len(stack)-1].local)
			}
			stack = stack[:len(stack)-1]
		case CharData:
			stack[len(stack)-1].addText(string(tok.Data))
		}
	}
}

// stdTree reads data with encoding/xml, as a document: one root element,
// nothing but whitespace, comments and processing instructions around it.
// directive reports whether encoding/xml met a <!...> declaration.
func stdTree(data []byte) (root *node, directive bool, err error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	var stack []*node
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if root == nil {
				return nil, directive, errors.New("no root")
			}
			return root, directive, nil
		}
		if err != nil {
			return nil, directive, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{space: t.Name.Space, local: t.Name.Local}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
					continue
				}
				n.attrs = append(n.attrs, a.Name.Space+"|"+a.Name.Local+"="+a.Value)
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, directive, errors.New("two roots")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.Trim(t, " \t\r\n")) > 0 {
					return nil, directive, errors.New("text outside the root")
				}
				continue
			}
			stack[len(stack)-1].addText(string(t))
		case xml.Directive:
			directive = true
		}
	}
}

// insertDoctype puts a small internal DTD where a DOCTYPE belongs: after
// the XML declaration, if there is one.
func insertDoctype(data []byte) []byte {
	const dtd = `<!DOCTYPE r [<!ENTITY e "v">]>`
	at := 0
	if bytes.HasPrefix(data, []byte("<?xml")) {
		if i := bytes.Index(data, []byte("?>")); i >= 0 {
			at = i + 2
		}
	}
	out := append([]byte(nil), data[:at]...)
	out = append(out, dtd...)
	return append(out, data[at:]...)
}

var seeds = []string{
	`<a/>`,
	`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" + `<a x="1" y='&lt;2&gt;'>t&amp;u<b>v</b>&#65;&#x42;<![CDATA[<c>]]></a>`,
	`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><R xmlns="urn:r" xmlns:i="urn:i"><i:n i:nil="true"/><v>1</v></R></s:Body></s:Envelope>`,
	`<tracking-detail xmlns="http://www.canadapost.ca/ws/track"><pin>1</pin><significant-events><occurrence><event-identifier>0174</event-identifier></occurrence></significant-events></tracking-detail>`,
	`<data name="piece-shipment-list" code="0"><data name="piece-event" ice="DLVRD" event-status="a &quot;b&quot;"/></data>`,
	"<a>\r\nline\rline</a><!-- after -->",
	`<a xml:lang="en"><b xmlns="urn:x"><c xmlns=""/></b></a>`,
	`<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`,
	`<a>&unknown;</a>`,
}

// FuzzAgreesWithEncodingXML checks the Scanner against encoding/xml:
// whatever the Scanner accepts, encoding/xml accepts too and reads as the
// same element tree (names, namespaces, attributes, text); a document
// encoding/xml reads with a <!DOCTYPE or other declaration is refused; and
// every accepted document with a DTD inserted is refused with ErrDTD.
func FuzzAgreesWithEncodingXML(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := scanTree(data, Limits{})
		want, directive, stdErr := stdTree(data)
		if directive && err == nil {
			t.Fatalf("accepted a document with a declaration: %q", data)
		}
		if err != nil {
			var xe *Error
			if !errors.As(err, &xe) || xe.Offset < 0 || xe.Offset > int64(len(data)) {
				t.Fatalf("error %v is not an *Error with an offset in the input", err)
			}
			return
		}
		if bytes.HasPrefix(data, bom) {
			return // encoding/xml reads a byte order mark as text
		}
		if stdErr != nil {
			t.Fatalf("accepted what encoding/xml refuses (%v): %q", stdErr, data)
		}
		if got.String() != want.String() {
			t.Fatalf("trees differ for %q:\nscan: %s\nstd:  %s", data, got, want)
		}
		if _, err := scanTree(insertDoctype(data), Limits{}); !errors.Is(err, ErrDTD) {
			t.Fatalf("with a DTD inserted: error %v, want ErrDTD", err)
		}
	})
}

func TestSeedsAgree(t *testing.T) {
	for _, s := range seeds {
		got, err := scanTree([]byte(s), Limits{})
		want, _, stdErr := stdTree([]byte(s))
		if err != nil {
			if strings.Contains(s, "<!DOCTYPE") || strings.Contains(s, "&unknown;") {
				continue
			}
			t.Errorf("%q: %v", s, err)
			continue
		}
		if stdErr != nil || got.String() != want.String() {
			t.Errorf("%q:\nscan: %s\nstd:  %s (%v)", s, got, want, stdErr)
		}
	}
}

func TestHostileDocuments(t *testing.T) {
	laughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">` +
		`<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
		`<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]><lolz>&lol2;</lolz>`
	tests := []struct {
		name, doc string
		want      error // a sentinel, or nil for a plain syntax error
		offset    int
	}{
		{"billion laughs", laughs, ErrDTD, strings.Index(laughs, "<!DOCTYPE")},
		{"external entity", `<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>`, ErrDTD, 0},
		{"external DTD", `<?xml version="1.0"?>` + "\n" + `<!DOCTYPE foo SYSTEM "http://example.com/foo.dtd"><foo/>`, ErrDTD, 22},
		{"entity declaration inside the root", `<a><!ENTITY x "y"></a>`, ErrDTD, 3},
		{"undeclared entity", `<foo>&xxe;</foo>`, ErrEntity, 5},
		{"undeclared entity in an attribute", `<foo a="&xxe;"/>`, ErrEntity, 8},
		{"parameter entity", `<foo>%xxe;&#37;</foo>`, nil, -1}, // text, harmless: accepted
		{"NUL", "<a>\x00</a>", nil, 3},
		{"control character", "<a>\x01</a>", nil, 3},
		{"invalid UTF-8", "<a>\xff\xfe</a>", nil, 3},
		{"U+FFFE", "<a>\uFFFE</a>", nil, 3},
		{"NUL character reference", `<a>&#0;</a>`, nil, 3},
		{"surrogate character reference", `<a>&#xD800;</a>`, nil, 3},
		{"unterminated", `<a><b></b>`, nil, 10},
		{"mismatched end tag", `<a></b>`, nil, 3},
		{"two roots", `<a/><b/>`, nil, 4},
		{"text outside the root", `<a/>x`, nil, 4},
		{"undeclared prefix", `<p:a/>`, nil, 0},
		{"duplicate attribute", `<a x="1" x="2"/>`, nil, 9},
		{"unquoted attribute", `<a x=1/>`, nil, 5},
		{"< in an attribute", `<a x="<"/>`, nil, 6},
		{"not UTF-8", `<?xml version="1.0" encoding="ISO-8859-1"?><a/>`, nil, 5},
		{"declaration not first", ` <?xml version="1.0"?><a/>`, nil, 1},
		{"double hyphen in a comment", `<a><!-- x -- y --></a>`, nil, 10},
		{"empty", ``, nil, 0},
		{"JSON", `{"a":1}`, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scanTree([]byte(tc.doc), Limits{})
			if tc.offset < 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var xe *Error
			if !errors.As(err, &xe) {
				t.Fatalf("error %v, want an *Error", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if tc.want == nil && xe.Err != nil {
				t.Errorf("error %v has cause %v, want a plain syntax error", err, xe.Err)
			}
			if xe.Offset != int64(tc.offset) {
				t.Errorf("offset %d, want %d (%v)", xe.Offset, tc.offset, err)
			}
		})
	}
}

func TestDepthAndAttributeLimits(t *testing.T) {
	deep := strings.Repeat("<a>", 100000) + strings.Repeat("</a>", 100000)
	_, err := scanTree([]byte(deep), Limits{MaxDepth: 32})
	var xe *Error
	if !errors.Is(err, ErrTooDeep) || !errors.As(err, &xe) || xe.Offset != 32*3 {
		t.Errorf("deep nesting: %v, want ErrTooDeep at byte 96", err)
	}
	ok := strings.Repeat("<a>", 32) + strings.Repeat("</a>", 32)
	if _, err := scanTree([]byte(ok), Limits{MaxDepth: 32}); err != nil {
		t.Errorf("32 levels with a limit of 32: %v", err)
	}
	var many strings.Builder
	many.WriteString("<a")
	for i := range 300 {
		fmt.Fprintf(&many, ` a%d="%d"`, i, i)
	}
	many.WriteString("/>")
	if _, err := scanTree([]byte(many.String()), Limits{}); !errors.Is(err, ErrTooManyAttrs) {
		t.Errorf("300 attributes: %v, want ErrTooManyAttrs", err)
	}
}

// A huge attribute value costs no copy: the scanner hands out a slice of
// the input.
func TestHugeAttributeNotCopied(t *testing.T) {
	doc := []byte(`<a v="` + strings.Repeat("x", 8<<20) + `"/>`)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := New(doc, Limits{})
	tok, err := s.Next()
	runtime.ReadMemStats(&after)
	if err != nil || len(tok.Attrs) != 1 || len(tok.Attrs[0].Value) != 8<<20 {
		t.Fatalf("huge attribute: %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("%d bytes allocated reading an 8 MiB attribute", grew)
	}
}

func TestReadTextAndSkip(t *testing.T) {
	doc := []byte(`<r><a>one<x>skipped</x> two&amp;<![CDATA[three]]></a><b>plain</b><c/><d><e f="1">deep<g/></e></d><h>&lt;</h></r>`)
	s := New(doc, Limits{})
	if tok, err := s.Next(); err != nil || string(tok.Local) != "r" {
		t.Fatalf("root: %v", err)
	}
	var got []string
	for {
		tok, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		if tok.Kind == EndElement {
			break
		}
		if tok.Kind != StartElement {
			continue
		}
		if string(tok.Local) == "d" {
			if err := s.Skip(); err != nil {
				t.Fatal(err)
			}
			got = append(got, "d:skipped")
			continue
		}
		text, err := s.ReadText()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(tok.Local)+":"+string(text))
	}
	want := []string{"a:one two&three", "b:plain", "c:", "d:skipped", "h:<"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := s.Next(); err != io.EOF {
		t.Errorf("after the root: %v, want io.EOF", err)
	}
}

func TestNamespaces(t *testing.T) {
	doc := []byte(`<s:Envelope xmlns:s="urn:soap"><s:Body><R xmlns="urn:r" xmlns:i="urn:i" i:type="T" plain="p"><n xmlns=""/></R></s:Body></s:Envelope>`)
	s := New(doc, Limits{})
	var got []string
	for {
		tok, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if tok.Kind == StartElement {
			e := fmt.Sprintf("{%s}%s", tok.Space, tok.Local)
			for _, a := range tok.Attrs {
				e += fmt.Sprintf(" {%s}%s", a.Space, a.Local)
			}
			got = append(got, e)
		}
	}
	want := []string{"{urn:soap}Envelope", "{urn:soap}Body", "{urn:r}R {urn:i}type {}plain", "{}n"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func BenchmarkScan(b *testing.B) {
	var doc bytes.Buffer
	doc.WriteString(`<?xml version="1.0" encoding="UTF-8"?><r xmlns="urn:r">`)
	for i := range 50 {
		fmt.Fprintf(&doc, `<item id="%d" kind="scan &amp; sort"><name>Item %d</name><when>2025-03-14T09:12:00Z</when></item>`, i, i)
	}
	doc.WriteString(`</r>`)
	data := doc.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	s := New(nil, Limits{})
	for b.Loop() {
		s.Reset(data, Limits{})
		for {
			_, err := s.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
