package collector

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	yamlLineMessage = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	yamlUnknown     = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	yamlWrongType   = regexp.MustCompile(`^cannot unmarshal (!!\w+)(?: .*)? into (\S+)$`)
	yamlDuplicate   = regexp.MustCompile(`^mapping key "(.*)" already defined at line (\d+)$`)
	// A scalar whose explicit tag does not fit its text (api_key: !!bool
	// yes): the message quotes the text, which may be a key.
	yamlBadTag = regexp.MustCompile("(?s)^(?:yaml: )?cannot decode (!!\\w+) `.*` as an? (!!\\w+)$")
)

// yamlError turns an error of the YAML decoder into ConfigErrors that name
// the file, line and field path, and drop Go type names and scalar values.
func yamlError(file string, root *yaml.Node, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return parseYAMLMessage(file, root, err.Error())
	}
	errs := make([]error, 0, len(te.Errors))
	for _, msg := range te.Errors {
		errs = append(errs, parseYAMLMessage(file, root, msg))
	}
	return errors.Join(errs...)
}

func parseYAMLMessage(file string, root *yaml.Node, msg string) *ConfigError {
	if t := yamlBadTag.FindStringSubmatch(msg); t != nil {
		return &ConfigError{File: file, Err: fmt.Errorf("a value tagged %s cannot be read as one (value not shown); quote it or drop the tag", t[2])}
	}
	m := yamlLineMessage.FindStringSubmatch(msg)
	if m == nil {
		return &ConfigError{File: file, Err: errors.New(strings.TrimPrefix(msg, "yaml: "))}
	}
	line, _ := strconv.Atoi(m[1])
	msg = m[2]
	ce := &ConfigError{File: file, Line: line}
	if u := yamlUnknown.FindStringSubmatch(msg); u != nil {
		ce.Path = formatPath(pathAtLine(root, line, u[1]))
		ce.Err = errors.New("unknown field")
		return ce
	}
	if d := yamlDuplicate.FindStringSubmatch(msg); d != nil {
		ce.Path = formatPath(pathAtLine(root, line, d[1]))
		ce.Err = fmt.Errorf("duplicate key (also line %s)", d[2])
		return ce
	}
	if w := yamlWrongType.FindStringSubmatch(msg); w != nil {
		ce.Path = formatPath(pathAtLine(root, line, ""))
		ce.Err = fmt.Errorf("want %s, got %s", yamlKind(w[2]), w[1])
		return ce
	}
	ce.Err = errors.New(msg)
	return ce
}

// yamlKind names the YAML shape a Go type of the file schema expects.
func yamlKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case goType == "string" || goType == "config.Secret":
		return "a string"
	default:
		return "a mapping"
	}
}

// lineOf is the line of the node at path, or of its deepest existing
// ancestor when the field is missing; 0 when not even the document exists.
func lineOf(root *yaml.Node, path []any) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind == 0 {
		return 0
	}
	for _, p := range path {
		next := child(n, p)
		if next == nil {
			break
		}
		n = next
	}
	return n.Line
}

func child(n *yaml.Node, p any) *yaml.Node {
	switch p := p.(type) {
	case string:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == p {
				return n.Content[i+1]
			}
		}
	case int:
		if n.Kind == yaml.SequenceNode && p < len(n.Content) {
			return n.Content[p]
		}
	}
	return nil
}

// pathAtLine finds the field a decoder message about line refers to: the
// mapping key named key on that line, or (key empty) the deepest mapping
// entry whose value starts on that line.
func pathAtLine(root *yaml.Node, line int, key string) []any {
	var best []any
	var walk func(n *yaml.Node, path []any)
	walk = func(n *yaml.Node, path []any) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, append(path[:len(path):len(path)], i))
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, val := n.Content[i], n.Content[i+1]
				p := append(path[:len(path):len(path)], k.Value)
				match := k.Line == line && k.Value == key
				if key == "" {
					match = val.Line == line
				}
				if match && len(p) > len(best) {
					best = p
				}
				walk(val, p)
			}
		}
	}
	walk(root, nil)
	return best
}

func formatPath(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch p := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", p)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, p)
		}
	}
	return b.String()
}
