package images

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// fingersFolder writes n tiny fingers-named PNGs per (count, hand) class into
// dir; image k of class (c, h) is filled with a value that identifies it.
func fingersFolder(t testing.TB, dir string, n int) {
	t.Helper()
	for c := 0; c < 6; c++ {
		for hi, h := range []string{"L", "R"} {
			for k := 0; k < n; k++ {
				v := uint8(c*40 + hi*10 + k)
				name := fmt.Sprintf("%08x-0000-4000-8000-%012d_%d%s.png", c*100+hi*10+k, k, c, h)
				writeFile(t, filepath.Join(dir, name), grayPNG(t, 16, 16, func(x, y int) uint8 { return v + uint8((x+y)%3) }))
			}
		}
	}
}

func prepOpts(t testing.TB, source string) PrepareOptions {
	opt := DefaultPrepareOptions()
	opt.Source = source
	opt.Image = Options{Size: 8, Channels: 1}
	opt.CacheDir = filepath.Join(t.TempDir(), "cache")
	opt.Workers = 2
	return opt
}

func TestPrepareImagesFingersLayout(t *testing.T) {
	src := t.TempDir()
	fingersFolder(t, src, 5)
	writeFile(t, filepath.Join(src, ".DS_Store"), []byte("junk")) // hidden: ignored
	res, err := Prepare(context.Background(), prepOpts(t, src))
	require.NoError(t, err)
	require.False(t, res.Hit)
	m := res.Manifest
	require.Equal(t, "images", m.Kind)
	require.Equal(t, []int{8, 8, 1}, m.Shape)
	require.Equal(t, []string{"0", "1", "2", "3", "4", "5"}, m.Classes)
	require.Equal(t, 60, m.Count)
	require.False(t, m.Synthetic)
	require.Equal(t, LayoutFingers, m.Params["layout"])

	d, err := data.Load(res.Dir)
	require.NoError(t, err)
	for i, meta := range d.Manifest.Meta {
		name := meta["file"]
		// The label and hand come from the name's "_<N><H>.png" ending.
		want := name[len(name)-6 : len(name)-5]
		require.Equal(t, want, d.Manifest.Classes[d.Labels[i]], name)
		require.Equal(t, name[len(name)-5:len(name)-4], meta["hand"])
	}
	// Stratified 15/15: 10 per class becomes 7/2/1... rounded per class.
	require.Len(t, m.Splits[data.SplitValidation], 12)
	require.Len(t, m.Splits[data.SplitTest], 12)
	require.Len(t, m.Splits[data.SplitTrain], 36)
	for _, split := range []string{data.SplitTrain, data.SplitValidation, data.SplitTest} {
		for _, c := range m.Classes {
			require.Equal(t, len(m.Splits[split])/6, res.Counts[split][c], "%s %s", split, c)
		}
	}
	// Normalisation comes from the train split only.
	require.Len(t, m.Normalize.Mean, 1)
	require.Equal(t, *channelStats(d.U8, 1, 64, m.Splits[data.SplitTrain]), *m.Normalize)
	require.Greater(t, m.Normalize.Std[0], float32(0))
	x := d.Example(0, make([]float32, 64))
	require.InDelta(t, (float32(d.U8[0])/255-m.Normalize.Mean[0])/m.Normalize.Std[0], x[0], 1e-6)

	opts, err := OptionsOf(d.Manifest)
	require.NoError(t, err)
	require.Equal(t, Options{Size: 8, Channels: 1}, opts)
}

func TestPrepareImagesClassFoldersAndSplitFolders(t *testing.T) {
	src := t.TempDir()
	px := func(v uint8) []byte { return grayPNG(t, 10, 10, func(int, int) uint8 { return v }) }
	for _, split := range []string{"train", "test"} {
		for ci, class := range []string{"cat", "dog", "emu"} {
			n := 6
			if split == "test" {
				n = 2
			}
			for k := 0; k < n; k++ {
				writeFile(t, filepath.Join(src, split, class, fmt.Sprintf("%s%d.png", class, k)), px(uint8(ci*50+k)))
			}
		}
	}
	// JPEG in a nested folder still belongs to its class.
	writeFile(t, filepath.Join(src, "train", "emu", "more", "emu9.jpg"), jpegOf(t, 12, 12, 200))
	opt := prepOpts(t, src)
	opt.Image.Channels = 3
	opt.Split = data.SplitFractions{Validation: 0.2, Test: 0.3}
	res, err := Prepare(context.Background(), opt)
	require.NoError(t, err)
	m := res.Manifest
	require.Equal(t, LayoutClasses, m.Params["layout"])
	require.Equal(t, []string{"cat", "dog", "emu"}, m.Classes)
	require.Equal(t, []int{8, 8, 3}, m.Shape)
	require.Equal(t, 25, m.Count)
	require.Len(t, m.Normalize.Mean, 3)

	// test/ fixes the test split (the 0.3 test fraction is not used); the
	// validation split is drawn from train/ with the 0.2 fraction.
	for _, i := range m.Splits[data.SplitTest] {
		require.True(t, strings.HasPrefix(m.Meta[i]["file"], "test/"), m.Meta[i]["file"])
	}
	require.Len(t, m.Splits[data.SplitTest], 6)
	for _, split := range []string{data.SplitTrain, data.SplitValidation} {
		for _, i := range m.Splits[split] {
			require.True(t, strings.HasPrefix(m.Meta[i]["file"], "train/"), m.Meta[i]["file"])
		}
	}
	require.Equal(t, map[string]int{"cat": 1, "dog": 1, "emu": 1}, res.Counts[data.SplitValidation])
	require.Equal(t, map[string]int{"cat": 5, "dog": 5, "emu": 6}, res.Counts[data.SplitTrain])
	require.Equal(t, []any{"train/", "test/"}, toAny(m.Params["split_folders"]))

	// With val/ as well, every folder keeps its split.
	writeFile(t, filepath.Join(src, "val", "cat", "v.png"), px(1))
	writeFile(t, filepath.Join(src, "val", "dog", "v.png"), px(2))
	res, err = Prepare(context.Background(), opt)
	require.NoError(t, err)
	require.Len(t, res.Manifest.Splits[data.SplitValidation], 2)
	require.Len(t, res.Manifest.Splits[data.SplitTrain], 19)
}

// mustChtimesAll dates every file under dir an hour back, out of the racy
// window in which the file-hash index does not trust a timestamp.
func mustChtimesAll(t testing.TB, dir string) time.Time {
	t.Helper()
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return os.Chtimes(p, old, old)
	}))
	return old
}

func jpegOf(t testing.TB, w, h int, v uint8) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = v
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, nil))
	return buf.Bytes()
}

func toAny(v any) []any {
	switch s := v.(type) {
	case []string:
		out := make([]any, len(s))
		for i := range s {
			out[i] = s[i]
		}
		return out
	case []any:
		return s
	}
	return nil
}

func TestPrepareImagesBadInput(t *testing.T) {
	good := grayPNG(t, 8, 8, func(int, int) uint8 { return 7 })
	tests := []struct {
		name  string
		files map[string][]byte
		kind  errs.Kind
		msgs  []string
	}{
		{"empty folder", map[string][]byte{".hidden": []byte("x")}, errs.Invalid,
			[]string{"no images found", "<uuid>_<N><L|R>.png", "class_name/*.png"}},
		{"non-image file", map[string][]byte{"a_1L.png": good, "notes.txt": []byte("hi")}, errs.Invalid,
			[]string{"notes.txt", "not an image"}},
		{"corrupt png", map[string][]byte{"a_1L.png": good, "b_2R.png": good[:len(good)-20]}, errs.Invalid,
			[]string{"b_2R.png", "corrupt png image"}},
		{"text named png", map[string][]byte{"a_1L.png": good, "b_2R.png": []byte("not really")}, errs.Invalid,
			[]string{"b_2R.png", "not a readable PNG or JPEG image"}},
		{"bad fingers name", map[string][]byte{"a_1L.png": good, "b_7R.png": good}, errs.Invalid,
			[]string{"b_7R.png", "fingers naming"}},
		{"mixed layouts", map[string][]byte{"a_1L.png": good, "cats/c.png": good}, errs.Invalid,
			[]string{"both image files", "a_1L.png", "cats/"}},
		{"empty class folder", map[string][]byte{"cats/c.png": good, "dogs/readme.md": []byte("x")}, errs.Invalid,
			[]string{"readme.md", "not an image"}},
		{"only test folder", map[string][]byte{"test/a_1L.png": good}, errs.Invalid,
			[]string{"no train/ images"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := t.TempDir()
			for name, b := range tt.files {
				writeFile(t, filepath.Join(src, filepath.FromSlash(name)), b)
			}
			_, err := Prepare(context.Background(), prepOpts(t, src))
			require.Error(t, err)
			require.Equal(t, tt.kind, errs.KindOf(err), "%v", err)
			for _, m := range tt.msgs {
				require.Contains(t, err.Error(), m)
			}
		})
	}

	t.Run("missing source", func(t *testing.T) {
		_, err := Prepare(context.Background(), prepOpts(t, filepath.Join(t.TempDir(), "nope")))
		require.True(t, errs.Is(err, errs.NotFound), "%v", err)
		require.Contains(t, err.Error(), "nope")
	})
	t.Run("empty class folder names it", func(t *testing.T) {
		src := t.TempDir()
		writeFile(t, filepath.Join(src, "cats", "c.png"), good)
		require.NoError(t, os.MkdirAll(filepath.Join(src, "dogs"), 0o755))
		_, err := Prepare(context.Background(), prepOpts(t, src))
		require.True(t, errs.Is(err, errs.Invalid), "%v", err)
		require.Contains(t, err.Error(), filepath.Join(src, "dogs")+": class folder has no")
	})
	t.Run("bad options", func(t *testing.T) {
		opt := prepOpts(t, t.TempDir())
		opt.Split = data.SplitFractions{Validation: 0.6, Test: 0.5}
		_, err := Prepare(context.Background(), opt)
		require.True(t, errs.Is(err, errs.Invalid), "%v", err)
	})
}

func TestPrepareImagesSkipBad(t *testing.T) {
	src := t.TempDir()
	fingersFolder(t, src, 2)
	writeFile(t, filepath.Join(src, "zz_3L.png"), []byte("garbage"))
	writeFile(t, filepath.Join(src, "readme.txt"), []byte("hello"))
	writeFile(t, filepath.Join(src, "x_9L.png"), grayPNG(t, 4, 4, func(int, int) uint8 { return 1 }))
	opt := prepOpts(t, src)
	opt.SkipBad = true
	res, err := Prepare(context.Background(), opt)
	require.NoError(t, err)
	require.Equal(t, 24, res.Manifest.Count)
	var files []string
	for _, s := range res.Skipped {
		files = append(files, s.File)
		require.NotEmpty(t, s.Reason)
	}
	sort.Strings(files)
	require.Equal(t, []string{"readme.txt", "x_9L.png", "zz_3L.png"}, files)

	// A cache hit reports the same skipped files.
	again, err := Prepare(context.Background(), opt)
	require.NoError(t, err)
	require.True(t, again.Hit)
	require.ElementsMatch(t, res.Skipped, again.Skipped)
}

func TestPrepareImagesCacheHit(t *testing.T) {
	src := t.TempDir()
	fingersFolder(t, src, 3)
	mustChtimesAll(t, src)
	opt := prepOpts(t, src)
	var calls int
	opt.Progress = func(done, total int) {
		calls++
		require.Equal(t, calls, done)
		require.Equal(t, 36, total)
	}
	first, err := Prepare(context.Background(), opt)
	require.NoError(t, err)
	require.False(t, first.Hit)
	require.Equal(t, 36, calls)
	opt.Progress = nil

	before := decodes.Load()
	second, err := Prepare(context.Background(), opt)
	require.NoError(t, err)
	require.True(t, second.Hit)
	require.Equal(t, before, decodes.Load(), "a cache hit must not decode")
	require.Equal(t, first.Hash, second.Hash)
	require.Equal(t, first.Dir, second.Dir)
	require.Equal(t, first.Counts, second.Counts)
	require.Equal(t, first.Manifest.Splits, second.Manifest.Splits)

	// The per-file hash index was written for the next hit.
	ixFiles, err := filepath.Glob(filepath.Join(opt.CacheDir, "filehashes", "*.json"))
	require.NoError(t, err)
	require.Len(t, ixFiles, 1)

	// Any parameter that changes the output changes the hash.
	for name, change := range map[string]func(*PrepareOptions){
		"size":     func(o *PrepareOptions) { o.Image.Size = 9 },
		"channels": func(o *PrepareOptions) { o.Image.Channels = 3 },
		"seed":     func(o *PrepareOptions) { o.Seed = 2 },
		"split":    func(o *PrepareOptions) { o.Split.Test = 0.2 },
		"crop":     func(o *PrepareOptions) { o.Image.Crop = true },
	} {
		o := opt
		change(&o)
		r, err := Prepare(context.Background(), o)
		require.NoError(t, err, name)
		require.False(t, r.Hit, name)
		require.NotEqual(t, first.Hash, r.Hash, name)
	}
	// Workers do not.
	o := opt
	o.Workers = 1
	r, err := Prepare(context.Background(), o)
	require.NoError(t, err)
	require.True(t, r.Hit)

	// Changing one file's content (same size, new time) is a miss.
	files, _ := filepath.Glob(filepath.Join(src, "*_0L.png"))
	writeFile(t, files[0], grayPNG(t, 16, 16, func(int, int) uint8 { return 250 }))
	r, err = Prepare(context.Background(), opt)
	require.NoError(t, err)
	require.False(t, r.Hit)
	require.NotEqual(t, first.Hash, r.Hash)
}

func TestPrepareImagesFileHashIndexIsUsed(t *testing.T) {
	src := t.TempDir()
	fingersFolder(t, src, 1)
	// Files older than the racy window get remembered.
	old := mustChtimesAll(t, src)
	opt := prepOpts(t, src)
	first, err := Prepare(context.Background(), opt)
	require.NoError(t, err)

	// Rewrite a file with other content but restore its size and time: the
	// index still trusts its stamp (size and mtime), so the key is the same.
	// This is the documented trade-off that makes a hit read no contents.
	files, _ := filepath.Glob(filepath.Join(src, "*_1R.png"))
	b, _ := os.ReadFile(files[0])
	b2 := append([]byte(nil), b...)
	b2[len(b2)-1] ^= 0xff
	writeFile(t, files[0], b2)
	require.NoError(t, os.Chtimes(files[0], old, old))
	second, err := Prepare(context.Background(), opt)
	require.NoError(t, err)
	require.True(t, second.Hit)
	require.Equal(t, first.Hash, second.Hash)

	// Without the index the change is seen.
	require.NoError(t, os.RemoveAll(filepath.Join(opt.CacheDir, "filehashes")))
	third, err := Prepare(context.Background(), opt)
	require.Error(t, err) // the flipped byte breaks the PNG's checksum
	require.Contains(t, err.Error(), filepath.Base(files[0]))
	require.Nil(t, third)
}

func TestPrepareImagesWorkersGiveIdenticalBytes(t *testing.T) {
	src := t.TempDir()
	fingersFolder(t, src, 4)
	var dirs []string
	for _, w := range []int{1, 2, 3} {
		opt := prepOpts(t, src)
		opt.Workers = w
		res, err := Prepare(context.Background(), opt)
		require.NoError(t, err)
		require.False(t, res.Hit)
		dirs = append(dirs, res.Dir)
	}
	for _, name := range []string{"examples.bin", "labels.bin"} { // the tensors data.Dataset.Save writes
		want, err := os.ReadFile(filepath.Join(dirs[0], name))
		require.NoError(t, err)
		for _, d := range dirs[1:] {
			got, err := os.ReadFile(filepath.Join(d, name))
			require.NoError(t, err)
			require.Equal(t, want, got, name)
		}
	}
	m1, err := data.ReadManifest(dirs[0])
	require.NoError(t, err)
	m2, err := data.ReadManifest(dirs[1])
	require.NoError(t, err)
	m1.CreatedAt = m2.CreatedAt
	require.Equal(t, m1, m2)
}

func TestPrepareImagesSplitDeterminism(t *testing.T) {
	src := t.TempDir()
	fingersFolder(t, src, 5)
	split := func(seed uint64) map[string][]int {
		opt := prepOpts(t, src)
		opt.Seed = seed
		res, err := Prepare(context.Background(), opt)
		require.NoError(t, err)
		return res.Manifest.Splits
	}
	require.Equal(t, split(7), split(7))
	require.NotEqual(t, split(7), split(8))
}

func TestPrepareImagesCancelled(t *testing.T) {
	src := t.TempDir()
	fingersFolder(t, src, 2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Prepare(ctx, prepOpts(t, src))
	require.ErrorIs(t, err, context.Canceled)
}

func TestPrepareImagesSyntheticMarker(t *testing.T) {
	src := t.TempDir()
	_, err := GenerateHands(context.Background(), SynthHandsOptions{Out: src, N: 24, Seed: 1, Size: 32})
	require.NoError(t, err)
	res, err := Prepare(context.Background(), prepOpts(t, src))
	require.NoError(t, err)
	require.True(t, res.Manifest.Synthetic)
	require.Equal(t, 24, res.Manifest.Count)
	for _, c := range res.Manifest.Classes {
		n := 0
		for _, split := range res.Counts {
			n += split[c]
		}
		require.Equal(t, 4, n, c)
	}
}
