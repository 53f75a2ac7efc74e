package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// Status pairs an HTTP status with an MLflow error code.
type Status struct {
	HTTP int
	Code string
}

// Table maps each error kind to its HTTP status and MLflow error code. It is
// the only place kinds become statuses.
var Table = map[errs.Kind]Status{
	errs.Invalid:          {http.StatusBadRequest, "INVALID_PARAMETER_VALUE"},
	errs.NotFound:         {http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST"},
	errs.Conflict:         {http.StatusBadRequest, "RESOURCE_ALREADY_EXISTS"},
	errs.Unavailable:      {http.StatusServiceUnavailable, "TEMPORARILY_UNAVAILABLE"},
	errs.Unauthenticated:  {http.StatusUnauthorized, "UNAUTHENTICATED"},
	errs.PermissionDenied: {http.StatusForbidden, "PERMISSION_DENIED"},
	errs.TooLarge:         {http.StatusRequestEntityTooLarge, "REQUEST_LIMIT_EXCEEDED"},
	errs.Unsupported:      {http.StatusUnsupportedMediaType, "BAD_REQUEST"},
	errs.Internal:         {http.StatusInternalServerError, "INTERNAL_ERROR"},
}

// StatusOf returns the status for err's kind.
func StatusOf(err error) Status {
	if s, ok := Table[errs.KindOf(err)]; ok {
		return s
	}
	return Table[errs.Internal]
}

// otherCodes are the MLflow error codes Table does not send, which servers
// speaking MLflow's API (MLflow itself among them) answer with, and their
// kinds.
var otherCodes = map[string]errs.Kind{
	"BAD_REQUEST": errs.Invalid, "MALFORMED_REQUEST": errs.Invalid, "INVALID_STATE": errs.Invalid,
	"ENDPOINT_NOT_FOUND": errs.NotFound, "NOT_FOUND": errs.NotFound,
	"ALREADY_EXISTS": errs.Conflict, "RESOURCE_CONFLICT": errs.Conflict,
	"SERVICE_UNDER_MAINTENANCE": errs.Unavailable, "CUSTOMER_UNAUTHORIZED": errs.PermissionDenied,
}

// KindOf is Table read backwards, for clients: the kind of an error answer
// with this HTTP status and MLflow error code ("" when the body had none).
// An exact pair in Table wins, then the code alone, then the status.
func KindOf(status int, code string) errs.Kind {
	byCode, found := errs.Internal, false
	for k, s := range Table {
		if s.Code == code && s.HTTP == status {
			return k
		}
		if s.Code == code && !found && code != "BAD_REQUEST" {
			byCode, found = k, true
		}
	}
	if k, ok := otherCodes[code]; ok {
		return k
	}
	if found {
		return byCode
	}
	for k, s := range Table {
		if s.HTTP == status && k != errs.Conflict {
			return k
		}
	}
	if status >= 400 && status < 500 {
		return errs.Invalid
	}
	return errs.Internal
}

type ctxKey int

const (
	requestIDKey ctxKey = iota
	loggerKey
)

// WithRequestID returns a context carrying a request ID and logger.
func WithRequestID(ctx context.Context, id string, log *slog.Logger) context.Context {
	ctx = context.WithValue(ctx, requestIDKey, id)
	return context.WithValue(ctx, loggerKey, log)
}

// RequestID returns the request ID stored in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

func logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok && l != nil {
		return l
	}
	return slog.Default()
}

// JSON writes v as JSON with the given status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v == nil {
		_, _ = io.WriteString(w, "{}")
		return
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// ErrorBody is MLflow's error response: exactly these two fields, which some
// clients compare whole. The request ID travels in the X-Request-Id header.
type ErrorBody struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

// Error writes err in MLflow's format. A 5xx is logged with the request ID;
// the client sees the ID, never internal details.
func Error(w http.ResponseWriter, r *http.Request, err error) {
	st, msg := Problem(r, err)
	JSON(w, st.HTTP, ErrorBody{ErrorCode: st.Code, Message: msg})
}

// Problem is what a handler answers for err, in any body format: its
// status and the message a client may see. Unclassified context and body
// limit errors get their kinds (canceled or timed out: Unavailable; over
// http.MaxBytesReader's limit: TooLarge). A 5xx is logged with the request
// ID, except a deliberate refusal (Unavailable with no cause, such as a
// full queue), and an internal one is answered with that ID only.
func Problem(r *http.Request, err error) (Status, string) {
	if errs.KindOf(err) == errs.Internal {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			err = &errs.Error{Kind: errs.TooLarge, Message: fmt.Sprintf("request body exceeds the limit of %d bytes", mbe.Limit), Err: err}
		case errors.Is(err, context.Canceled):
			err = &errs.Error{Kind: errs.Unavailable, Message: "request canceled", Err: err}
		case errors.Is(err, context.DeadlineExceeded):
			err = &errs.Error{Kind: errs.Unavailable, Message: "request timed out", Err: err}
		}
	}
	st := StatusOf(err)
	msg := errs.MessageOf(err)
	if st.HTTP >= 500 {
		id := RequestID(r.Context())
		var e *errs.Error
		if refusal := errs.KindOf(err) == errs.Unavailable && errors.As(err, &e) && e.Err == nil; !refusal {
			logger(r.Context()).Error("request failed", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		}
		if msg == "" || errs.KindOf(err) == errs.Internal {
			msg = "internal error; the server log has the details under request ID " + id
		}
	}
	return st, msg
}

// MaxJSONBody is the largest JSON request body decoded by default.
const MaxJSONBody = 8 << 20

// Decode fills dst (a pointer to a struct with json tags) from the request:
// the JSON body when there is one, else the query string. Unknown fields are
// ignored, as MLflow's protobuf parsing does; a field of the wrong type is an
// errs.Invalid naming it.
func Decode(r *http.Request, dst any) error {
	if r.Body != nil && r.Body != http.NoBody && (r.ContentLength != 0) {
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxJSONBody+1))
		if err != nil {
			return errs.Invalidf("could not read request body: %v", err)
		}
		if len(body) > MaxJSONBody {
			return &errs.Error{Kind: errs.TooLarge, Message: fmt.Sprintf("request body exceeds %d bytes", MaxJSONBody)}
		}
		if len(strings.TrimSpace(string(body))) > 0 {
			if err := json.Unmarshal(body, dst); err != nil {
				return jsonError(err, body)
			}
			return nil
		}
	}
	return DecodeQuery(r.URL.Query(), dst)
}

func jsonError(err error, body []byte) error {
	var e *errs.Error
	if errors.As(err, &e) {
		return err // a type's own UnmarshalJSON said what is wrong
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			return errs.Invalidf("invalid request body: expected a JSON object, got a JSON %s", te.Value)
		}
		raw, path, found := valueAt(body, field, te.Type)
		// encoding/json names an embedded struct's field after the Go type
		// ("Config.max_wait"), but its JSON key is at the level above.
		for f := field; !found && strings.Contains(f, "."); {
			_, f, _ = strings.Cut(f, ".")
			raw, path, found = valueAt(body, f, te.Type)
		}
		val, typ := te.Value, te.Value
		if found {
			val, typ = PyRepr(raw)
			field = path
		}
		// MLflow's wording, which its clients and tests match on.
		return errs.Invalidf("Invalid value %s for parameter '%s' supplied. Hint: Value was of type '%s'. Expected %s. See the API docs for more information about request parameters.",
			val, field, typ, kindName(te.Type))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return errs.Invalidf("malformed JSON in request body at byte %d: %v", se.Offset, se)
	}
	return errs.Invalidf("malformed JSON in request body: %v", err)
}

// valueAt finds the value a type error at a dotted JSON path is about:
// the first value at that path (through lists, element by element, in
// order, as the decoder went) that does not decode as t. It returns the
// value and its path with list indices, e.g. "metrics[3].value".
func valueAt(body []byte, path string, t reflect.Type) (json.RawMessage, string, bool) {
	return findBad(json.RawMessage(body), strings.Split(path, "."), "", t)
}

func findBad(raw json.RawMessage, keys []string, at string, t reflect.Type) (json.RawMessage, string, bool) {
	bad := func(v json.RawMessage) bool { return json.Unmarshal(v, reflect.New(t).Interface()) != nil }
	var list []json.RawMessage
	isList := json.Unmarshal(raw, &list) == nil
	if len(keys) == 0 {
		whole := !isList || t.Kind() == reflect.Slice || t.Kind() == reflect.Array ||
			reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]())
		if whole {
			if bad(raw) {
				return raw, at, true
			}
			return nil, "", false
		}
		// A list where a value of type t goes: the decoder names the type
		// of the element it refused.
		for i, e := range list {
			if bad(e) {
				return e, fmt.Sprintf("%s[%d]", at, i), true
			}
		}
		return nil, "", false
	}
	if isList {
		for i, e := range list {
			if v, p, ok := findBad(e, keys, fmt.Sprintf("%s[%d]", at, i), t); ok {
				return v, p, true
			}
		}
		return nil, "", false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m[keys[0]] == nil {
		return nil, "", false
	}
	if at != "" {
		at += "."
	}
	return findBad(m[keys[0]], keys[1:], at+keys[0], t)
}

// PyRepr renders a JSON value as Python's repr of the decoded value (keys in
// their order, single-quoted strings, True/False/None) and names its type;
// MLflow's error messages quote values that way.
func PyRepr(raw []byte) (string, string) {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var b strings.Builder
	var typ string
	var write func(depth int) error
	write = func(depth int) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case json.Delim:
			open, close := "[", "]"
			if t == '{' {
				open, close = "{", "}"
			}
			if depth == 0 {
				typ = map[string]string{"[": "list", "{": "dict"}[open]
			}
			b.WriteString(open)
			for i := 0; dec.More(); i++ {
				if i > 0 {
					b.WriteString(", ")
				}
				if t == '{' {
					k, err := dec.Token()
					if err != nil {
						return err
					}
					b.WriteString(pyString(fmt.Sprint(k)) + ": ")
				}
				if err := write(depth + 1); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return err
			}
			b.WriteString(close)
		case string:
			if depth == 0 {
				b.WriteString(t)
				typ = "str"
			} else {
				b.WriteString(pyString(t))
			}
		case json.Number:
			n := t.String()
			if depth == 0 {
				typ = "int"
				if strings.ContainsAny(n, ".eE") {
					typ = "float"
				}
			}
			b.WriteString(n)
		case bool:
			if t {
				b.WriteString("True")
			} else {
				b.WriteString("False")
			}
			if depth == 0 {
				typ = "bool"
			}
		case nil:
			b.WriteString("None")
			if depth == 0 {
				typ = "NoneType"
			}
		}
		return nil
	}
	if write(0) != nil {
		return "", ""
	}
	return b.String(), typ
}

func pyString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

// Expecter is a type that says what JSON it expects, for type errors.
type Expecter interface {
	ExpectedJSON() string
}

func kindName(t reflect.Type) string {
	if e, ok := reflect.Zero(t).Interface().(Expecter); ok {
		return e.ExpectedJSON()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}

// DecodeQuery fills dst's fields from query values by json tag: strings,
// integers, floats, booleans and slices of those (repeated keys).
func DecodeQuery(q map[string][]string, dst any) error {
	return decodeQuery(q, reflect.ValueOf(dst).Elem())
}

func decodeQuery(q map[string][]string, v reflect.Value) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("json"), ",")[0]
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			if err := decodeQuery(q, v.Field(i)); err != nil {
				return err
			}
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		vals, ok := q[name]
		if !ok || len(vals) == 0 {
			continue
		}
		fv := v.Field(i)
		if u, ok := fv.Addr().Interface().(interface{ UnmarshalText([]byte) error }); ok {
			if err := u.UnmarshalText([]byte(vals[0])); err != nil {
				return errs.Invalidf("invalid value '%s' for parameter '%s': %v", vals[0], name, err)
			}
			continue
		}
		if fv.Kind() == reflect.Slice {
			s := reflect.MakeSlice(fv.Type(), len(vals), len(vals))
			for j, raw := range vals {
				if err := setScalar(s.Index(j), name, raw); err != nil {
					return err
				}
			}
			fv.Set(s)
			continue
		}
		if err := setScalar(fv, name, vals[0]); err != nil {
			return err
		}
	}
	return nil
}

func setScalar(fv reflect.Value, name, raw string) error {
	if fv.Kind() == reflect.Pointer {
		p := reflect.New(fv.Type().Elem())
		if err := setScalar(p.Elem(), name, raw); err != nil {
			return err
		}
		fv.Set(p)
		return nil
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(raw)
	case reflect.Int, reflect.Int32, reflect.Int64:
		// Parsed at the field's size: an int32 must not wrap around.
		n, err := strconv.ParseInt(raw, 10, fv.Type().Bits())
		if err != nil {
			return errs.Invalidf("invalid value '%s' for parameter '%s': expected an integer from %d to %d", raw, name,
				int64(-1)<<(fv.Type().Bits()-1), uint64(1)<<(fv.Type().Bits()-1)-1)
		}
		fv.SetInt(n)
	case reflect.Float64, reflect.Float32:
		n, err := strconv.ParseFloat(raw, fv.Type().Bits())
		if err != nil {
			return errs.Invalidf("invalid value '%s' for parameter '%s': expected a number", raw, name)
		}
		fv.SetFloat(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return errs.Invalidf("invalid value '%s' for parameter '%s': expected true or false", raw, name)
		}
		fv.SetBool(b)
	default:
		return errs.Invalidf("parameter '%s' cannot be given in the query string", name)
	}
	return nil
}

// DecodeBytesError turns a json.Unmarshal error into an errs.Invalid that
// names the field, for handlers that read the body themselves.
func DecodeBytesError(err error, body []byte) error { return jsonError(err, body) }

// Func handles one API call and returns the response body or an error.
type Func func(r *http.Request) (any, error)

// Handler adapts f to an http.HandlerFunc: 200 with f's result as JSON, or
// the error in the API's error format with its kind's status.
func Handler(f Func) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out, err := f(r)
		if err != nil {
			Error(w, r, err)
			return
		}
		JSON(w, http.StatusOK, out)
	}
}
