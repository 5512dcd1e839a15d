package shipevents

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/shipevents/shipevents/internal/xmlscan"
)

// XML payloads (Canada Post, Purolator, DHL Parcel DE, bpost) are read
// with internal/xmlscan, a strict tokenizer that refuses any document type
// declaration, knows only the predefined entities and character
// references, fetches nothing and bounds nesting and attributes; the
// parsers walk its tokens. A payload is XML when its first byte other than
// whitespace (after an optional byte order mark) is '<'.

// isXMLPayload reports whether raw looks like an XML document.
func isXMLPayload(raw []byte) bool {
	raw = bytes.TrimPrefix(raw, []byte{0xEF, 0xBB, 0xBF})
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '<':
			return true
		}
		return false
	}
	return false
}

// xmlRoot is what detection sees of an XML payload: the root element, its
// name attribute (DHL Parcel DE names its elements that way) and, for a
// SOAP envelope, the first element inside the body.
type xmlRoot struct {
	space, local         string
	nameAttr             string
	bodySpace, bodyLocal string
}

func (r *xmlRoot) describe() string {
	s := "none: XML root element " + shortName(r.local)
	if r.space != "" {
		s += " in namespace " + shortName(r.space)
	}
	if r.bodyLocal != "" {
		s += ", SOAP body " + shortName(r.bodyLocal)
	}
	return s
}

// shortName quotes a name from a payload for an error message, shortened.
func shortName(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}

// SOAP envelope namespaces, 1.1 and 1.2.
const (
	soap11NS = "http://schemas.xmlsoap.org/soap/envelope/"
	soap12NS = "http://www.w3.org/2003/05/soap-envelope"
)

func isSOAPEnvelope(space, local []byte) bool {
	return string(local) == "Envelope" && (string(space) == soap11NS || string(space) == soap12NS)
}

// precheckXML checks an XML payload before parsing. Only detection needs
// to look inside (the parsers' scanner enforces every rule as it reads);
// it reads up to the root element, or for a SOAP envelope up to the first
// element of its body.
func (n *Normalizer) precheckXML(format string, raw []byte, wantTop bool) (*topLevel, error) {
	if !wantTop {
		return nil, nil
	}
	sc := getXMLScanner(raw, n.maxDepth)
	defer putXMLScanner(sc)
	root, err := sc.Next()
	if err != nil {
		return nil, xmlPayloadError(format, "", n.maxDepth, err)
	}
	r := &xmlRoot{space: string(root.Space), local: string(root.Local)}
	for _, a := range root.Attrs {
		if a.Prefix == nil && string(a.Local) == "name" {
			r.nameAttr = string(a.Value)
		}
	}
	if isSOAPEnvelope(root.Space, root.Local) {
		body, err := soapBody(sc)
		if err != nil {
			return nil, xmlPayloadError(format, "", n.maxDepth, err)
		}
		r.bodySpace, r.bodyLocal = string(body.Space), string(body.Local)
	}
	return &topLevel{xml: r}, nil
}

// detectXML names the XML format whose root the payload has, or "".
func detectXML(r *xmlRoot) string {
	switch {
	case r.local == "tracking-detail" && (r.space == "" || strings.HasPrefix(r.space, canadaPostTrackNS)),
		r.local == "messages" && strings.HasPrefix(r.space, canadaPostNSPrefix):
		return FormatCanadaPost
	case isPurolatorTracking(r.bodySpace, r.bodyLocal), isPurolatorTracking(r.space, r.local):
		return FormatPurolator
	case r.local == "data" && r.space == "" && r.nameAttr == "piece-shipment-list":
		return FormatDHLParcelDE
	case r.local == "itemTracking" && r.space == bpostTrackingNS,
		(r.local == "businessException" || r.local == "systemException") && strings.HasPrefix(r.space, bpostNSPrefix):
		return FormatBpost
	}
	return ""
}

// soapBody walks from a SOAP envelope's start to the first element inside
// its Body, skipping the header.
func soapBody(sc *xmlscan.Scanner) (xmlscan.Token, error) {
	inBody := false
	for {
		tok, err := sc.Next()
		if err != nil {
			return tok, err
		}
		switch tok.Kind {
		case xmlscan.StartElement:
			if inBody {
				return tok, nil
			}
			if string(tok.Local) == "Body" {
				inBody = true
				continue
			}
			if err := sc.Skip(); err != nil {
				return tok, err
			}
		case xmlscan.EndElement:
			if inBody {
				return tok, errSOAPEmptyBody
			}
			return tok, errSOAPNoBody
		}
	}
}

var (
	errSOAPNoBody    = errors.New("SOAP envelope without a Body element")
	errSOAPEmptyBody = errors.New("empty SOAP Body")
)

var xmlScanners = sync.Pool{New: func() any { return new(xmlscan.Scanner) }}

func getXMLScanner(raw []byte, maxDepth int) *xmlscan.Scanner {
	sc := xmlScanners.Get().(*xmlscan.Scanner)
	sc.Reset(raw, xmlscan.Limits{MaxDepth: maxDepth})
	return sc
}

func putXMLScanner(sc *xmlscan.Scanner) {
	sc.Reset(nil, xmlscan.Limits{}) // drop the reference to the payload
	xmlScanners.Put(sc)
}

// xmlPayloadError turns a scanner error into a PayloadError with its byte
// offset; too deep nesting matches ErrPayloadTooDeep.
func xmlPayloadError(format, path string, maxDepth int, err error) error {
	var xe *xmlscan.Error
	if !errors.As(err, &xe) {
		return &PayloadError{Format: format, Path: path, Offset: -1, Err: err}
	}
	pe := &PayloadError{Format: format, Path: path, Offset: xe.Offset, Err: xe}
	if errors.Is(xe, xmlscan.ErrTooDeep) {
		pe.Err = fmt.Errorf("%w: deeper than %d", ErrPayloadTooDeep, maxDepth)
	}
	return pe
}

// xmlDoc is an XML payload being parsed: the scanner and the batch.
type xmlDoc struct {
	b  *batch
	sc *xmlscan.Scanner
}

// openXML starts reading raw and returns its root element; for a SOAP
// envelope, the first element inside the body. Call close when done.
func (b *batch) openXML(raw []byte) (*xmlDoc, xmlscan.Token, error) {
	d := &xmlDoc{b: b, sc: getXMLScanner(raw, b.n.maxDepth)}
	root, err := d.sc.Next()
	if err == nil && isSOAPEnvelope(root.Space, root.Local) {
		root, err = soapBody(d.sc)
	}
	if err != nil {
		d.close()
		return nil, root, d.err(err)
	}
	return d, root, nil
}

// end reads the rest of the document, so that a payload is accepted only
// when all of it is well-formed (a truncated SOAP envelope, a second root).
func (d *xmlDoc) end() error {
	for {
		if _, err := d.sc.Next(); err != nil {
			if err == io.EOF {
				return nil
			}
			return d.err(err)
		}
	}
}

func (d *xmlDoc) close() {
	if d.sc != nil {
		putXMLScanner(d.sc)
		d.sc = nil
	}
}

// err reports a scanner error at the batch's current path.
func (d *xmlDoc) err(err error) error {
	return xmlPayloadError(d.b.format, d.b.path(), d.b.n.maxDepth, err)
}

// child returns the next child element of the element being read, or
// ok false at its end (text between children is passed over).
func (d *xmlDoc) child() (tok xmlscan.Token, ok bool, err error) {
	for {
		tok, err := d.sc.Next()
		if err != nil {
			return tok, false, d.err(err)
		}
		switch tok.Kind {
		case xmlscan.StartElement:
			return tok, true, nil
		case xmlscan.EndElement:
			return tok, false, nil
		}
	}
}

// text reads the rest of the current element as trimmed text.
func (d *xmlDoc) text() (string, error) {
	t, err := d.sc.ReadText()
	if err != nil {
		return "", d.err(err)
	}
	t = bytes.TrimSpace(t)
	if len(t) == 0 {
		return "", nil
	}
	return string(t), nil
}

// skip skips the rest of the current element.
func (d *xmlDoc) skip() error {
	if err := d.sc.Skip(); err != nil {
		return d.err(err)
	}
	return nil
}

// attrString returns the trimmed value of an attribute.
func attrString(a *xmlscan.Attr) string {
	v := bytes.TrimSpace(a.Value)
	if len(v) == 0 {
		return ""
	}
	return string(v)
}

// tooManyScans fails once a payload lists more scans than the event
// limit allows, before they are all held in memory.
func (b *batch) tooManyScans(n int) error {
	if n > b.n.maxEvents {
		return b.fail("more than %d events in one payload", b.n.maxEvents)
	}
	return nil
}

// appendMessage adds "code: text" from a carrier's error response to msgs,
// keeping at most a few, each shortened: the text is the sender's, and it
// ends up in logs.
func appendMessage(msgs []string, code, text string) []string {
	const maxMessages, maxLen = 5, 200
	if len(msgs) >= maxMessages {
		return msgs
	}
	m := strings.TrimSpace(code) + ": " + strings.TrimSpace(text)
	m = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' ' // one line in a log
		}
		return r
	}, strings.Trim(m, ": "))
	if m == "" {
		return msgs
	}
	if len(m) > maxLen {
		m = strings.ToValidUTF8(m[:maxLen], "") + "..."
	}
	return append(msgs, m)
}

// childText reads the rest of the current element and returns the text of
// its child element name (the last one, if repeated); other children are
// skipped.
func (d *xmlDoc) childText(name string) (string, error) {
	v := ""
	for {
		f, ok, err := d.child()
		if err != nil || !ok {
			return v, err
		}
		if string(f.Local) == name {
			v, err = d.text()
		} else {
			err = d.skip()
		}
		if err != nil {
			return "", err
		}
	}
}
