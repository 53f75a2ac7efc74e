package table

import (
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/strictyaml"
)

// MaxSchemaBytes bounds a schema file: it names columns, not data.
const MaxSchemaBytes = 1 << 20

// ReadSchemaFile reads and parses the schema file at path (see
// ParseSchema), reading no more than MaxSchemaBytes of it.
func ReadSchemaFile(path string) (Schema, error) {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return Schema{}, errs.NotFoundf("schema %s: no such file", path)
		}
		return Schema{}, fmt.Errorf("read schema %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSchemaBytes+1))
	if err != nil {
		return Schema{}, fmt.Errorf("read schema %s: %w", path, err)
	}
	return ParseSchema(b, path)
}

// ParseSchema reads a schema from YAML:
//
//	target: churned        # the label column
//	id: customer_id        # kept as row metadata, never a feature
//	columns:
//	  plan: category       # a type: number, category, boolean, date, text or drop
//	  zip: {type: category, encode: target}
//	  age: {impute: mean}
//	  notes: drop
//
// Unknown keys, wrong types and bad values are Invalid errors naming the
// file, line and key.
func ParseSchema(src []byte, name string) (Schema, error) {
	var s Schema
	if len(src) > MaxSchemaBytes {
		return s, errs.Invalidf("%s: more than %d bytes: a schema names columns, not data", name, MaxSchemaBytes)
	}
	root, p := strictyaml.Document(src, strictyaml.Names{Empty: "the schema is empty", One: "a schema holds one YAML document"})
	if p != nil {
		return s, errs.Invalidf("%s: %s", name, p)
	}
	fail := func(n *yaml.Node, path, format string, args ...any) error {
		return errs.Invalidf("%s: %s", name, strictyaml.Problem{Path: path, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
	}
	doc := root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		return s, fail(doc, "", "expected a mapping with target, id and columns")
	}
	scalar := func(n *yaml.Node, path string) (string, error) {
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			return "", fail(n, path, "expected a string")
		}
		return strings.TrimSpace(n.Value), nil
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		if seen[k.Value] {
			return s, fail(k, k.Value, "given twice")
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "target":
			s.Target, err = scalar(v, "target")
		case "id":
			s.ID, err = scalar(v, "id")
		case "columns":
			err = parseSchemaColumns(&s, v, fail, scalar)
		default:
			err = fail(k, k.Value, "unknown key: expected target, id or columns")
		}
		if err != nil {
			return s, err
		}
	}
	if err := s.Validate(); err != nil {
		return s, errs.Invalidf("%s: %v", name, strings.TrimPrefix(err.Error(), "schema: "))
	}
	return s, nil
}

func parseSchemaColumns(s *Schema, v *yaml.Node, fail func(*yaml.Node, string, string, ...any) error,
	scalar func(*yaml.Node, string) (string, error)) error {
	if v.Kind != yaml.MappingNode {
		return fail(v, "columns", "expected a mapping of column names to a type or settings")
	}
	s.Columns = map[string]ColumnOverride{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, c := v.Content[i], v.Content[i+1]
		col := strings.TrimSpace(k.Value)
		path := "columns." + col
		if _, dup := s.Columns[col]; dup {
			return fail(k, path, "given twice")
		}
		var o ColumnOverride
		switch c.Kind {
		case yaml.ScalarNode:
			t, err := scalar(c, path)
			if err != nil {
				return err
			}
			o.Type = t
		case yaml.MappingNode:
			for j := 0; j+1 < len(c.Content); j += 2 {
				kk, vv := c.Content[j], c.Content[j+1]
				val, err := scalar(vv, path+"."+kk.Value)
				if err != nil {
					return err
				}
				switch kk.Value {
				case "type":
					o.Type = val
				case "encode":
					o.Encode = val
				case "impute":
					o.Impute = val
				default:
					return fail(kk, path+"."+kk.Value, "unknown key: expected type, encode or impute")
				}
			}
		default:
			return fail(c, path, "expected a type or a mapping of type, encode and impute")
		}
		s.Columns[col] = o
	}
	return nil
}

// ParseColumnFlag reads a --column flag, NAME=TYPE or NAME=category:ENCODING
// (e.g. zip=category:target), into the schema.
func ParseColumnFlag(s *Schema, flag string) error {
	name, val, ok := strings.Cut(flag, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.TrimSpace(val) == "" {
		return errs.Invalidf("--column %q: expected NAME=TYPE, e.g. zip=category or zip=category:target", flag)
	}
	typ, enc, _ := strings.Cut(strings.TrimSpace(val), ":")
	if s.Columns == nil {
		s.Columns = map[string]ColumnOverride{}
	}
	o := s.Columns[name]
	o.Type, o.Encode = typ, enc
	s.Columns[name] = o
	if err := s.Validate(); err != nil {
		return errs.Invalidf("--column %q: %v", flag, strings.TrimPrefix(err.Error(), "schema: "))
	}
	return nil
}
