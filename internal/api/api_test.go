package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
)

func TestTable(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{errs.Invalidf("x"), 400, "INVALID_PARAMETER_VALUE"},
		{errs.NotFoundf("x"), 404, "RESOURCE_DOES_NOT_EXIST"},
		{errs.Conflictf("x"), 400, "RESOURCE_ALREADY_EXISTS"},
		{errs.E(errs.Unavailable, "x"), 503, "TEMPORARILY_UNAVAILABLE"},
		{errs.E(errs.Unauthenticated, "x"), 401, "UNAUTHENTICATED"},
		{errs.E(errs.PermissionDenied, "x"), 403, "PERMISSION_DENIED"},
		{errs.E(errs.TooLarge, "x"), 413, "REQUEST_LIMIT_EXCEEDED"},
		{errs.E(errs.Unsupported, "x"), 415, "BAD_REQUEST"},
		{errors.New("db exploded"), 500, "INTERNAL_ERROR"},
		{fmt.Errorf("wrapped: %w", errs.NotFoundf("x")), 404, "RESOURCE_DOES_NOT_EXIST"},
	}
	for _, tt := range tests {
		require.Equal(t, Status{tt.status, tt.code}, StatusOf(tt.err), tt.err.Error())
	}
	for k := errs.Internal; k <= errs.Unsupported; k++ {
		_, ok := Table[k]
		require.True(t, ok, "kind %s has no status", k)
	}
}

// TestKindOf reads the table backwards: every kind survives a round trip
// through its status and code, and answers from other MLflow servers get
// the nearest kind.
func TestKindOf(t *testing.T) {
	for k, s := range Table {
		require.Equal(t, k, KindOf(s.HTTP, s.Code), "%s", k)
	}
	tests := []struct {
		status int
		code   string
		want   errs.Kind
	}{
		{400, "BAD_REQUEST", errs.Invalid},
		{400, "MALFORMED_REQUEST", errs.Invalid},
		{404, "ENDPOINT_NOT_FOUND", errs.NotFound},
		{409, "RESOURCE_ALREADY_EXISTS", errs.Conflict},
		{400, "SOME_FUTURE_CODE", errs.Invalid},
		{404, "", errs.NotFound},
		{401, "", errs.Unauthenticated},
		{403, "", errs.PermissionDenied},
		{413, "", errs.TooLarge},
		{415, "", errs.Unsupported},
		{503, "", errs.Unavailable},
		{429, "", errs.Invalid},
		{502, "", errs.Internal},
		{500, "", errs.Internal},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, KindOf(tt.status, tt.code), "%d %s", tt.status, tt.code)
	}
}

func TestErrorHidesInternals(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/x", nil)
	r = r.WithContext(WithRequestID(r.Context(), "rid1", nil))
	Error(w, r, errors.New("password=hunter2 in connection string"))
	var body ErrorBody
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.NotContains(t, body.Message, "hunter2")
	require.Contains(t, body.Message, "rid1")
}

func TestDecodeQuery(t *testing.T) {
	type inner struct {
		RunID string `json:"run_id"`
	}
	var dst struct {
		inner
		IDs  []string `json:"ids"`
		Max  int64    `json:"max"`
		Flag bool     `json:"flag"`
	}
	require.NoError(t, DecodeQuery(map[string][]string{"run_id": {"r"}, "ids": {"a", "b"}, "max": {"5"}, "flag": {"true"}}, &dst))
	require.Equal(t, "r", dst.RunID)
	require.Equal(t, []string{"a", "b"}, dst.IDs)
	require.Equal(t, int64(5), dst.Max)
	err := DecodeQuery(map[string][]string{"max": {"five"}}, &dst)
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	require.Contains(t, err.Error(), "'max'")

	// Integers are parsed at their field's size: none wraps around.
	var sized struct {
		I32 int32   `json:"i32"`
		I64 int64   `json:"i64"`
		F32 float32 `json:"f32"`
	}
	for q, msg := range map[string]string{
		"i32": "invalid value '2147483648' for parameter 'i32': expected an integer from -2147483648 to 2147483647",
		"i64": "invalid value '9223372036854775808' for parameter 'i64': expected an integer from -9223372036854775808 to 9223372036854775807",
	} {
		v := map[string]string{"i32": "2147483648", "i64": "9223372036854775808"}[q]
		err := DecodeQuery(map[string][]string{q: {v}}, &sized)
		require.Equal(t, errs.Invalid, errs.KindOf(err), q)
		require.Equal(t, msg, errs.MessageOf(err))
	}
	err = DecodeQuery(map[string][]string{"f32": {"1e39"}}, &sized)
	require.ErrorContains(t, err, "'f32': expected a number")
	require.NoError(t, DecodeQuery(map[string][]string{"i32": {"-2147483648"}, "i64": {"-9223372036854775808"}}, &sized))
	require.Equal(t, int32(-2147483648), sized.I32)
	require.Equal(t, int64(-9223372036854775808), sized.I64)
}

// fussy takes only "ok", like a custom proto-JSON type: the standard
// library cannot tell which value it refused.
type fussy string

func (f *fussy) UnmarshalJSON(b []byte) error {
	if string(b) != `"ok"` {
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[fussy]()}
	}
	*f = "ok"
	return nil
}

// TestDecodeErrorNamesTheValue names, in a type error, the value that was
// refused with its path, list indices included, however many valid values
// come before it at the same path.
func TestDecodeErrorNamesTheValue(t *testing.T) {
	type item struct {
		N int64 `json:"n"`
		F fussy `json:"f"`
	}
	type embedded struct {
		Max int `json:"max"`
	}
	var dst struct {
		embedded
		Items  []item   `json:"items"`
		Groups [][]item `json:"groups"`
		Name   string   `json:"name"`
	}
	for _, tc := range []struct{ name, body, msg string }{
		{"top level", `{"name": 5}`, "Invalid value 5 for parameter 'name' supplied. Hint: Value was of type 'int'. Expected a string."},
		{"fourth item", `{"items": [{"n": 1}, {"n": 2}, {"n": 3}, {"n": "x"}]}`, "Invalid value x for parameter 'items[3].n' supplied. Hint: Value was of type 'str'. Expected an integer."},
		{"out of range", `{"items": [{"n": 1}, {"n": 1180591620717411303424}]}`, "Invalid value 1180591620717411303424 for parameter 'items[1].n' supplied. Hint: Value was of type 'int'."},
		{"exponent", `{"items": [{"n": 1e30}]}`, "Invalid value 1e30 for parameter 'items[0].n' supplied. Hint: Value was of type 'float'."},
		{"custom type", `{"items": [{"f": "ok"}, {"f": "ok"}, {"f": "no"}]}`, "Invalid value no for parameter 'items[2].f' supplied."},
		{"nested lists", `{"groups": [[{"n": 1}], [{"n": 1}, {"n": true}]]}`, "Invalid value True for parameter 'groups[1][1].n' supplied. Hint: Value was of type 'bool'."},
		{"a list where an object goes", `{"items": [{"n": 1}, [2]]}`, "Invalid value [2] for parameter 'items[1]' supplied. Hint: Value was of type 'list'."},
		{"embedded", `{"max": 1e30}`, "Invalid value 1e30 for parameter 'max' supplied."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := json.Unmarshal([]byte(tc.body), &dst)
			require.Error(t, err)
			err = DecodeBytesError(err, []byte(tc.body))
			require.True(t, errs.Is(err, errs.Invalid), "%v", err)
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}
