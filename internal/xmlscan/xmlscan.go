// Package xmlscan is a strict XML 1.0 tokenizer for untrusted documents.
//
// It reads one well-formed document from a byte slice and hands out its
// elements, attributes and character data as slices of that input, so a
// document costs no allocation beyond a few reusable buffers. It is
// stricter than encoding/xml and never more lenient, but for skipping a
// leading byte order mark (FuzzAgreesWithEncodingXML checks both, and that
// the two read the same tree): a document type declaration (<!DOCTYPE, <!ENTITY, ...) is
// refused wherever it appears, the only entity references are the five
// predefined ones and numeric character references, nothing is ever
// fetched, elements nest no deeper than a limit, and an element has a
// bounded number of attributes. Namespace prefixes are resolved to their
// URIs; an undeclared prefix is an error.
//
// Errors are *Error values with the byte offset of the problem; they
// unwrap to ErrDTD, ErrEntity, ErrTooDeep or ErrTooManyAttrs where one of
// those applies.
package xmlscan

import (
	"bytes"
	"errors"
	"io"
	"unicode/utf8"
)

// Sentinel causes of an *Error; test with errors.Is.
var (
	// ErrDTD: the document has a document type declaration or markup
	// declaration (DOCTYPE, ENTITY, ELEMENT, ATTLIST, NOTATION).
	ErrDTD = errors.New("document type and entity declarations are not accepted")
	// ErrEntity: an entity reference other than &lt; &gt; &amp; &apos;
	// &quot; and character references.
	ErrEntity = errors.New("only the predefined entities and character references are accepted")
	// ErrTooDeep: elements nest deeper than Limits.MaxDepth.
	ErrTooDeep = errors.New("elements nest deeper than the depth limit")
	// ErrTooManyAttrs: an element has more than Limits.MaxAttrs attributes.
	ErrTooManyAttrs = errors.New("element has more attributes than the limit")
)

// Error is a problem in the document at a byte offset.
type Error struct {
	Offset int64  // byte offset in the input
	Msg    string // what is wrong
	Err    error  // ErrDTD, ErrEntity, ErrTooDeep, ErrTooManyAttrs or nil
}

func (e *Error) Error() string { return "xml: " + e.Msg }

// Unwrap returns the sentinel cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Kind is the kind of a token.
type Kind uint8

// Token kinds.
const (
	StartElement Kind = iota + 1
	EndElement
	CharData // text or a CDATA section
)

// XMLNamespace is the URI bound to the reserved prefix xml.
const XMLNamespace = "http://www.w3.org/XML/1998/namespace"

// Attr is an attribute of a start element. Its slices are valid until the
// next call to Next.
type Attr struct {
	Prefix []byte // as written; empty when unprefixed
	Local  []byte
	Space  []byte // namespace URI; nil for an unprefixed attribute
	Value  []byte // with references replaced and line ends normalized
}

// Token is one item of the document. Its slices are valid until the next
// call to Next.
type Token struct {
	Kind   Kind
	Offset int64  // byte offset where the token starts
	Prefix []byte // elements: the prefix as written
	Local  []byte // elements: the local name
	Space  []byte // elements: the namespace URI, nil when none
	Attrs  []Attr // StartElement: the attributes, namespace declarations left out
	Data   []byte // CharData: the text, with references replaced and line ends normalized
}

// Limits bound what a document may cost. Zero fields take the defaults.
type Limits struct {
	MaxDepth int // element nesting, the root at depth 1; default 64
	MaxAttrs int // attributes of one element, namespace declarations included; default 256
}

// Defaults applied for zero Limits fields.
const (
	DefaultMaxDepth = 64
	DefaultMaxAttrs = 256
)

type frame struct {
	qname  []byte // the name as written, for matching the end tag
	prefix []byte
	local  []byte
	space  []byte
	nsMark int // len(Scanner.ns) before this element's declarations
}

type binding struct {
	prefix []byte
	uri    []byte // empty for xmlns="" (no default namespace)
}

// rawAttr is an attribute while its start tag is being read; values that
// needed unescaping live in Scanner.vbuf until the tag is complete.
type rawAttr struct {
	qname        []byte
	prefix       []byte
	local        []byte
	value        []byte
	vstart, vend int // into vbuf when inBuf
	inBuf        bool
}

// Scanner reads the tokens of one document. It is not safe for
// concurrent use.
type Scanner struct {
	data       []byte
	pos        int
	lim        Limits
	stack      []frame
	ns         []binding
	raw        []rawAttr
	attrs      []Attr
	buf        []byte // unescaped character data of the current token
	vbuf       []byte // unescaped attribute values of the current start tag
	acc        []byte // ReadText's concatenation
	pendingEnd bool   // the last token was a self-closing start tag
	dataInBuf  bool   // the last CharData token's Data is in buf
	rootSeen   bool
	rootDone   bool
	err        error // sticky
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// New returns a Scanner over data. data must not change while the Scanner
// is in use. Invalid UTF-8 and characters XML does not allow (control
// characters other than tab, line feed and carriage return, U+FFFE, U+FFFF)
// are reported by the first call to Next.
func New(data []byte, lim Limits) *Scanner {
	s := &Scanner{}
	s.Reset(data, lim)
	return s
}

// Reset makes s read data from the start, keeping its buffers.
func (s *Scanner) Reset(data []byte, lim Limits) {
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = DefaultMaxDepth
	}
	if lim.MaxAttrs <= 0 {
		lim.MaxAttrs = DefaultMaxAttrs
	}
	*s = Scanner{data: data, lim: lim, stack: s.stack[:0], ns: s.ns[:0], raw: s.raw[:0], attrs: s.attrs[:0],
		buf: s.buf[:0], vbuf: s.vbuf[:0], acc: s.acc[:0]}
	if off := checkChars(data); off >= 0 {
		s.err = &Error{Offset: int64(off), Msg: "invalid UTF-8 or a character XML does not allow"}
		return
	}
	if bytes.HasPrefix(data, bom) {
		s.pos = len(bom)
	}
}

// checkChars returns the offset of the first byte that is not part of a
// character XML allows, or -1.
func checkChars(data []byte) int {
	ascii := true
	for i, c := range data {
		if c < 0x20 {
			if c != '\t' && c != '\n' && c != '\r' {
				return i
			}
		} else if c >= 0x80 {
			ascii = false
		}
	}
	if ascii {
		return -1
	}
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 || r == 0xFFFE || r == 0xFFFF {
			return i
		}
		i += n
	}
	return -1
}

// Depth returns the number of open elements.
func (s *Scanner) Depth() int { return len(s.stack) }

func (s *Scanner) fail(off int, cause error, msg string) error {
	s.err = &Error{Offset: int64(off), Msg: msg, Err: cause}
	return s.err
}

// Next returns the next token: a start or end element, or character data
// (inside the root only). Comments, processing instructions and the XML
// declaration are checked and skipped; whitespace outside the root is
// skipped. A self-closing element gives a StartElement and an EndElement.
// After the root element's end, Next returns io.EOF.
func (s *Scanner) Next() (Token, error) {
	if s.err != nil {
		return Token{}, s.err
	}
	if s.pendingEnd {
		s.pendingEnd = false
		return s.popElement(s.pos), nil
	}
	s.buf = s.buf[:0]
	return s.next(false)
}

// next reads the next token; with discard set, character data is checked
// but not unescaped (Skip uses it).
func (s *Scanner) next(discard bool) (Token, error) {
	data := s.data
	for {
		if s.pos >= len(data) {
			switch {
			case len(s.stack) > 0:
				return Token{}, s.fail(s.pos, nil, "unexpected end of document inside element <"+string(s.stack[len(s.stack)-1].qname)+">")
			case !s.rootSeen:
				return Token{}, s.fail(s.pos, nil, "no root element")
			}
			return Token{}, io.EOF
		}
		if data[s.pos] != '<' {
			if len(s.stack) == 0 {
				if !isSpace(data[s.pos]) {
					return Token{}, s.fail(s.pos, nil, "text outside the root element")
				}
				s.pos++
				continue
			}
			return s.charData(discard)
		}
		if s.pos+1 >= len(data) {
			return Token{}, s.fail(s.pos, nil, "unexpected end of document after <")
		}
		switch data[s.pos+1] {
		case '/':
			return s.endTag()
		case '?':
			if err := s.procInst(); err != nil {
				return Token{}, err
			}
		case '!':
			rest := data[s.pos:]
			switch {
			case bytes.HasPrefix(rest, []byte("<!--")):
				if err := s.comment(); err != nil {
					return Token{}, err
				}
			case bytes.HasPrefix(rest, []byte("<![CDATA[")):
				if len(s.stack) == 0 {
					return Token{}, s.fail(s.pos, nil, "CDATA section outside the root element")
				}
				return s.cdata(discard)
			case isDeclaration(rest):
				return Token{}, s.fail(s.pos, ErrDTD, "markup declaration")
			default:
				return Token{}, s.fail(s.pos, nil, "unrecognised markup after <!")
			}
		default:
			return s.startTag()
		}
	}
}

func isDeclaration(rest []byte) bool {
	for _, kw := range [...]string{"<!DOCTYPE", "<!ENTITY", "<!ELEMENT", "<!ATTLIST", "<!NOTATION"} {
		if bytes.HasPrefix(rest, []byte(kw)) {
			return true
		}
	}
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

func (s *Scanner) skipSpace() {
	for s.pos < len(s.data) && isSpace(s.data[s.pos]) {
		s.pos++
	}
}

func isNameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':' || c >= utf8.RuneSelf
}

func isNameByte(c byte) bool {
	return isNameStart(c) || c >= '0' && c <= '9' || c == '-' || c == '.'
}

// name reads a name at s.pos.
func (s *Scanner) name() ([]byte, bool) {
	start := s.pos
	if start >= len(s.data) || !isNameStart(s.data[start]) {
		return nil, false
	}
	i := start + 1
	for i < len(s.data) && isNameByte(s.data[i]) {
		i++
	}
	s.pos = i
	return s.data[start:i], true
}

// splitName splits a qualified name at its colon; a name with an empty
// prefix or local part, or more than one colon, is not accepted.
func splitName(q []byte) (prefix, local []byte, ok bool) {
	i := bytes.IndexByte(q, ':')
	if i < 0 {
		return nil, q, true
	}
	prefix, local = q[:i], q[i+1:]
	if len(prefix) == 0 || len(local) == 0 || bytes.IndexByte(local, ':') >= 0 || !isNameStart(local[0]) {
		return nil, nil, false
	}
	return prefix, local, true
}

func (s *Scanner) startTag() (Token, error) {
	start := s.pos
	s.pos++ // <
	qname, ok := s.name()
	if !ok {
		return Token{}, s.fail(s.pos, nil, "expected an element name after <")
	}
	prefix, local, ok := splitName(qname)
	if !ok {
		return Token{}, s.fail(start+1, nil, "malformed qualified name")
	}
	if len(s.stack) == 0 && s.rootDone {
		return Token{}, s.fail(start, nil, "a second root element")
	}
	s.raw = s.raw[:0]
	s.vbuf = s.vbuf[:0]
	selfClosing := false
	for {
		sp := s.pos
		s.skipSpace()
		if s.pos >= len(s.data) {
			return Token{}, s.fail(s.pos, nil, "unexpected end of document in a start tag")
		}
		c := s.data[s.pos]
		if c == '>' {
			s.pos++
			break
		}
		if c == '/' {
			if s.pos+1 >= len(s.data) || s.data[s.pos+1] != '>' {
				return Token{}, s.fail(s.pos, nil, "expected /> ")
			}
			s.pos += 2
			selfClosing = true
			break
		}
		if s.pos == sp {
			return Token{}, s.fail(s.pos, nil, "expected whitespace before an attribute")
		}
		if err := s.attr(); err != nil {
			return Token{}, err
		}
	}
	if len(s.stack) >= s.lim.MaxDepth {
		return Token{}, s.fail(start, ErrTooDeep, "elements nest deeper than the depth limit")
	}
	// Namespace declarations first, so that the element's own prefix and
	// its attributes' resolve against them.
	nsMark := len(s.ns)
	for i := range s.raw {
		a := &s.raw[i]
		v := a.value
		if a.inBuf {
			v = s.vbuf[a.vstart:a.vend]
		}
		switch {
		case a.prefix == nil && string(a.local) == "xmlns":
			s.ns = append(s.ns, binding{prefix: nil, uri: s.stable(a, v)})
		case string(a.prefix) == "xmlns":
			if string(a.local) == "xmlns" || len(v) == 0 || (string(a.local) == "xml") != (string(v) == XMLNamespace) {
				return Token{}, s.fail(start, nil, "invalid namespace declaration xmlns:"+string(a.local))
			}
			s.ns = append(s.ns, binding{prefix: a.local, uri: s.stable(a, v)})
		}
	}
	space, err := s.resolve(prefix, true)
	if err != nil {
		return Token{}, s.fail(start, nil, err.Error())
	}
	s.attrs = s.attrs[:0]
	for i := range s.raw {
		a := &s.raw[i]
		if string(a.prefix) == "xmlns" || a.prefix == nil && string(a.local) == "xmlns" {
			continue
		}
		v := a.value
		if a.inBuf {
			v = s.vbuf[a.vstart:a.vend]
		}
		var aspace []byte
		if a.prefix != nil {
			if aspace, err = s.resolve(a.prefix, false); err != nil {
				return Token{}, s.fail(start, nil, err.Error())
			}
		}
		s.attrs = append(s.attrs, Attr{Prefix: a.prefix, Local: a.local, Space: aspace, Value: v})
	}
	s.stack = append(s.stack, frame{qname: qname, prefix: prefix, local: local, space: space, nsMark: nsMark})
	s.rootSeen = true
	s.pendingEnd = selfClosing
	return Token{Kind: StartElement, Offset: int64(start), Prefix: prefix, Local: local, Space: space, Attrs: s.attrs}, nil
}

// stable returns a namespace URI that outlives the current tag: the input
// itself when the value needed no unescaping, else a copy.
func (s *Scanner) stable(a *rawAttr, v []byte) []byte {
	if !a.inBuf {
		return v
	}
	return append([]byte(nil), v...)
}

var xmlNS = []byte(XMLNamespace)

type nsError string

func (e nsError) Error() string { return string(e) }

// resolve returns the URI bound to prefix; for elements an empty prefix
// means the default namespace.
func (s *Scanner) resolve(prefix []byte, element bool) ([]byte, error) {
	if len(prefix) == 0 {
		if !element {
			return nil, nil
		}
		for i := len(s.ns) - 1; i >= 0; i-- {
			if s.ns[i].prefix == nil {
				if len(s.ns[i].uri) == 0 {
					return nil, nil
				}
				return s.ns[i].uri, nil
			}
		}
		return nil, nil
	}
	if string(prefix) == "xml" {
		return xmlNS, nil
	}
	if string(prefix) == "xmlns" {
		return nil, nsError("the prefix xmlns is reserved")
	}
	for i := len(s.ns) - 1; i >= 0; i-- {
		if s.ns[i].prefix != nil && bytes.Equal(s.ns[i].prefix, prefix) {
			return s.ns[i].uri, nil
		}
	}
	return nil, nsError("undeclared namespace prefix " + string(prefix))
}

// attr reads name="value" at s.pos into s.raw.
func (s *Scanner) attr() error {
	if len(s.raw) >= s.lim.MaxAttrs {
		return s.fail(s.pos, ErrTooManyAttrs, "element has more attributes than the limit")
	}
	nameAt := s.pos
	qname, ok := s.name()
	if !ok {
		return s.fail(s.pos, nil, "expected an attribute name")
	}
	prefix, local, ok := splitName(qname)
	if !ok {
		return s.fail(nameAt, nil, "malformed qualified name")
	}
	for i := range s.raw {
		if bytes.Equal(s.raw[i].qname, qname) {
			return s.fail(nameAt, nil, "duplicate attribute "+string(qname))
		}
	}
	s.skipSpace()
	if s.pos >= len(s.data) || s.data[s.pos] != '=' {
		return s.fail(s.pos, nil, "expected = after attribute "+string(qname))
	}
	s.pos++
	s.skipSpace()
	if s.pos >= len(s.data) || s.data[s.pos] != '"' && s.data[s.pos] != '\'' {
		return s.fail(s.pos, nil, "expected a quoted attribute value")
	}
	quote := s.data[s.pos]
	vstart := s.pos + 1
	n := bytes.IndexByte(s.data[vstart:], quote)
	if n < 0 {
		return s.fail(s.pos, nil, "unterminated attribute value")
	}
	v := s.data[vstart : vstart+n]
	if i := bytes.IndexByte(v, '<'); i >= 0 {
		return s.fail(vstart+i, nil, "< in an attribute value")
	}
	s.pos = vstart + n + 1
	ra := rawAttr{qname: qname, prefix: prefix, local: local, value: v}
	if needsUnescape(v) {
		b, err := s.unescape(s.vbuf, v, vstart, false)
		if err != nil {
			return err
		}
		ra.inBuf, ra.vstart, ra.vend = true, len(s.vbuf), len(b)
		s.vbuf = b
	}
	s.raw = append(s.raw, ra)
	return nil
}

func needsUnescape(v []byte) bool {
	return bytes.IndexByte(v, '&') >= 0 || bytes.IndexByte(v, '\r') >= 0
}

func (s *Scanner) endTag() (Token, error) {
	start := s.pos
	s.pos += 2 // </
	qname, ok := s.name()
	if !ok {
		return Token{}, s.fail(s.pos, nil, "expected an element name after </")
	}
	s.skipSpace()
	if s.pos >= len(s.data) || s.data[s.pos] != '>' {
		return Token{}, s.fail(s.pos, nil, "expected > to close the end tag")
	}
	s.pos++
	if len(s.stack) == 0 {
		return Token{}, s.fail(start, nil, "end tag </"+string(qname)+"> without a start tag")
	}
	if top := s.stack[len(s.stack)-1].qname; !bytes.Equal(top, qname) {
		return Token{}, s.fail(start, nil, "element <"+string(top)+"> closed by </"+string(qname)+">")
	}
	return s.popElement(start), nil
}

// popElement closes the innermost element.
func (s *Scanner) popElement(off int) Token {
	f := s.stack[len(s.stack)-1]
	s.stack = s.stack[:len(s.stack)-1]
	s.ns = s.ns[:f.nsMark]
	if len(s.stack) == 0 {
		s.rootDone = true
	}
	return Token{Kind: EndElement, Offset: int64(off), Prefix: f.prefix, Local: f.local, Space: f.space}
}

func (s *Scanner) charData(discard bool) (Token, error) {
	start := s.pos
	n := bytes.IndexByte(s.data[start:], '<')
	if n < 0 {
		n = len(s.data) - start
	}
	seg := s.data[start : start+n]
	s.pos = start + n
	s.dataInBuf = false
	if !needsUnescape(seg) {
		return Token{Kind: CharData, Offset: int64(start), Data: seg}, nil
	}
	b, err := s.unescape(s.buf, seg, start, discard)
	if err != nil {
		return Token{}, err
	}
	s.buf, s.dataInBuf = b, true
	return Token{Kind: CharData, Offset: int64(start), Data: b}, nil
}

func (s *Scanner) cdata(discard bool) (Token, error) {
	start := s.pos
	from := start + len("<![CDATA[")
	n := bytes.Index(s.data[from:], []byte("]]>"))
	if n < 0 {
		return Token{}, s.fail(start, nil, "unterminated CDATA section")
	}
	seg := s.data[from : from+n]
	s.pos = from + n + 3
	s.dataInBuf = false
	if bytes.IndexByte(seg, '\r') < 0 || discard {
		return Token{Kind: CharData, Offset: int64(start), Data: seg}, nil
	}
	s.buf, s.dataInBuf = appendNormalized(s.buf, seg), true
	return Token{Kind: CharData, Offset: int64(start), Data: s.buf}, nil
}

// appendNormalized appends seg with \r\n and lone \r turned into \n.
func appendNormalized(dst, seg []byte) []byte {
	for len(seg) > 0 {
		i := bytes.IndexByte(seg, '\r')
		if i < 0 {
			return append(dst, seg...)
		}
		dst = append(dst, seg[:i]...)
		dst = append(dst, '\n')
		seg = seg[i+1:]
		if len(seg) > 0 && seg[0] == '\n' {
			seg = seg[1:]
		}
	}
	return dst
}

func (s *Scanner) comment() error {
	start := s.pos
	from := start + len("<!--")
	n := bytes.Index(s.data[from:], []byte("--"))
	if n < 0 {
		return s.fail(start, nil, "unterminated comment")
	}
	end := from + n
	if end+2 >= len(s.data) || s.data[end+2] != '>' {
		return s.fail(end, nil, "-- inside a comment")
	}
	s.pos = end + 3
	return nil
}

// procInst skips a processing instruction, or reads the XML declaration
// when it starts the document.
func (s *Scanner) procInst() error {
	start := s.pos
	s.pos += 2 // <?
	target, ok := s.name()
	if !ok {
		return s.fail(s.pos, nil, "expected a processing instruction target")
	}
	n := bytes.Index(s.data[s.pos:], []byte("?>"))
	if n < 0 {
		return s.fail(start, nil, "unterminated processing instruction")
	}
	body := s.data[s.pos : s.pos+n]
	bodyAt := s.pos
	s.pos += n + 2
	if len(body) > 0 && !isSpace(body[0]) {
		return s.fail(bodyAt, nil, "expected whitespace after the processing instruction target")
	}
	if len(target) == 3 && (target[0]|0x20) == 'x' && (target[1]|0x20) == 'm' && (target[2]|0x20) == 'l' {
		first := 0
		if bytes.HasPrefix(s.data, bom) {
			first = len(bom)
		}
		if start != first || string(target) != "xml" {
			return s.fail(start, nil, "XML declaration not at the start of the document")
		}
		return s.xmlDecl(body, bodyAt)
	}
	if bytes.IndexByte(target, ':') >= 0 {
		return s.fail(start+2, nil, "colon in a processing instruction target")
	}
	return nil
}

// xmlDecl checks version="1.0" [encoding="UTF-8"] [standalone="yes|no"].
func (s *Scanner) xmlDecl(body []byte, at int) error {
	i := 0
	param := func(name string) ([]byte, bool, error) {
		j := i
		for j < len(body) && isSpace(body[j]) {
			j++
		}
		if j == i || !bytes.HasPrefix(body[j:], []byte(name)) {
			return nil, false, nil
		}
		j += len(name)
		for j < len(body) && isSpace(body[j]) {
			j++
		}
		if j >= len(body) || body[j] != '=' {
			return nil, false, s.fail(at+j, nil, "malformed XML declaration")
		}
		j++
		for j < len(body) && isSpace(body[j]) {
			j++
		}
		if j >= len(body) || body[j] != '"' && body[j] != '\'' {
			return nil, false, s.fail(at+j, nil, "malformed XML declaration")
		}
		q := body[j]
		k := bytes.IndexByte(body[j+1:], q)
		if k < 0 {
			return nil, false, s.fail(at+j, nil, "malformed XML declaration")
		}
		v := body[j+1 : j+1+k]
		i = j + 1 + k + 1
		return v, true, nil
	}
	v, ok, err := param("version")
	if err != nil {
		return err
	}
	if !ok || string(v) != "1.0" {
		return s.fail(at, nil, "XML declaration without version 1.0")
	}
	if v, ok, err = param("encoding"); err != nil {
		return err
	} else if ok && !equalFoldASCII(v, "utf-8") {
		return s.fail(at, nil, "encoding "+quoteShort(string(v))+" is not UTF-8")
	}
	if v, ok, err = param("standalone"); err != nil {
		return err
	} else if ok && string(v) != "yes" && string(v) != "no" {
		return s.fail(at, nil, "malformed XML declaration")
	}
	for ; i < len(body); i++ {
		if !isSpace(body[i]) {
			return s.fail(at+i, nil, "malformed XML declaration")
		}
	}
	return nil
}

func equalFoldASCII(a []byte, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// quoteShort quotes a value from the document for an error message,
// shortened: error messages end up in logs.
func quoteShort(v string) string {
	if len(v) > 32 {
		v = v[:32] + "..."
	}
	out := make([]byte, 0, len(v)+2)
	out = append(out, '"')
	for _, r := range v {
		if r < 0x20 || r == '"' || r == '\\' || r == utf8.RuneError {
			out = append(out, '?')
			continue
		}
		out = utf8.AppendRune(out, r)
	}
	return string(append(out, '"'))
}

// unescape appends seg (which starts at offset off of the input) to dst
// with references replaced and line ends normalized. With discard set it
// only checks the references and returns dst unchanged.
func (s *Scanner) unescape(dst, seg []byte, off int, discard bool) ([]byte, error) {
	out := dst
	i := 0
	for i < len(seg) {
		j := i
		for j < len(seg) && seg[j] != '&' && seg[j] != '\r' {
			j++
		}
		if !discard {
			out = append(out, seg[i:j]...)
		}
		if j == len(seg) {
			break
		}
		if seg[j] == '\r' {
			if !discard {
				out = append(out, '\n')
			}
			j++
			if j < len(seg) && seg[j] == '\n' {
				j++
			}
			i = j
			continue
		}
		semi := bytes.IndexByte(seg[j:min(len(seg), j+maxRefLen)], ';')
		if semi < 0 {
			if j+1 < len(seg) && seg[j+1] == '#' {
				return dst, s.fail(off+j, nil, "invalid character reference")
			}
			return dst, s.fail(off+j, ErrEntity, "& not starting a predefined entity or character reference")
		}
		ref := seg[j+1 : j+semi]
		var r rune
		switch string(ref) {
		case "lt":
			r = '<'
		case "gt":
			r = '>'
		case "amp":
			r = '&'
		case "apos":
			r = '\''
		case "quot":
			r = '"'
		default:
			var ok bool
			if r, ok = charRef(ref); !ok {
				if len(ref) > 0 && ref[0] == '#' {
					return dst, s.fail(off+j, nil, "invalid character reference")
				}
				return dst, s.fail(off+j, ErrEntity, "entity reference &"+string(ref)+";")
			}
		}
		if !discard {
			out = utf8.AppendRune(out, r)
		}
		i = j + semi + 1
	}
	return out, nil
}

// maxRefLen bounds a reference from & to ; (the longest useful one,
// &#x10FFFF;, has 10 bytes; leading zeros beyond that are refused).
const maxRefLen = 16

// charRef reads #123 or #x7B as a character XML allows.
func charRef(ref []byte) (rune, bool) {
	if len(ref) < 2 || ref[0] != '#' {
		return 0, false
	}
	digits, base := ref[1:], rune(10)
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 {
		return 0, false
	}
	var r rune
	for _, c := range digits {
		var d rune
		switch {
		case c >= '0' && c <= '9':
			d = rune(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = rune(c-'A') + 10
		default:
			return 0, false
		}
		r = r*base + d
		if r > utf8.MaxRune {
			return 0, false
		}
	}
	return r, isChar(r)
}

// isChar reports whether XML allows the character r.
func isChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= utf8.MaxRune
}

// Skip skips the rest of the element whose StartElement was the last
// token, checking it as it goes.
func (s *Scanner) Skip() error {
	if s.err != nil {
		return s.err
	}
	if s.pendingEnd {
		s.pendingEnd = false
		s.popElement(s.pos)
		return nil
	}
	depth := len(s.stack)
	for {
		if s.pendingEnd {
			s.pendingEnd = false
			s.popElement(s.pos)
		} else {
			s.buf = s.buf[:0]
			if _, err := s.next(true); err != nil {
				return err
			}
		}
		if len(s.stack) < depth {
			return nil
		}
	}
}

// ReadText reads the rest of the element whose StartElement was the last
// token and returns its character data (child elements are skipped). The
// result is valid until the next call to Next, Skip or ReadText.
func (s *Scanner) ReadText() ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	depth := len(s.stack)
	var direct []byte // the only segment, when it is a slice of the input
	inAcc := false
	segments := 0
	for {
		tok, err := s.Next()
		if err != nil {
			return nil, err
		}
		switch tok.Kind {
		case CharData:
			segments++
			if segments == 1 && !s.dataInBuf {
				direct = tok.Data
				continue
			}
			if !inAcc {
				s.acc = append(s.acc[:0], direct...)
				inAcc = true
			}
			s.acc = append(s.acc, tok.Data...)
		case StartElement:
			if err := s.Skip(); err != nil {
				return nil, err
			}
		case EndElement:
			if len(s.stack) < depth {
				if inAcc {
					return s.acc, nil
				}
				return direct, nil
			}
		}
	}
}
