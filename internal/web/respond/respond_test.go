package respond

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
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
}
