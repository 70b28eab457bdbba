package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The parser's reading of YAML nodes: each helper checks the shape it
// expects and records a problem with the node's line otherwise.

// path is a field path: mapping keys (string) and list indexes (int).
type path []any

func (p path) with(elems ...any) path { return append(p[:len(p):len(p)], elems...) }

func (p path) String() string {
	var b strings.Builder
	for _, e := range p {
		if i, ok := e.(int); ok {
			fmt.Fprintf(&b, "[%d]", i)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		fmt.Fprint(&b, e)
	}
	return b.String()
}

// mapping returns the values of mapping n by key, reporting keys not in
// known and keys given twice. A nil or null n is an empty mapping.
func (p *parser) mapping(n *yaml.Node, at path, known ...string) map[string]*yaml.Node {
	n = resolve(n)
	fields := map[string]*yaml.Node{}
	if n == nil || isNull(n) {
		return fields
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n, at, fmt.Errorf("want a mapping, got %s", shape(n)))
		return fields
	}
	keyLine := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		switch line, dup := keyLine[k.Value]; {
		case !slices.Contains(known, k.Value):
			p.fail(k, at.with(k.Value), errors.New("unknown field"))
		case dup:
			p.fail(k, at.with(k.Value), fmt.Errorf("duplicate key (also line %d)", line))
		default:
			keyLine[k.Value] = k.Line
			fields[k.Value] = v
		}
	}
	return fields
}

// list returns the items of list n; nil for a nil or null n.
func (p *parser) list(n *yaml.Node, at path) []*yaml.Node {
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(n, at, fmt.Errorf("want a list, got %s", shape(n)))
		return nil
	}
	items := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		items[i] = resolve(c)
	}
	return items
}

// str returns the text of scalar n as written, whatever its tag, so that a
// value of digits or a word such as "yes" stays the text it is; "" for a
// nil or null n. A value that is not a scalar is refused without being
// quoted.
func (p *parser) str(n *yaml.Node, at path) string {
	switch {
	case n == nil || isNull(n):
		return ""
	case n.Kind != yaml.ScalarNode:
		p.fail(n, at, fmt.Errorf("want a string, got %s", shape(n)))
		return ""
	}
	return n.Value
}

func (p *parser) regexp(n *yaml.Node, at path) *regexp.Regexp {
	expr := p.str(n, at)
	if expr == "" {
		return nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		p.fail(n, at, err)
		return nil
	}
	return re
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// shape names what n is, for "want X, got Y": a scalar by its tag.
func shape(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return n.ShortTag()
	}
	return "not a single value"
}
