package images

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// shardAll prepares every shard of opt's source into dir/0, dir/1, ...
func shardAll(t *testing.T, opt PrepareOptions, shards int, dir string) []string {
	t.Helper()
	var dirs []string
	total := 0
	for i := 0; i < shards; i++ {
		d := filepath.Join(dir, fmt.Sprint(i))
		r, err := PrepareShard(context.Background(), opt, i, shards, d)
		require.NoError(t, err)
		require.Equal(t, total, r.First, "shards are contiguous")
		total += r.Count
		dirs = append(dirs, d)
	}
	return dirs
}

// Merged shards are byte for byte the dataset one Prepare makes, with the
// same cache key, whatever the number of shards and with files skipped.
func TestShardsMergeIntoTheSameDataset(t *testing.T) {
	src := t.TempDir()
	fingersFolder(t, src, 3)
	writeFile(t, filepath.Join(src, "zz_3L.png"), []byte("garbage"))
	whole := prepOpts(t, src)
	whole.SkipBad = true
	want, err := Prepare(context.Background(), whole)
	require.NoError(t, err)
	for _, shards := range []int{1, 2, 3, 7, 40} { // 37 files: some shards of 40 are empty
		t.Run(fmt.Sprint(shards), func(t *testing.T) {
			opt := whole
			opt.CacheDir = filepath.Join(t.TempDir(), "cache")
			before := decodes.Load()
			dirs := shardAll(t, opt, shards, t.TempDir())
			require.EqualValues(t, 37, decodes.Load()-before, "every file decoded once over all shards")
			// Merge in any order.
			for i, j := 0, len(dirs)-1; i < j; i, j = i+1, j-1 {
				dirs[i], dirs[j] = dirs[j], dirs[i]
			}
			before = decodes.Load()
			got, err := MergeShards(context.Background(), opt, dirs)
			require.NoError(t, err)
			require.Zero(t, decodes.Load()-before, "the merge decodes nothing")
			require.False(t, got.Hit)
			require.Equal(t, want.Hash, got.Hash)
			require.Equal(t, want.Counts, got.Counts)
			require.ElementsMatch(t, want.Skipped, got.Skipped)
			for _, name := range []string{"examples.bin", "labels.bin"} {
				a, err := os.ReadFile(filepath.Join(want.Dir, name))
				require.NoError(t, err)
				b, err := os.ReadFile(filepath.Join(got.Dir, name))
				require.NoError(t, err)
				require.Equal(t, a, b, name)
			}
			m1, err := data.ReadManifest(want.Dir)
			require.NoError(t, err)
			m2, err := data.ReadManifest(got.Dir)
			require.NoError(t, err)
			m1.CreatedAt = m2.CreatedAt
			require.Equal(t, m1, m2)

			again, err := MergeShards(context.Background(), opt, dirs)
			require.NoError(t, err)
			require.True(t, again.Hit, "a second merge finds the dataset in the cache")
		})
	}
}

func TestMergeShardsRefusesMismatchedShards(t *testing.T) {
	src := t.TempDir()
	fingersFolder(t, src, 2)
	opt := prepOpts(t, src)
	dirs := shardAll(t, opt, 3, t.TempDir())
	merge := func(o PrepareOptions, dirs ...string) error {
		_, err := MergeShards(context.Background(), o, dirs)
		return err
	}
	cases := map[string]struct {
		err  error
		want string
	}{
		"missing":  {merge(opt, dirs[0], dirs[1]), "is shard 0 of 3, but 2 shards were given"},
		"repeated": {merge(opt, dirs[0], dirs[1], dirs[1]), "shard 1 is given twice"},
		"options":  {merge(func() PrepareOptions { o := opt; o.Seed = 9; return o }(), dirs...), "was prepared with other options"},
		"none":     {merge(opt), "no shards"},
	}
	for name, c := range cases {
		require.Error(t, c.err, name)
		require.Equal(t, errs.Invalid, errs.KindOf(c.err), name)
		require.Contains(t, c.err.Error(), c.want, name)
	}

	// The source changed since the shards were made.
	writeFile(t, filepath.Join(src, "ffffffff-0000-4000-8000-000000000009_2L.png"), grayPNG(t, 16, 16, func(int, int) uint8 { return 7 }))
	err := merge(opt, dirs...)
	require.ErrorContains(t, err, "other files than the 25 the source has now")

	// A damaged pixel file.
	require.NoError(t, os.Remove(filepath.Join(src, "ffffffff-0000-4000-8000-000000000009_2L.png")))
	require.NoError(t, os.WriteFile(filepath.Join(dirs[2], shardPixels), []byte("short"), 0o644))
	require.ErrorContains(t, merge(opt, dirs...), "pixels.u8: unexpected EOF")

	// Bad shard numbers.
	_, err = PrepareShard(context.Background(), opt, 3, 3, t.TempDir())
	require.ErrorContains(t, err, "shard 3 of 3: expected an index from 0 to 2")
	_, err = PrepareShard(context.Background(), opt, 0, MaxShards+1, t.TempDir())
	require.ErrorContains(t, err, "257 shards: expected 1 to 256")
}
