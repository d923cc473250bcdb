package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kinds of the documents the server stores.
const (
	KindExperiment  = "Experiment"
	KindGameDay     = "GameDay"
	KindEnvironment = "Environment"
)

// Identify returns the kind and metadata.name of the first Experiment,
// GameDay or Environment document in a YAML stream or JSON document (a
// {"source": "…"} envelope is opened, as the server opens it), as the
// server reads them.
//
// It reads without a YAML library: the top-level keys of each document,
// kind and metadata, in block form (metadata:\n  name: x) or flow form
// (metadata: {name: x}), plain or quoted, with comments, multi-line quoted
// and flow values, block scalars and document markers. What it cannot
// read for certain — an anchor, alias, tag or merge key on the way to the
// name, a complex key, a duplicate kind or name, a document that is not a
// mapping — is an error rather than a guess, so Apply never updates the
// wrong document.
func Identify(src []byte) (kind, name string, err error) {
	src = bytes.TrimPrefix(src, []byte("\ufeff"))
	if json.Valid(src) {
		return identifyJSON(src)
	}
	for _, doc := range splitDocuments(string(src)) {
		kind, name, found, err := identifyDocument(doc)
		if err != nil {
			return "", "", fmt.Errorf("faultline: document at line %d: %w", doc.first, err)
		}
		if found {
			return kind, name, nil
		}
	}
	return "", "", errNoDocument
}

var errNoDocument = errors.New("faultline: the stream holds no document of kind Experiment, GameDay or Environment")

func isStoredKind(kind string) bool {
	return kind == KindExperiment || kind == KindGameDay || kind == KindEnvironment
}

// identifyJSON reads a JSON body as the server does: {"source": "…"}
// without apiVersion carries the text, any other object is the document.
func identifyJSON(src []byte) (kind, name string, err error) {
	// The same (case-insensitive) decoding as the server's envelope check.
	var envelope struct {
		Source     *string `json:"source"`
		APIVersion string  `json:"apiVersion"`
	}
	if json.Unmarshal(src, &envelope) == nil && envelope.Source != nil && envelope.APIVersion == "" {
		return Identify([]byte(*envelope.Source))
	}
	// Keys are matched exactly, as a YAML decoder matches them.
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(src, &doc); err != nil {
		return "", "", fmt.Errorf("faultline: the JSON document is not an object: %w", err)
	}
	if err := json.Unmarshal(doc["kind"], &kind); err != nil || !isStoredKind(kind) {
		return "", "", errNoDocument
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(doc["metadata"], &meta); err != nil {
		return "", "", fmt.Errorf("faultline: %s: metadata is not an object", kind)
	}
	if err := json.Unmarshal(meta["name"], &name); err != nil || name == "" {
		return "", "", fmt.Errorf("faultline: %s: metadata.name is missing or not a string", kind)
	}
	return kind, name, nil
}

// document is one document of a stream: its lines and the number of its
// first one.
type document struct {
	lines []string
	first int
	// err is a document marker line carrying content other than a flow
	// mapping (--- !tag).
	err error
}

// splitDocuments splits a YAML stream at its --- and ... lines.
func splitDocuments(src string) []document {
	var docs []document
	cur := document{first: 1}
	for i, line := range strings.Split(src, "\n") {
		line = strings.TrimSuffix(line, "\r")
		switch {
		case line == "---" || strings.HasPrefix(line, "--- ") || strings.HasPrefix(line, "---\t"):
			docs = append(docs, cur)
			cur = document{first: i + 2}
			switch rest := strings.TrimSpace(line[3:]); {
			case rest == "" || rest[0] == '#':
			case rest[0] == '{':
				// A flow mapping may start on the marker's line.
				cur = document{first: i + 1, lines: []string{rest}}
			default:
				cur.err = fmt.Errorf("line %d: content after --- other than a flow mapping", i+1)
			}
		case line == "..." || strings.HasPrefix(line, "... "):
			docs = append(docs, cur)
			cur = document{first: i + 2}
		case strings.HasPrefix(line, "%") && !hasContent(cur.lines):
			// A directive (%YAML 1.2) before the document starts.
			cur.lines = append(cur.lines, "")
		default:
			cur.lines = append(cur.lines, line)
		}
	}
	return append(docs, cur)
}

func hasContent(lines []string) bool {
	for _, l := range lines {
		if t := strings.TrimSpace(l); t != "" && t[0] != '#' {
			return true
		}
	}
	return false
}

// identifyDocument reads one document's kind and, when it is a stored
// kind, its metadata.name; found is false for other documents.
func identifyDocument(doc document) (kind, name string, found bool, err error) {
	if doc.err != nil {
		return "", "", false, doc.err
	}
	if !hasContent(doc.lines) {
		return "", "", false, nil
	}
	lines, err := scanLines(doc.lines, doc.first)
	if err != nil {
		return "", "", false, err
	}
	var top map[string][]entry
	if first := firstStructural(lines); first != nil && !first.item && isFlowStart(first.rest) {
		for _, l := range lines {
			if l.kind == lineStructural && l.no != first.no {
				return "", "", false, fmt.Errorf("line %d: text after a flow mapping", l.no)
			}
		}
		top, err = flowMapping(first.value, first.no)
	} else {
		top, err = blockMapping(lines)
	}
	if err != nil {
		return "", "", false, err
	}
	kindEntry, err := single(top, "kind")
	if err != nil || kindEntry == nil {
		return "", "", false, err
	}
	if kind, err = kindEntry.scalar(); err != nil {
		return "", "", false, err
	}
	if !isStoredKind(kind) {
		return "", "", false, nil
	}
	name, err = metadataName(top)
	if err != nil {
		return "", "", false, fmt.Errorf("%s: %w", kind, err)
	}
	return kind, name, true, nil
}

// metadataName reads metadata.name from a document's top-level keys.
func metadataName(top map[string][]entry) (string, error) {
	meta, err := single(top, "metadata")
	if err != nil {
		return "", err
	}
	if meta == nil {
		return "", errors.New("no metadata")
	}
	if meta.decorated {
		return "", fmt.Errorf("line %d: metadata carries an anchor, alias or tag", meta.no)
	}
	var fields map[string][]entry
	switch v := stripComment(meta.value); {
	case v == "":
		fields, err = blockMapping(meta.children)
	case isFlowStart(v) && v[0] == '{':
		fields, err = flowMapping(meta.value, meta.no)
	default:
		return "", fmt.Errorf("line %d: metadata is not a mapping", meta.no)
	}
	if err != nil {
		return "", err
	}
	nameEntry, err := single(fields, "name")
	if err != nil {
		return "", err
	}
	if nameEntry == nil {
		if len(fields["<<"]) > 0 {
			return "", fmt.Errorf("line %d: metadata merges another mapping (<<)", meta.no)
		}
		return "", errors.New("no metadata.name")
	}
	name, err := nameEntry.scalar()
	if err == nil && name == "" {
		err = fmt.Errorf("line %d: metadata.name is empty", nameEntry.no)
	}
	return name, err
}

// single returns the one entry of key; nil when there is none, an error
// when there are several.
func single(m map[string][]entry, key string) (*entry, error) {
	switch es := m[key]; len(es) {
	case 0:
		return nil, nil
	case 1:
		return &es[0], nil
	default:
		return nil, fmt.Errorf("line %d: %s is given twice", es[1].no, key)
	}
}

// lineKind says what a line of a document is to the reader.
type lineKind int

const (
	// lineBlank is an empty or comment line.
	lineBlank lineKind = iota
	// lineStructural starts a key or a sequence item.
	lineStructural
	// lineContent belongs to a value begun on an earlier line: a block
	// scalar, a plain scalar's continuation, a quoted or flow value
	// spilling over.
	lineContent
)

// line is one line of a document as scanLines reads it.
type line struct {
	no     int
	indent int
	kind   lineKind
	// item says the line starts with "- ": a sequence item.
	item bool
	// rest is the line after its indentation and "- " markers.
	rest string
	// value is rest with the lines a quoted or flow value spills onto.
	value string
}

// scanLines tells the structural lines of a document (those that start
// a key or a sequence item) from the others. It follows quoted and flow
// values across lines and passes over block scalars and plain scalars'
// continuations, so text inside a value is never taken for a key.
func scanLines(raw []string, first int) ([]line, error) {
	out := make([]line, len(raw))
	blockAbove, plainAbove := -1, -1 // a scalar's further lines are indented deeper than these
	for i := 0; i < len(raw); i++ {
		text := raw[i]
		trimmed := strings.TrimLeft(text, " ")
		l := &out[i]
		l.no, l.indent = first+i, len(text)-len(trimmed)
		blank := strings.TrimSpace(trimmed) == ""
		if blockAbove >= 0 && (blank || l.indent > blockAbove) {
			l.kind = lineContent
			continue
		}
		blockAbove = -1
		if plainAbove >= 0 && !blank && trimmed[0] != '#' && l.indent > plainAbove {
			l.kind = lineContent
			continue
		}
		if blank || trimmed[0] == '#' {
			continue
		}
		plainAbove = -1
		if trimmed[0] == '\t' {
			return nil, fmt.Errorf("line %d: a tab in the indentation", l.no)
		}
		l.kind = lineStructural
		col, owner, rest := l.indent, l.indent, trimmed
		for rest == "-" || strings.HasPrefix(rest, "- ") {
			after := strings.TrimLeft(rest[1:], " ")
			owner, l.item = col, true
			col += len(rest) - len(after)
			rest = after
		}
		l.rest, l.value = rest, rest
		value := rest
		if k, v, ok := splitKey(rest); ok && k != "" {
			owner, value = col, v
		}
		value, _ = stripDecorations(value)
		switch {
		case value == "" || value[0] == '#':
		case value[0] == '|' || value[0] == '>':
			blockAbove = owner
		case value[0] == '"' || value[0] == '\'' || isFlowStart(value):
			joined, end, err := spill(raw, i, value)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", l.no, err)
			}
			l.value = strings.TrimSuffix(rest, value) + joined
			for j := i + 1; j <= end; j++ {
				out[j] = line{no: first + j, kind: lineContent}
			}
			i = end
		default:
			plainAbove = owner
		}
	}
	return out, nil
}

// spill follows a quoted or flow value that starts on line i (value is
// its text there) to its end, and returns its whole text and the index of
// its last line.
func spill(raw []string, i int, value string) (string, int, error) {
	var s closer
	joined := value
	if s.feed(value) {
		return joined, i, nil
	}
	for j := i + 1; j < len(raw); j++ {
		next := "\n" + raw[j]
		joined += next
		if s.feed(next) {
			return joined, j, nil
		}
	}
	return "", 0, errors.New("a quoted or flow value does not end")
}

// closer follows a quoted scalar or a flow collection through its text
// and says when it ends.
type closer struct {
	depth int
	quote byte // the open quote; 0 outside one
	// last is the last character outside quotes, spaces and comments,
	// which decides whether a quote opens a scalar.
	last    byte
	comment bool
}

// feed reads more of the value and reports whether it has ended.
func (s *closer) feed(text string) bool {
	for i := 0; i < len(text); i++ {
		ch := text[i]
		switch {
		case s.comment:
			s.comment = ch != '\n'
		case s.quote == '"':
			if ch == '\\' {
				i++
			} else if ch == '"' {
				s.quote, s.last = 0, ch
				if s.depth == 0 {
					return true
				}
			}
		case s.quote == '\'':
			if ch == '\'' && i+1 < len(text) && text[i+1] == '\'' {
				i++
			} else if ch == '\'' {
				s.quote, s.last = 0, ch
				if s.depth == 0 {
					return true
				}
			}
		case isSpace(ch):
		case ch == '#' && (i == 0 || isSpace(text[i-1])):
			s.comment = true
		case (ch == '"' || ch == '\'') && (s.last == 0 || strings.IndexByte("{[,:", s.last) >= 0):
			s.quote = ch
		case ch == '{' || ch == '[':
			s.depth, s.last = s.depth+1, ch
		case ch == '}' || ch == ']':
			s.depth, s.last = s.depth-1, ch
			if s.depth <= 0 {
				return true
			}
		default:
			s.last = ch
		}
	}
	return false
}

func isSpace(ch byte) bool { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' }

// entry is a key of a mapping with its value.
type entry struct {
	no int
	// value is the value's text: on the key's line, with the lines a
	// quoted or flow value spills onto.
	value string
	// decorated says the value carries an anchor, alias or tag.
	decorated bool
	// children are the lines under the key (block form).
	children []line
}

// scalar decodes the entry's value as a scalar on one line.
func (e *entry) scalar() (string, error) {
	if e.decorated {
		return "", fmt.Errorf("line %d: the value carries an anchor, alias or tag", e.no)
	}
	for _, c := range e.children {
		if c.kind != lineBlank {
			return "", fmt.Errorf("line %d: the value goes on over several lines", e.no)
		}
	}
	v, err := decodeScalar(e.value)
	if err != nil {
		return "", fmt.Errorf("line %d: %w", e.no, err)
	}
	return v, nil
}

func firstStructural(lines []line) *line {
	for i := range lines {
		if lines[i].kind == lineStructural {
			return &lines[i]
		}
	}
	return nil
}

// blockMapping reads the keys of a block mapping from its lines: those at
// the indentation of the first structural line are its keys, the lines
// below a key until the next belong to that key.
func blockMapping(lines []line) (map[string][]entry, error) {
	first := firstStructural(lines)
	if first == nil {
		return nil, nil
	}
	m := map[string][]entry{}
	var (
		cur    *entry
		curKey string
	)
	for _, l := range lines {
		if l.kind != lineStructural || l.indent > first.indent {
			if cur == nil {
				if l.kind == lineBlank {
					continue
				}
				return nil, fmt.Errorf("line %d: indented under nothing", l.no)
			}
			cur.children = append(cur.children, l)
			continue
		}
		if l.indent < first.indent {
			return nil, fmt.Errorf("line %d: indented less than the mapping it is in", l.no)
		}
		if l.item {
			return nil, fmt.Errorf("line %d: a sequence, not a mapping", l.no)
		}
		key, value, ok := splitKey(l.value)
		if !ok {
			return nil, fmt.Errorf("line %d: not a key: value line", l.no)
		}
		if cur != nil {
			m[curKey] = append(m[curKey], *cur)
		}
		value, decorated := stripDecorations(value)
		curKey, cur = key, &entry{no: l.no, value: value, decorated: decorated}
	}
	if cur != nil {
		m[curKey] = append(m[curKey], *cur)
	}
	return m, nil
}

// splitKey splits "key: value" (a plain, 'single' or "double" quoted key)
// at its colon; ok is false when the text is no such key, complex (?)
// and anchored keys included.
func splitKey(text string) (key, value string, ok bool) {
	if text == "" {
		return "", "", false
	}
	if text[0] == '"' || text[0] == '\'' {
		end := quotedEnd(text)
		if end < 0 {
			return "", "", false
		}
		k, err := decodeScalar(text[:end+1])
		rest := strings.TrimLeft(text[end+1:], " \t")
		if err != nil || !strings.HasPrefix(rest, ":") {
			return "", "", false
		}
		return k, strings.TrimLeft(rest[1:], " \t"), true
	}
	if strings.IndexByte("?&*!|>%@`#,[]{}", text[0]) >= 0 {
		return "", "", false
	}
	for i := 0; i < len(text); i++ {
		switch {
		case text[i] == ':' && (i+1 == len(text) || text[i+1] == ' ' || text[i+1] == '\t'):
			return strings.TrimRight(text[:i], " \t"), strings.TrimLeft(text[i+1:], " \t"), true
		case text[i] == '#' && i > 0 && (text[i-1] == ' ' || text[i-1] == '\t'):
			return "", "", false
		}
	}
	return "", "", false
}

// stripDecorations removes the anchors (&a) and tags (!t) before a value
// and reports whether there were any, or the value is an alias (*a).
func stripDecorations(v string) (string, bool) {
	decorated := false
	for v != "" && (v[0] == '&' || v[0] == '!') {
		decorated = true
		end := strings.IndexAny(v, " \t")
		if end < 0 {
			return "", true
		}
		v = strings.TrimLeft(v[end:], " \t")
	}
	return v, decorated || strings.HasPrefix(v, "*")
}

func isFlowStart(v string) bool { return v != "" && (v[0] == '{' || v[0] == '[') }

// flowMapping reads the keys of a flow mapping ({a: 1, b: {c: 2}}), which
// may span lines; anything but a comment after its closing brace is an
// error.
func flowMapping(text string, no int) (map[string][]entry, error) {
	text = strings.TrimLeft(text, " \t")
	if !strings.HasPrefix(text, "{") {
		return nil, fmt.Errorf("line %d: not a mapping", no)
	}
	items, end, err := flowItems(text)
	if err != nil {
		return nil, fmt.Errorf("line %d: %w", no, err)
	}
	if rest := stripComment(strings.TrimSpace(text[end:])); rest != "" {
		return nil, fmt.Errorf("line %d: text after a flow mapping", no)
	}
	m := map[string][]entry{}
	for _, item := range items {
		key, value, ok := splitFlowKey(item)
		if !ok {
			return nil, fmt.Errorf("line %d: cannot read the flow entry %q", no, item)
		}
		value, decorated := stripDecorations(value)
		m[key] = append(m[key], entry{no: no, value: value, decorated: decorated})
	}
	return m, nil
}

// flowItems splits the flow collection text starts with at its top-level
// commas, comments removed; end is the index after its closing bracket.
func flowItems(text string) (items []string, end int, err error) {
	var (
		cur   strings.Builder
		depth int
		quote byte
		last  byte
	)
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			items = append(items, s)
		}
		cur.Reset()
	}
	for i := 0; i < len(text); i++ {
		ch := text[i]
		if quote != 0 {
			cur.WriteByte(ch)
			switch {
			case quote == '"' && ch == '\\' && i+1 < len(text):
				i++
				cur.WriteByte(text[i])
			case quote == '\'' && ch == '\'' && i+1 < len(text) && text[i+1] == '\'':
				i++
				cur.WriteByte(text[i])
			case ch == quote:
				quote, last = 0, ch
			}
			continue
		}
		switch {
		case ch == '#' && i > 0 && isSpace(text[i-1]):
			for i+1 < len(text) && text[i+1] != '\n' {
				i++
			}
			continue
		case (ch == '"' || ch == '\'') && strings.IndexByte("{[,:", last) >= 0:
			quote = ch
		case ch == '{' || ch == '[':
			depth++
			if depth == 1 {
				last = ch
				continue
			}
		case ch == '}' || ch == ']':
			depth--
			if depth == 0 {
				flush()
				return items, i + 1, nil
			}
		case ch == ',' && depth == 1:
			flush()
			last = ch
			continue
		}
		if !isSpace(ch) {
			last = ch
		}
		cur.WriteByte(ch)
	}
	return nil, 0, errors.New("a flow mapping does not end")
}

// splitFlowKey splits a flow entry "key: value" ("key" alone has an empty
// value); a quoted key may be followed by its colon directly, as in JSON.
func splitFlowKey(item string) (key, value string, ok bool) {
	if item[0] == '"' || item[0] == '\'' {
		end := quotedEnd(item)
		if end < 0 {
			return "", "", false
		}
		k, err := decodeScalar(item[:end+1])
		rest := strings.TrimSpace(item[end+1:])
		switch {
		case err != nil:
			return "", "", false
		case rest == "":
			return k, "", true
		case rest[0] != ':':
			return "", "", false
		}
		return k, strings.TrimSpace(rest[1:]), true
	}
	if strings.IndexByte("?&*!|>%@`#,[]{}", item[0]) >= 0 {
		return "", "", false
	}
	for i := 0; i < len(item); i++ {
		if item[i] == ':' && (i+1 == len(item) || strings.IndexByte(" \t\n\r,[]{}", item[i+1]) >= 0) {
			return strings.TrimSpace(item[:i]), strings.TrimSpace(item[i+1:]), !strings.ContainsAny(item[:i], "\n\r")
		}
	}
	return item, "", !strings.ContainsAny(item, "\n\r")
}

// quotedEnd returns the index of the quote that closes the quoted scalar
// text starts with, or -1.
func quotedEnd(text string) int {
	q := text[0]
	for i := 1; i < len(text); i++ {
		switch {
		case q == '"' && text[i] == '\\':
			i++
		case q == '\'' && text[i] == '\'' && i+1 < len(text) && text[i+1] == '\'':
			i++
		case text[i] == q:
			return i
		}
	}
	return -1
}

// stripComment removes a trailing comment and spaces from a value.
func stripComment(v string) string {
	for i := 0; i < len(v); i++ {
		if v[i] == '#' && (i == 0 || v[i-1] == ' ' || v[i-1] == '\t') {
			v = v[:i]
			break
		}
	}
	return strings.TrimRight(v, " \t")
}

// decodeScalar decodes a scalar on one line: plain, 'single' or "double"
// quoted, followed at most by a comment.
func decodeScalar(v string) (string, error) {
	v = strings.TrimLeft(v, " \t")
	if v == "" || v[0] == '#' {
		return "", nil
	}
	switch v[0] {
	case '"', '\'':
		end := quotedEnd(v)
		if end < 0 {
			return "", errors.New("a quoted value does not end")
		}
		if rest := strings.TrimLeft(v[end+1:], " \t"); rest != "" && rest[0] != '#' {
			return "", errors.New("text after a quoted value")
		}
		body := v[1:end]
		if strings.ContainsAny(body, "\n\r") {
			return "", errors.New("a quoted value spans lines")
		}
		if v[0] == '\'' {
			return strings.ReplaceAll(body, "''", "'"), nil
		}
		return unescapeDouble(body)
	case '&', '*', '!', '|', '>', '[', '{', '%', '@', '`', ']', '}', ',', '?':
		return "", fmt.Errorf("cannot read the value %q", v)
	}
	s := stripComment(v)
	if strings.ContainsAny(s, "\n\r") {
		return "", errors.New("a plain value spans lines")
	}
	if s == "-" || strings.HasPrefix(s, "- ") || s == ":" || strings.HasPrefix(s, ": ") {
		return "", fmt.Errorf("cannot read the value %q", v)
	}
	return s, nil
}

// unescapeDouble decodes the escapes of a double-quoted YAML scalar.
func unescapeDouble(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i++; i == len(s) {
			return "", errors.New("a lone backslash")
		}
		if r, ok := simpleEscapes[s[i]]; ok {
			b.WriteString(r)
			continue
		}
		width := hexEscapes[s[i]]
		if width == 0 {
			return "", fmt.Errorf(`an unknown escape \%c`, s[i])
		}
		if i+width >= len(s) {
			return "", errors.New("a short escape")
		}
		n, err := strconv.ParseUint(s[i+1:i+1+width], 16, 32)
		if err != nil || !utf8.ValidRune(rune(n)) {
			return "", errors.New("a bad escape")
		}
		b.WriteRune(rune(n))
		i += width
	}
	return b.String(), nil
}

var (
	simpleEscapes = map[byte]string{
		'0': "\x00", 'a': "\a", 'b': "\b", 't': "\t", '\t': "\t", 'n': "\n", 'v': "\v", 'f': "\f", 'r': "\r",
		'e': "\x1b", ' ': " ", '"': `"`, '/': "/", '\\': `\`, 'N': "\u0085", '_': "\u00a0", 'L': "\u2028", 'P': "\u2029",
	}
	hexEscapes = map[byte]int{'x': 2, 'u': 4, 'U': 8}
)
