package images

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// TestPrepareImagesCountHandLabels labels fingers images by count and
// hand; the default keeps the count only and its earlier cache key.
func TestPrepareImagesCountHandLabels(t *testing.T) {
	src := t.TempDir()
	fingersFolder(t, src, 3)
	opt := prepOpts(t, src)
	def, err := Prepare(context.Background(), opt)
	require.NoError(t, err)
	opt.Labels = LabelsCount
	same, err := Prepare(context.Background(), opt)
	require.NoError(t, err)
	require.Equal(t, def.Hash, same.Hash, "labels: count is the default and keeps its cache key")
	require.True(t, same.Hit)

	opt.Labels = LabelsCountHand
	res, err := Prepare(context.Background(), opt)
	require.NoError(t, err)
	require.NotEqual(t, def.Hash, res.Hash)
	m := res.Manifest
	require.Equal(t, []string{"0L", "0R", "1L", "1R", "2L", "2R", "3L", "3R", "4L", "4R", "5L", "5R"}, m.Classes)
	require.True(t, HandClasses(m.Classes))
	require.False(t, HandClasses(def.Manifest.Classes))
	ds, err := data.Load(res.Dir)
	require.NoError(t, err)
	for i, l := range ds.Labels {
		// fingersFolder fills image k of class (c, h) with c*40 + h*10 + k.
		px := int(ds.U8[i*8*8])
		c, h := px/40, (px%40)/10
		require.Equal(t, m.Classes[c*2+h], m.Classes[l], "example %d", i)
	}
	// A flip turns a right hand into a left one: the label follows.
	a := AugmentOptionsFor(m)
	require.Positive(t, a.FlipProb)
	require.Equal(t, []int32{1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10}, a.FlipClasses)
	aug, err := NewAugmenter(m.Shape, m.Normalize, a)
	require.NoError(t, err)
	require.Equal(t, int32(7), aug.FlipLabel(6), "3L flipped is 3R")
	d := AugmentOptionsFor(def.Manifest)
	require.Positive(t, d.FlipProb)
	require.Nil(t, d.FlipClasses, "a count label survives a flip")
	// One hand only: no flips, since the other hand is no class.
	require.Zero(t, AugmentOptionsFor(data.Manifest{Shape: m.Shape, Classes: []string{"0L", "1L"}}).FlipProb)

	// Class folders have no hand; an unknown label set is refused.
	folders := t.TempDir()
	writeFile(t, filepath.Join(folders, "cat", "a.png"), grayPNG(t, 8, 8, func(x, y int) uint8 { return 1 }))
	o2 := prepOpts(t, folders)
	o2.Labels = LabelsCountHand
	_, err = Prepare(context.Background(), o2)
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	require.ErrorContains(t, err, "needs the fingers naming")
	o2.Labels = "hand"
	_, err = Prepare(context.Background(), o2)
	require.ErrorContains(t, err, `labels "hand": expected count or count_hand`)
}
