package errs

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKindOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Kind
	}{
		{"plain error is internal", errors.New("boom"), Internal},
		{"direct", NotFoundf("run %q", "x"), NotFound},
		{"wrapped", fmt.Errorf("get run: %w", Invalidf("bad")), Invalid},
		{"wrap helper", Wrap("op", Conflictf("dup")), Conflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, KindOf(tt.err))
		})
	}
}

func TestMessageOf(t *testing.T) {
	err := fmt.Errorf("create run: %w", Invalidf("field 'experiment_id' must be an integer"))
	require.Equal(t, "field 'experiment_id' must be an integer", MessageOf(err))
	require.Equal(t, "", MessageOf(errors.New("secret detail")))
	require.Nil(t, Wrap("x", nil))
	require.Equal(t, "op: msg", (&Error{Kind: Invalid, Op: "op", Message: "msg"}).Error())
}
