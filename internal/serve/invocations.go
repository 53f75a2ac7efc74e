package serve

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// MLflow's scoring protocol: POST /invocations with application/json
// (exactly one of dataframe_split, dataframe_records, instances, inputs)
// or text/csv (table models), answered with {"predictions": [...]}.

var invocationKeys = []string{"dataframe_split", "dataframe_records", "instances", "inputs"}

func (d *Deployment) invocations(ctx context.Context, s *served, r *http.Request) (any, error) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil && r.Header.Get("Content-Type") != "" {
		return nil, errs.Invalidf("Content-Type %q: expected application/json or text/csv", r.Header.Get("Content-Type"))
	}
	b, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var rows []any
	switch ct {
	case "", "application/json":
		if rows, err = jsonRows(b); err != nil {
			return nil, err
		}
	case "text/csv":
		if s.info.Kind != KindTable {
			return nil, errs.Invalidf("text/csv is for table models; send images as JSON {\"instances\": [\"<base64>\"]}")
		}
		if rows, err = csvRows(b, s.info.Inputs); err != nil {
			return nil, err
		}
	default:
		return nil, errs.Invalidf("Content-Type %q: expected application/json or text/csv", ct)
	}
	if len(rows) == 0 {
		return nil, errs.Invalidf("no rows to predict")
	}
	if err := checkBatch(s, len(rows)); err != nil {
		return nil, err
	}
	xs := make([][]float32, len(rows))
	recs := make([]map[string]any, len(rows))
	var imgs []encodedImage
	var imgRows []int
	for i, row := range rows {
		var img []byte
		if xs[i], img, recs[i], err = exampleOfRow(s, row); err != nil {
			return nil, errs.Invalidf("row %d: %s", i, errs.MessageOf(err))
		}
		if img != nil {
			imgs = append(imgs, encodedImage{fmt.Sprintf("row %d: image", i), img})
			imgRows = append(imgRows, i)
		}
	}
	if len(imgs) > 0 {
		ixs, err := d.prepareImages(ctx, s, imgs)
		if err != nil {
			return nil, err
		}
		for j, i := range imgRows {
			xs[i] = ixs[j]
		}
	}
	probs, err := s.b.doMany(ctx, xs)
	if err != nil {
		return nil, err
	}
	preds := make([]map[string]any, len(rows))
	for i := range rows {
		preds[i] = classResult(s, probs[i], recs[i])
		delete(preds[i], "model_version")
	}
	return map[string]any{"predictions": preds}, nil
}

// jsonRows reads MLflow's JSON input formats into rows: records (objects),
// strings (base64 images) or numeric arrays (prepared features).
func jsonRows(b []byte) ([]any, error) {
	v, err := decodeJSON(b)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errs.Invalidf("expected a JSON object with exactly one of the fields %s, got %s", strings.Join(invocationKeys, ", "), kindOf(v))
	}
	var found []string
	for _, k := range invocationKeys {
		if _, ok := obj[k]; ok {
			found = append(found, k)
		}
	}
	if len(found) != 1 {
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return nil, errs.Invalidf("expected exactly one of the fields %s; the request has %s", strings.Join(invocationKeys, ", "), strings.Join(keys, ", "))
	}
	switch k := found[0]; k {
	case "dataframe_split":
		return splitRows(obj[k])
	case "dataframe_records":
		a, ok := obj[k].([]any)
		if !ok {
			return nil, errs.Invalidf("dataframe_records: expected an array of objects, got %s", kindOf(obj[k]))
		}
		return a, nil
	default:
		switch x := obj[k].(type) {
		case []any:
			return x, nil
		case map[string]any:
			return columnRows(k, x)
		}
		return nil, errs.Invalidf("%s: expected an array of rows or an object of columns, got %s", k, kindOf(obj[k]))
	}
}

func splitRows(v any) ([]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errs.Invalidf(`dataframe_split: expected {"columns": [...], "data": [[...], ...]}, got %s`, kindOf(v))
	}
	cols, ok := m["columns"].([]any)
	if !ok {
		return nil, errs.Invalidf(`dataframe_split: "columns" is required: an array of column names`)
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		if names[i], ok = c.(string); !ok {
			return nil, errs.Invalidf("dataframe_split: column %d: expected a name (a string), got %s", i, kindOf(c))
		}
	}
	data, ok := m["data"].([]any)
	if !ok {
		return nil, errs.Invalidf(`dataframe_split: "data" is required: an array of rows`)
	}
	rows := make([]any, len(data))
	for i, r := range data {
		a, ok := r.([]any)
		if !ok || len(a) != len(names) {
			return nil, errs.Invalidf("dataframe_split: row %d: expected an array of %d values (one per column)", i, len(names))
		}
		rec := make(map[string]any, len(names))
		for j, n := range names {
			rec[n] = a[j]
		}
		rows[i] = rec
	}
	return rows, nil
}

// columnRows turns {"col": [v0, v1, ...]} into records.
func columnRows(key string, m map[string]any) ([]any, error) {
	n := -1
	for c, v := range m {
		a, ok := v.([]any)
		if !ok {
			return nil, errs.Invalidf("%s: column %q: expected an array of values, got %s", key, c, kindOf(v))
		}
		if n >= 0 && len(a) != n {
			return nil, errs.Invalidf("%s: column %q has %d values; other columns have %d", key, c, len(a), n)
		}
		n = len(a)
	}
	rows := make([]any, max(n, 0))
	for i := range rows {
		rec := map[string]any{}
		for c, v := range m {
			rec[c] = v.([]any)[i]
		}
		rows[i] = rec
	}
	return rows, nil
}

// csvRows reads a CSV with a header into records, numbers parsed for the
// model's number fields (an empty cell is missing).
func csvRows(b []byte, fields []Field) ([]any, error) {
	rd := csv.NewReader(bytes.NewReader(b))
	recs, err := rd.ReadAll()
	if err != nil {
		return nil, errs.Invalidf("CSV: %v", err)
	}
	if len(recs) < 2 {
		return nil, errs.Invalidf("CSV: expected a header line and at least one row")
	}
	types := map[string]string{}
	for _, f := range fields {
		types[f.Name] = f.Type
	}
	header := recs[0]
	rows := make([]any, 0, len(recs)-1)
	for li, rec := range recs[1:] {
		m := make(map[string]any, len(header))
		for j, h := range header {
			cell := strings.TrimSpace(rec[j])
			if types[h] == "number" {
				if cell == "" {
					m[h] = nil
					continue
				}
				x, err := strconv.ParseFloat(cell, 64)
				if err != nil {
					return nil, errs.Invalidf("CSV line %d, column %q: %q is not a number", li+2, h, cell)
				}
				m[h] = x
				continue
			}
			m[h] = cell
		}
		rows = append(rows, m)
	}
	return rows, nil
}

// exampleOfRow prepares one row and returns the record it came from (for
// echoed IDs), if any; an image row it returns as the encoded image, for
// the caller to prepare.
func exampleOfRow(s *served, row any) ([]float32, []byte, map[string]any, error) {
	switch v := row.(type) {
	case map[string]any:
		if s.info.Kind == KindImage {
			img, ok := v["image"]
			if !ok {
				img, ok = v["b64"]
			}
			if !ok {
				return nil, nil, nil, errs.Invalidf(`expected {"image": "<base64 PNG or JPEG>"}`)
			}
			raw, err := decodeImage("image", img)
			return nil, raw, nil, err
		}
		x, err := s.prepareRecord(v)
		return x, nil, v, err
	case string:
		if s.info.Kind != KindImage {
			return nil, nil, nil, errs.Invalidf("expected a record (an object of fields), got a string")
		}
		raw, err := decodeImage("image", v)
		return nil, raw, nil, err
	case []any:
		x := make([]float32, 0, s.info.exampleSize())
		var walk func(a any) error
		walk = func(a any) error {
			switch a := a.(type) {
			case []any:
				for _, e := range a {
					if err := walk(e); err != nil {
						return err
					}
				}
			case json.Number:
				f, err := a.Float64()
				if err != nil {
					return errs.Invalidf("%s is not a number", a)
				}
				x = append(x, float32(f))
			default:
				return errs.Invalidf("expected numbers in a prepared example, got %s", kindOf(a))
			}
			return nil
		}
		if err := walk(v); err != nil {
			return nil, nil, nil, err
		}
		if len(x) != s.info.exampleSize() {
			return nil, nil, nil, errs.Invalidf("a prepared example has %d values; the model takes %d (shape %v)", len(x), s.info.exampleSize(), s.info.InputShape)
		}
		return x, nil, nil, nil
	}
	return nil, nil, nil, errs.Invalidf("expected a record, an image or an array of numbers, got %s", kindOf(row))
}
