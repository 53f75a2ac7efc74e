package images

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/data"
)

// realFingers returns ../shared/data/fingers beside the module root, or
// skips the test when it is absent.
func realFingers(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	require.NoError(tb, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("real fingers data: no go.mod above the test's folder")
		}
		dir = parent
	}
	p := filepath.Join(filepath.Dir(dir), "shared", "data", "fingers")
	if _, err := os.Stat(filepath.Join(p, "test")); err != nil {
		tb.Skipf("real fingers data not found at %s (see ../shared/data/README.md); skipping", p)
	}
	return p
}

func TestPrepareImagesRealFingers(t *testing.T) {
	root := realFingers(t)

	// The 1,200 test photos as a flat fingers folder, at 32 px.
	opt := prepOpts(t, filepath.Join(root, "test"))
	opt.Image = Options{Size: 32, Channels: 1}
	opt.Workers = 0
	res, err := Prepare(context.Background(), opt)
	require.NoError(t, err)
	m := res.Manifest
	require.Equal(t, 1200, m.Count)
	require.False(t, m.Synthetic)
	total := map[string]int{}
	for _, counts := range res.Counts {
		for c, n := range counts {
			total[c] += n
		}
	}
	for _, c := range fingersClasses {
		require.Equal(t, 200, total[c], "class %s", c)
	}
	hands := map[string]int{}
	for _, meta := range m.Meta {
		hands[meta["hand"]]++
	}
	require.Equal(t, map[string]int{"L": 600, "R": 600}, hands)
	// Dark, noisy background and a bright hand: a mean well below the
	// middle and a real spread.
	require.InDelta(t, 0.3, m.Normalize.Mean[0], 0.2)
	require.Greater(t, m.Normalize.Std[0], float32(0.05))
	t.Logf("test/ at 32px: %d images in %v, mean %.3f std %.3f", m.Count, res.Duration, m.Normalize.Mean[0], m.Normalize.Std[0])

	again, err := Prepare(context.Background(), opt)
	require.NoError(t, err)
	require.True(t, again.Hit)
	t.Logf("cache hit in %v", again.Duration)

	// The train/ + test/ layout on a subset: test/ fixes the test split.
	sub := t.TempDir()
	for _, split := range []string{"train", "test"} {
		files, err := filepath.Glob(filepath.Join(root, split, "*.png"))
		require.NoError(t, err)
		require.NotEmpty(t, files)
		for _, f := range files[:60] {
			require.NoError(t, os.MkdirAll(filepath.Join(sub, split), 0o755))
			require.NoError(t, os.Symlink(f, filepath.Join(sub, split, filepath.Base(f))))
		}
	}
	res, err = Prepare(context.Background(), prepOpts(t, sub))
	require.NoError(t, err)
	require.Equal(t, 120, res.Manifest.Count)
	require.Len(t, res.Manifest.Splits[data.SplitTest], 60)
	for _, i := range res.Manifest.Splits[data.SplitTest] {
		require.True(t, strings.HasPrefix(res.Manifest.Meta[i]["file"], "test/"))
	}
	require.NotEmpty(t, res.Manifest.Splits[data.SplitValidation])
}

// BenchmarkPrepareImages measures cold preparation (no cache) of all the
// real fingers photos (train/ and test/, 4,800 PNGs) at 64 px grayscale,
// with 1 and 2 workers, and a cache hit. Run it with
//
//	go test -run '^$' -bench PrepareImages -benchtime 3x ./internal/data/images/
func BenchmarkPrepareImages(b *testing.B) {
	root := realFingers(b)
	for _, workers := range []int{1, 2} {
		b.Run("cold/workers="+string(rune('0'+workers)), func(b *testing.B) {
			var n int
			var elapsed time.Duration
			for b.Loop() {
				opt := DefaultPrepareOptions()
				opt.Source, opt.Workers = root, workers
				opt.CacheDir = filepath.Join(b.TempDir(), "cache")
				res, err := Prepare(context.Background(), opt)
				if err != nil {
					b.Fatal(err)
				}
				n += res.Manifest.Count
				elapsed += res.Duration
			}
			b.ReportMetric(float64(n)/elapsed.Seconds(), "images/s")
		})
	}
	for _, index := range []bool{true, false} {
		name := "hit/file-hash-index"
		if !index {
			name = "hit/rehash-files"
		}
		b.Run(name, func(b *testing.B) {
			opt := DefaultPrepareOptions()
			opt.Source = root
			opt.CacheDir = filepath.Join(b.TempDir(), "cache")
			if _, err := Prepare(context.Background(), opt); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if !index {
					os.RemoveAll(filepath.Join(opt.CacheDir, "filehashes"))
				}
				res, err := Prepare(context.Background(), opt)
				if err != nil || !res.Hit {
					b.Fatal("expected a cache hit", err)
				}
			}
		})
	}
}
