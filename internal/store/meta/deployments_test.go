package meta

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
)

func TestDeployments(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		got, err := db.FindDeployments(ctx)
		require.NoError(t, err)
		require.Empty(t, got)
		require.NoError(t, db.SaveDeployment(ctx, "fingers", []byte(`{"name":"fingers","model_uri":"models:/fingers@champion"}`)))
		require.NoError(t, db.SaveDeployment(ctx, "titanic", []byte(`{"name":"titanic"}`)))
		require.NoError(t, db.SaveDeployment(ctx, "fingers", []byte(`{"name":"fingers","replicas":2}`)))
		got, err = db.FindDeployments(ctx)
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Equal(t, "fingers", got[0].Name)
		require.JSONEq(t, `{"name":"fingers","replicas":2}`, string(got[0].Config))
		require.NoError(t, db.DeleteDeployment(ctx, "fingers"))
		require.Equal(t, errs.NotFound, errs.KindOf(db.DeleteDeployment(ctx, "fingers")))
		got, err = db.FindDeployments(ctx)
		require.NoError(t, err)
		require.Len(t, got, 1)
	})
}
