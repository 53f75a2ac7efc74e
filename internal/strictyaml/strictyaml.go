package strictyaml

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with a document: the field (a dotted path, ""
// for the document or when a language does not name fields), its line (0
// when unknown) and what is wrong.
type Problem struct {
	Path string
	Line int
	Msg  string
}

// String formats the problem as "line N: path: message".
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Names are how a language's messages name its documents.
type Names struct {
	Empty string // the message for an empty source, e.g. "the file is empty"
	One   string // the message for a second document, e.g. "a pipeline file holds one YAML document"
}

// Document decodes src as exactly one YAML document. Its problem is broken
// YAML (with the line the parser names), an empty source, or a second
// document (at its line).
func Document(src []byte, names Names) (*yaml.Node, *Problem) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&root); err != nil {
		p := parseError(err, names)
		return nil, &p
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Problem{Line: extra.Line, Msg: names.One}
	}
	return &root, nil
}

var lineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseError turns the parser's error into a problem at its line.
func parseError(err error, names Names) Problem {
	msg := err.Error()
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return Problem{Line: n, Msg: "invalid YAML: " + m[2]}
	}
	if msg == "EOF" {
		return Problem{Msg: names.Empty}
	}
	return Problem{Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}
