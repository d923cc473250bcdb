package scenarios

import (
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"
)

// MaxDepth bounds how deeply the collections (objects and lists) of one
// document nest, the document's own object counting as the first level.
// The deepest shipped document nests 8 levels, a step inside a game day's
// parallel group 6. Without a bound a small stream costs memory in the
// square of its depth: each value's field path repeats its parents', so a
// 60 KB game day of parallel groups nested 5,000 deep cost about 300 MiB
// to decode.
const MaxDepth = 64

// depthProblem is the message of a document nested beyond MaxDepth.
var depthProblem = fmt.Sprintf("nests deeper than %d levels of objects and lists; nothing of it was read", MaxDepth)

// maxStreamTokens bounds the separators (",", ": ", "- ", brackets and
// lines) a stream may hold. yaml.v3 spends about 230 bytes on each value
// of its node tree, and a value needs at most two bytes of source
// ("1,"), so a 1 MiB stream of tiny values would cost over 100 MiB before
// the decoder (which stops at maxDecodedNodes values) sees any of it.
// Every value but the first needs a separator, so this bounds the tree
// at about twice as many values.
const maxStreamTokens = maxDecodedNodes

// scanStream reads the stream's bytes once, before yaml.v3 builds its
// node tree, and returns the line and message of the first reason to
// refuse it: a flow collection ("[" or "{") opened more than MaxDepth
// levels deep, or more than maxStreamTokens separators. line is 0 when
// there is none. Flow nesting is the cheap kind, two bytes a level, and
// yaml.v3 allows 10,000 levels; nesting by indentation costs a line and
// one more column a level, so its tree stays small and treeDepth finds it
// after parsing.
//
// The scan is conservative: it skips quoted scalars, comments and block
// scalars (| and >), and counts a bracket in block context only where it
// starts a value, so it never counts more levels than yaml.v3 would build
// (it may count fewer, which treeDepth then finds).
func scanStream(src []byte) (line int, msg string) {
	s := flowScanner{src: src, line: 1, blockIndent: -1}
	return s.run()
}

type flowScanner struct {
	src    []byte
	i      int
	line   int
	depth  int
	tokens int
	// indent is the current line's indentation; lineStart is true until
	// its first non-space byte.
	indent    int
	lineStart bool
	// prev is the last byte that is not a space or tab on the line (0 at
	// its start).
	prev byte
	// blockIndent is the indentation of the line that opened a block
	// scalar, whose more indented lines are skipped; -1 when none is open.
	blockIndent int
}

func (s *flowScanner) run() (int, string) {
	s.startLine()
	for s.i < len(s.src) {
		if s.tokens > maxStreamTokens {
			return s.line, fmt.Sprintf("the stream holds more than %d values; nothing of it was read", maxStreamTokens)
		}
		c := s.src[s.i]
		switch {
		case c == '\n':
			if !s.lineStart {
				s.tokens++
			}
			s.i++
			s.line++
			s.startLine()
			continue
		case c == ' ' || c == '\t' || c == '\r':
			if s.lineStart && c == ' ' {
				s.indent++
			}
		case c == '#' && (s.i == 0 || isSpace(s.src[s.i-1])):
			s.skipToEOL()
			continue
		case (c == '"' || c == '\'') && s.valueStart():
			s.skipQuoted(c)
			s.lineStart, s.prev = false, c
			continue
		case (c == '|' || c == '>') && s.depth == 0 && s.valueStart():
			s.blockIndent = s.indent
			s.skipToEOL()
			continue
		case c == '[' || c == '{':
			if s.depth > 0 || s.valueStart() {
				s.tokens++
				if s.depth++; s.depth > MaxDepth {
					return s.line, "the stream " + depthProblem
				}
			}
		case c == ']' || c == '}':
			if s.depth > 0 {
				s.depth--
			}
		case c == ',' && s.depth > 0:
			s.tokens++
		case c == ':' && s.depth > 0: // {"a":1} needs no space
			s.tokens++
		case (c == ':' || c == '-') && (s.i+1 == len(s.src) || isSpace(s.src[s.i+1])):
			s.tokens++
		}
		if !isSpace(c) {
			s.lineStart, s.prev = false, c
		}
		s.i++
	}
	return 0, ""
}

// startLine begins the line at s.i, skipping it whole while it belongs to
// an open block scalar.
func (s *flowScanner) startLine() {
	for s.blockIndent >= 0 && s.i < len(s.src) {
		n := 0
		for s.i+n < len(s.src) && s.src[s.i+n] == ' ' {
			n++
		}
		blank := s.i+n == len(s.src) || s.src[s.i+n] == '\n' || s.src[s.i+n] == '\r'
		if !blank && n <= s.blockIndent {
			s.blockIndent = -1
			break
		}
		s.i += n
		s.skipToEOL()
		if s.i < len(s.src) {
			s.i++
			s.line++
		}
	}
	s.indent, s.lineStart, s.prev = 0, true, 0
}

// valueStart reports whether the byte at s.i starts a value: first on its
// line, or after an indicator that a value follows.
func (s *flowScanner) valueStart() bool {
	switch s.prev {
	case 0, ':', '-', '?', ',', '[', '{':
		return true
	}
	return false
}

func (s *flowScanner) skipToEOL() {
	for s.i < len(s.src) && s.src[s.i] != '\n' {
		s.i++
	}
}

// skipQuoted moves past the quoted scalar starting at s.i, counting its
// lines; an unterminated one runs to the end (yaml.v3 reports it).
func (s *flowScanner) skipQuoted(q byte) {
	for s.i++; s.i < len(s.src); s.i++ {
		switch c := s.src[s.i]; {
		case c == '\n':
			s.line++
		case q == '"' && c == '\\':
			if s.i+1 < len(s.src) && s.src[s.i+1] == '\n' {
				s.line++
			}
			s.i++
		case c == q && q == '\'' && s.i+1 < len(s.src) && s.src[s.i+1] == '\'':
			s.i++ // '' is a quote inside a single-quoted scalar
		case c == q:
			s.i++
			return
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// treeDepth finds the first value of a parsed document nested more than
// MaxDepth levels deep and returns its field path and line; ok is false
// when there is none. Aliases are not followed here (the decoder bounds
// their depth as it expands them). It recurses at most MaxDepth+1 calls
// deep, and makes a path only for the value it finds.
func treeDepth(n *yaml.Node) (path string, line int, ok bool) {
	var trail []*yaml.Node // the found node, then its ancestors up to n
	if !nodeDepth(n, 1, &trail) {
		return "", 0, false
	}
	for i := len(trail) - 1; i > 0; i-- {
		parent, child := trail[i], trail[i-1]
		for j, c := range parent.Content {
			if c != child {
				continue
			}
			if parent.Kind == yaml.SequenceNode {
				path += "[" + strconv.Itoa(j) + "]"
			} else {
				path = joinPath(path, pathKey(parent.Content[j&^1]))
			}
			break
		}
	}
	return path, trail[0].Line, true
}

// nodeDepth reports whether n, depth levels deep, holds a collection past
// MaxDepth; if so trail ends with it and its ancestors up to n.
func nodeDepth(n *yaml.Node, depth int, trail *[]*yaml.Node) bool {
	if n.Kind != yaml.MappingNode && n.Kind != yaml.SequenceNode {
		return false
	}
	if depth > MaxDepth {
		*trail = append(*trail, n)
		return true
	}
	for _, c := range n.Content {
		if nodeDepth(c, depth+1, trail) {
			*trail = append(*trail, n)
			return true
		}
	}
	return false
}

// maxPathKey bounds how much of a key a field path repeats.
const maxPathKey = 64

// pathKey is a mapping key as a field path names it: its text, cut to
// maxPathKey bytes, or "?" for a key that is not a scalar.
func pathKey(key *yaml.Node) string {
	if key.Kind != yaml.ScalarNode {
		return "?"
	}
	if len(key.Value) > maxPathKey {
		return key.Value[:maxPathKey] + "…"
	}
	return key.Value
}
