package data

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// TestPrepareImagesCountHandLabels labels fingers images by count and
// hand; the default keeps the count only and its earlier cache key.
func TestPrepareImagesCountHandLabels(t *testing.T) {
	src := t.TempDir()
	fingersFolder(t, src, 3)
	opt := prepOpts(t, src)
	def, err := PrepareImages(context.Background(), opt)
	require.NoError(t, err)
	opt.Labels = LabelsCount
	same, err := PrepareImages(context.Background(), opt)
	require.NoError(t, err)
	require.Equal(t, def.Hash, same.Hash, "labels: count is the default and keeps its cache key")
	require.True(t, same.Hit)

	opt.Labels = LabelsCountHand
	res, err := PrepareImages(context.Background(), opt)
	require.NoError(t, err)
	require.NotEqual(t, def.Hash, res.Hash)
	m := res.Manifest
	require.Equal(t, []string{"0L", "0R", "1L", "1R", "2L", "2R", "3L", "3R", "4L", "4R", "5L", "5R"}, m.Classes)
	require.True(t, HandClasses(m.Classes))
	require.False(t, HandClasses(def.Manifest.Classes))
	ds, err := Load(res.Dir)
	require.NoError(t, err)
	for i, l := range ds.Labels {
		// fingersFolder fills image k of class (c, h) with c*40 + h*10 + k.
		px := int(ds.U8[i*8*8])
		c, h := px/40, (px%40)/10
		require.Equal(t, m.Classes[c*2+h], m.Classes[l], "example %d", i)
	}
	a := AugmentOptionsFor(m)
	require.Zero(t, a.FlipProb, "a flip would turn a right hand into a left one")
	require.Positive(t, AugmentOptionsFor(def.Manifest).FlipProb)

	// Class folders have no hand; an unknown label set is refused.
	folders := t.TempDir()
	writeFile(t, filepath.Join(folders, "cat", "a.png"), grayPNG(t, 8, 8, func(x, y int) uint8 { return 1 }))
	o2 := prepOpts(t, folders)
	o2.Labels = LabelsCountHand
	_, err = PrepareImages(context.Background(), o2)
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	require.ErrorContains(t, err, "needs the fingers naming")
	o2.Labels = "hand"
	_, err = PrepareImages(context.Background(), o2)
	require.ErrorContains(t, err, `labels "hand": expected count or count_hand`)
}
