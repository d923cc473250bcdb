package scenarios

import (
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Unimplemented marks an Istio field that Faultline knows but does not
// implement. A document that sets it is rejected with an error naming the
// field, never silently ignored.
type Unimplemented struct{}

var (
	unimplementedType   = reflect.TypeFor[Unimplemented]()
	rawResourceType     = reflect.TypeFor[RawResource]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// RawResource is an Istio resource held inside spec.traffic, decoded with
// the rest of the stream.
type RawResource struct {
	node *yaml.Node
}

// MarshalJSON renders the resource as plain JSON.
func (r RawResource) MarshalJSON() ([]byte, error) {
	if r.node == nil {
		return []byte("null"), nil
	}
	var v any
	if err := r.node.Decode(&v); err != nil {
		return nil, fmt.Errorf("scenarios: render traffic resource: %w", err)
	}
	return json.Marshal(v)
}

// decoder turns a yaml.Node tree into Go values strictly: unknown fields,
// wrong types and duplicate keys are problems with a field path and a line.
type decoder struct {
	rep *reporter
	// visited counts decoded nodes, aliases expanded, so a small document
	// whose aliases multiply ("billion laughs") cannot make decoding run
	// for ever.
	visited  int
	tooLarge bool
	// pathBytes sums the field paths made, each node's repeating its
	// parents', which grows with depth times width.
	pathBytes int
	// depth counts the objects and lists decode is inside, aliases
	// expanded, so an alias cannot nest a document past MaxDepth.
	depth   int
	tooDeep bool
}

// maxDecodedNodes bounds the nodes one document may expand to.
const maxDecodedNodes = 100_000

// maxPathBytes bounds the bytes of the field paths one document's values
// are decoded at (and their lines kept under). The shipped documents need
// under 2 KB; a game day of parallel groups 30 deep holding 30,000 waits
// needed 80 MiB.
const maxPathBytes = 4 << 20

// decode fills v (a settable value) from n; path is the field path of n.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.visited++; d.visited > maxDecodedNodes {
		d.refuse(path, fmt.Sprintf("the document expands to more than %d values (aliases repeated too often)", maxDecodedNodes))
		return
	}
	if d.pathBytes += len(path); d.pathBytes > maxPathBytes {
		d.refuse(path, fmt.Sprintf("the document's values are nested too deep for how many there are (their field paths pass %d MiB)", maxPathBytes>>20))
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) && d.depth >= MaxDepth {
		if !d.tooDeep {
			d.tooDeep = true
			d.rep.errorf(path, "the document %s", depthProblem)
		}
		return
	}
	if _, seen := d.rep.lines[path]; !seen {
		d.rep.lines[path] = n.Line
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an explicit null leaves the zero value
	}
	t := v.Type()
	if t == rawResourceType {
		v.Set(reflect.ValueOf(RawResource{node: n}))
		return
	}
	if t == unimplementedType {
		d.rep.errorf(path, "not implemented by Faultline")
		return
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		if n.Kind != yaml.ScalarNode {
			d.rep.errorf(path, "must be a scalar, not a %s", kindName(n))
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.rep.errorf(path, "%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		elem := reflect.New(t.Elem())
		d.decode(n, elem.Elem(), path)
		v.Set(elem)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Interface:
		var raw any
		if err := n.Decode(&raw); err != nil { // yaml.v3 bounds alias expansion here
			d.rep.errorf(path, "%v", err)
			return
		}
		v.Set(reflect.ValueOf(&raw).Elem())
	default:
		d.decodeScalar(n, v, path)
	}
}

// refuse reports, once, that the document is too large to decode, and
// makes every later call of decode return at once.
func (d *decoder) refuse(path, msg string) {
	if d.tooLarge {
		return
	}
	d.tooLarge = true
	d.rep.errorf(path, "%s", msg)
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.rep.errorf(path, "must be an object, not a %s", kindName(n))
		return
	}
	d.depth++
	defer func() { d.depth-- }()
	fields := structFields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content) && !d.tooLarge; i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		idx, ok := fields[key.Value]
		child := joinPath(path, key.Value)
		if !ok {
			d.rep.lines[child] = key.Line
			if near := nearestField(v.Type(), key.Value); near != "" {
				d.rep.errorf(child, "unknown field %q; did you mean %q?", key.Value, near)
			} else {
				d.rep.errorf(child, "unknown field %q", key.Value)
			}
			continue
		}
		name := v.Type().Field(idx).Name
		if seen[name] {
			d.rep.lines[child] = key.Line
			d.rep.errorf(child, "field set twice")
			continue
		}
		seen[name] = true
		d.rep.lines[child] = key.Line
		d.decode(val, v.Field(idx), child)
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.rep.errorf(path, "must be a list, not a %s", kindName(n))
		return
	}
	d.depth++
	defer func() { d.depth-- }()
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		if d.tooLarge {
			break
		}
		d.decode(item, s.Index(i), path+"["+strconv.Itoa(i)+"]")
	}
	v.Set(s)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.rep.errorf(path, "must be an object, not a %s", kindName(n))
		return
	}
	d.depth++
	defer func() { d.depth-- }()
	if v.Type().Key().Kind() != reflect.String {
		panic("scenarios: map keys must be strings") // programming error in the model
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content) && !d.tooLarge; i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		child := path + "." + pathKey(key)
		d.rep.lines[child] = key.Line
		k := reflect.New(v.Type().Key()).Elem()
		k.SetString(key.Value)
		if m.MapIndex(k).IsValid() {
			d.rep.errorf(child, "key set twice")
			continue
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, child)
		m.SetMapIndex(k, elem)
	}
	v.Set(m)
}

func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.rep.errorf(path, "must be a %s, not a %s", v.Kind(), kindName(n))
		return
	}
	s := n.Value
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil || n.Tag == "!!int" {
			d.rep.errorf(path, "must be true or false, not %q", s)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			d.rep.errorf(path, "must be an integer in range, not %q", s)
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, err := strconv.ParseUint(s, 10, v.Type().Bits())
		if err != nil {
			d.rep.errorf(path, "must be a non-negative integer in range, not %q", s)
			return
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.rep.errorf(path, "must be a number, not %q", s)
			return
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("scenarios: unsupported model kind %s at %s", v.Kind(), path))
	}
}

// structFields maps every accepted key of a struct to its field index: the
// json name and the proto snake_case spellings Istio's CRDs also accept
// (mirror_percent for mirrorPercent).
func structFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		out[name] = i
		for _, alias := range snakeCases(name) {
			if _, taken := out[alias]; !taken {
				out[alias] = i
			}
		}
	}
	return out
}

// snakeCases returns the snake_case spellings of a camelCase name, with and
// without a break before digit runs (proto writes consecutive_5xx_errors but
// http1_max_pending_requests).
func snakeCases(name string) []string {
	var plain, digits strings.Builder
	for i, r := range name {
		prevLetter := i > 0 && !isDigit(rune(name[i-1])) && name[i-1] != '_'
		if r >= 'A' && r <= 'Z' {
			plain.WriteByte('_')
			digits.WriteByte('_')
			r += 'a' - 'A'
		} else if isDigit(r) && prevLetter {
			digits.WriteByte('_')
		}
		plain.WriteRune(r)
		digits.WriteRune(r)
	}
	var out []string
	for _, s := range []string{plain.String(), digits.String()} {
		if s != name {
			out = append(out, s)
		}
	}
	return out
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "object"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return "string"
		case "!!int", "!!float":
			return "number"
		case "!!bool":
			return "boolean"
		}
		return "scalar"
	}
	return "value"
}

// nearestField is the json name of a field of struct type t that an
// unknown key most likely misspells: one equal to it but for case, else
// the closest within a small edit distance (1 for names of up to 5
// letters, 2 beyond; a swap of two neighbours counts 1). "" when none is
// that close, or two are equally close.
func nearestField(t reflect.Type, key string) string {
	best, bestDist, tie := "", 3, false
	limit := 1
	if len(key) > 5 {
		limit = 2
	}
	// The distance is at least the difference in length: a key far longer
	// than every field name (a hostile document's) costs no table.
	keyLen := utf8.RuneCountInString(key)
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		if strings.EqualFold(name, key) {
			return name
		}
		if diff := keyLen - utf8.RuneCountInString(name); diff > limit || -diff > limit {
			continue
		}
		d := editDistance(strings.ToLower(key), strings.ToLower(name))
		switch {
		case d > limit:
		case d < bestDist:
			best, bestDist, tie = name, d, false
		case d == bestDist:
			tie = true
		}
	}
	if tie {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance of a and b:
// insertions, deletions, substitutions and swaps of neighbours count 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range rb {
		d[0][j+1] = j + 1
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// readingPrefixes start the messages of the problems that stop a value
// from being read as written: the decoder's, and the stream's.
var readingPrefixes = []string{"unknown field ", "must be an object, not", "must be a list, not", "must be a scalar, not",
	"field set twice", "key set twice", "not valid YAML", "the document expands", "the document's values are nested", "the document " + depthProblem}

// readingProblem reports whether p is a problem of reading the document
// (Problems.sorted lists them first: they cause others).
func readingProblem(p Problem) bool {
	if p.Severity != SeverityError {
		return false
	}
	for _, pre := range readingPrefixes {
		if strings.HasPrefix(p.Message, pre) {
			return true
		}
	}
	return false
}
