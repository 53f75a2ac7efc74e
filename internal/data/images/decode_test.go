package images

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// grayPNG encodes a w x h grayscale image whose pixel (x, y) is f(x, y).
func grayPNG(t testing.TB, w, h int, f func(x, y int) uint8) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetGray(x, y, color.Gray{Y: f(x, y)})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

func rgbPNG(t testing.TB, w, h int, c color.NRGBA) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < w*h; i++ {
		copy(img.Pix[4*i:], []uint8{c.R, c.G, c.B, c.A})
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

func TestDecodeImageGrayResize(t *testing.T) {
	// Left half black, right half white: after a 2x reduction the left
	// columns stay dark and the right ones bright, with a soft edge.
	b := grayPNG(t, 16, 16, func(x, _ int) uint8 {
		if x < 8 {
			return 0
		}
		return 255
	})
	px, err := Decode(b, Options{Size: 8, Channels: 1})
	require.NoError(t, err)
	require.Len(t, px, 64)
	for y := 0; y < 8; y++ {
		row := px[y*8 : y*8+8]
		require.Equal(t, []uint8{0, 0, 0}, row[:3], "row %d", y)
		require.Equal(t, []uint8{255, 255, 255}, row[5:], "row %d", y)
		require.Less(t, row[3], uint8(128))
		require.Greater(t, row[4], uint8(128))
	}
}

func TestDecodeImageSameSizeIsExact(t *testing.T) {
	f := func(x, y int) uint8 { return uint8(x*16 + y) }
	px, err := Decode(grayPNG(t, 16, 16, f), Options{Size: 16, Channels: 1})
	require.NoError(t, err)
	for y := 0; y < 16; y++ {
		for x := 0; x < 16; x++ {
			require.Equal(t, f(x, y), px[y*16+x])
		}
	}
	// Three channels repeat the gray value.
	px3, err := Decode(grayPNG(t, 16, 16, f), Options{Size: 16, Channels: 3})
	require.NoError(t, err)
	require.Equal(t, []uint8{f(1, 0), f(1, 0), f(1, 0)}, px3[3:6])
}

func TestDecodeImageColour(t *testing.T) {
	tests := []struct {
		name     string
		in       color.NRGBA
		channels int
		want     []uint8 // the first pixel
	}{
		{"red to gray uses BT.601 luma", color.NRGBA{255, 0, 0, 255}, 1, []uint8{76}},
		{"green to gray", color.NRGBA{0, 255, 0, 255}, 1, []uint8{150}},
		{"rgb kept", color.NRGBA{10, 120, 250, 255}, 3, []uint8{10, 120, 250}},
		{"transparent over black", color.NRGBA{200, 200, 200, 0}, 1, []uint8{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// 12x6 resized to 4x4: a uniform image stays uniform.
			px, err := Decode(rgbPNG(t, 12, 6, tt.in), Options{Size: 4, Channels: tt.channels})
			require.NoError(t, err)
			require.Len(t, px, 16*tt.channels)
			require.Equal(t, tt.want, px[:tt.channels])
			require.Equal(t, tt.want, px[len(px)-tt.channels:])
		})
	}
	// The gray conversion agrees with image/color.
	want := color.GrayModel.Convert(color.RGBA{10, 120, 250, 255}).(color.Gray).Y
	require.Equal(t, want, grayOf(10, 120, 250))
}

func TestDecodeImageJPEGAndCrop(t *testing.T) {
	// A 40x20 JPEG: the left 10 and right 10 columns are black, the middle
	// square is white. Centre-cropped it is all white; stretched it is not.
	img := image.NewGray(image.Rect(0, 0, 40, 20))
	for y := 0; y < 20; y++ {
		for x := 10; x < 30; x++ {
			img.SetGray(x, y, color.Gray{Y: 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 100}))
	cropped, err := Decode(buf.Bytes(), Options{Size: 8, Channels: 1, Crop: true})
	require.NoError(t, err)
	for _, v := range cropped {
		require.Greater(t, v, uint8(240))
	}
	stretched, err := Decode(buf.Bytes(), Options{Size: 8, Channels: 1})
	require.NoError(t, err)
	require.Less(t, stretched[0], uint8(20))
	require.Greater(t, stretched[4], uint8(240))
}

func TestDecodeImageErrors(t *testing.T) {
	good := grayPNG(t, 4, 4, func(int, int) uint8 { return 9 })
	tests := []struct {
		name string
		b    []byte
		opt  Options
		msg  string
	}{
		{"not an image", []byte("hello, world"), DefaultOptions(), "not a readable PNG or JPEG image"},
		{"truncated png", good[:len(good)-20], DefaultOptions(), "corrupt png image"},
		{"size zero", good, Options{Size: 0, Channels: 1}, "image size 0"},
		{"two channels", good, Options{Size: 8, Channels: 2}, "image channels 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.b, tt.opt)
			require.Error(t, err)
			require.True(t, errs.Is(err, errs.Invalid), "%v", err)
			require.Contains(t, err.Error(), tt.msg)
		})
	}
}

func TestConvertImageMatchesDecodeImage(t *testing.T) {
	b := grayPNG(t, 30, 30, func(x, y int) uint8 { return uint8(x * y) })
	opt := Options{Size: 7, Channels: 3}
	want, err := Decode(b, opt)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(b))
	require.NoError(t, err)
	got, err := Convert(img, opt, nil)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func BenchmarkDecodeImage(b *testing.B) {
	src := grayPNG(b, 128, 128, func(x, y int) uint8 { return uint8(x ^ y) })
	opt := Options{Size: 64, Channels: 1}
	var d imageDecoder
	dst := make([]uint8, opt.Len())
	b.ReportAllocs()
	for b.Loop() {
		if err := d.decode(src, opt, dst); err != nil {
			b.Fatal(err)
		}
	}
}
