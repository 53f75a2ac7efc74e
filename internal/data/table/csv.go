package table

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// CSV is a comma-separated table read into memory: a header and rows of raw
// cells, each row with the line it started on (for error messages).
type CSV struct {
	// Name names the source in error messages, e.g. "train.csv".
	Name   string
	Header []string
	Rows   [][]string
	// Lines[i] is the 1-based line number where Rows[i] starts.
	Lines []int
	index map[string]int
}

// ReadCSV reads a CSV table with a header row from r. It accepts quoted fields
// holding commas, quotes and line breaks, CRLF or LF line endings, empty
// fields and a leading UTF-8 byte order mark. name names the source in errors.
// Every row must have as many fields as the header. Errors are Invalid and
// name the source and line.
func ReadCSV(r io.Reader, name string) (*CSV, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if bom, err := br.Peek(3); err == nil && bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // checked below, to say how many were expected
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errs.Invalidf("%s: empty file: expected a header row", name)
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	c := &CSV{Name: name, Header: make([]string, len(header)), index: make(map[string]int, len(header))}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if !utf8.ValidString(h) {
			return nil, errs.Invalidf("%s line 1: header column %d is not valid UTF-8 text: save the file as UTF-8", name, i+1)
		}
		if h == "" {
			return nil, errs.Invalidf("%s line 1: header column %d has no name", name, i+1)
		}
		if j, dup := c.index[h]; dup {
			return nil, errs.Invalidf("%s line 1: header names column %q twice (columns %d and %d)", name, h, j+1, i+1)
		}
		c.Header[i] = h
		c.index[h] = i
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(c.Header) {
			return nil, errs.Invalidf("%s line %d: %d fields, expected %d as in the header", name, line, len(rec), len(c.Header))
		}
		// Values end up in JSON (the fitted transform, served records), which
		// holds only UTF-8: a Latin-1 file would change under its feet.
		for j, f := range rec {
			if !utf8.ValidString(f) {
				return nil, errs.Invalidf("%s line %d, column %q: not valid UTF-8 text: save the file as UTF-8", name, line, c.Header[j])
			}
		}
		c.Rows = append(c.Rows, rec)
		c.Lines = append(c.Lines, line)
	}
	return c, nil
}

// csvError turns an encoding/csv error into an Invalid error naming the line.
func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return errs.Invalidf("%s line %d, column %d: %v", name, pe.Line, pe.Column, pe.Err)
	}
	return fmt.Errorf("read %s: %w", name, err)
}

// Index returns the position of column name in the header, or -1.
func (c *CSV) Index(name string) int {
	if i, ok := c.index[name]; ok {
		return i
	}
	return -1
}

// Require checks that every named column is in the header. The error names
// the missing columns and lists the header found.
func (c *CSV) Require(names ...string) error {
	var missing []string
	for _, n := range names {
		if c.Index(n) < 0 {
			missing = append(missing, strconv.Quote(n))
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return errs.Invalidf("%s: missing required column %s; the header has: %s", c.Name, missing[0], strings.Join(c.Header, ", "))
	}
	return errs.Invalidf("%s: missing required columns %s; the header has: %s", c.Name, strings.Join(missing, ", "), strings.Join(c.Header, ", "))
}

// parseNumber parses a finite decimal number. Empty means missing (NaN).
func parseNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return math.NaN(), true
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// parseCell parses a cell of a numeric column type (number, boolean or
// date) into its number. Empty means missing (NaN).
func parseCell(t ColumnType, s string) (float64, bool) {
	switch t {
	case Boolean:
		return parseBool(s)
	case Date:
		return parseDate(s)
	}
	return parseNumber(s)
}

// parseBool parses true/false, yes/no, y/n, t/f and 1/0 in any case as 1
// or 0. Empty means missing (NaN).
func parseBool(s string) (float64, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return math.NaN(), true
	case "true", "yes", "y", "t", "1":
		return 1, true
	case "false", "no", "n", "f", "0":
		return 0, true
	}
	return 0, false
}

// dateLayouts are the ISO 8601 forms a date cell may take; a time without
// a zone is read as UTC.
var dateLayouts = []string{"2006-01-02", time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006/01/02"}

// secondsPerDay converts Unix seconds to the days a date column holds.
const secondsPerDay = 86400

// parseDate parses an ISO 8601 date or time into days since 1970-01-01
// UTC (fractional for a time of day). Empty means missing (NaN).
func parseDate(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return math.NaN(), true
	}
	if len(s) < 8 || len(s) > 40 || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return float64(t.Unix())/secondsPerDay + float64(t.Nanosecond())/1e9/secondsPerDay, true
		}
	}
	return 0, false
}

// datePart takes a part (one of DateParts) of a date held as days since
// 1970-01-01 UTC.
func datePart(days float64, part string) float64 {
	if math.IsNaN(days) {
		return math.NaN()
	}
	sec := math.Round(days * secondsPerDay) // whole seconds, so 13:00 is not 12:59:59.99
	t := time.Unix(int64(sec), 0).UTC()
	switch part {
	case "year":
		return float64(t.Year())
	case "month":
		return float64(t.Month())
	case "day":
		return float64(t.Day())
	case "weekday":
		return float64(t.Weekday())
	case "dayofyear":
		return float64(t.YearDay())
	case "hour":
		return float64(t.Hour())
	}
	return math.NaN()
}

// ReadCSVFile reads the CSV table at path (see ReadCSV); errors name the path.
func ReadCSVFile(path string) (*CSV, error) {
	f, err := os.Open(path)
	if err != nil {
		if isNotExistErr(err) {
			return nil, errs.NotFoundf("%s: no such file", path)
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	return ReadCSV(f, path)
}

func isNotExistErr(err error) bool { return errors.Is(err, fs.ErrNotExist) }
