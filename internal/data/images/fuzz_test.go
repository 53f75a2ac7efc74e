package images

import (
	"bytes"
	"context"
	"image"
	"image/color/palette"
	"runtime"
	"testing"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// imageSeeds are the fuzzers' starting points, made here rather than
// committed: valid PNGs and JPEGs of every decoded type, the same files
// truncated, and headers claiming huge images.
func imageSeeds(t testing.TB) [][]byte {
	const w, h = 40, 24
	rgba64 := image.NewRGBA64(image.Rect(0, 0, w, h))
	rgba64.Pix[0] = 1
	valid := [][]byte{
		encodePNG(t, image.NewGray(image.Rect(0, 0, w, h))),
		encodePNG(t, image.NewGray16(image.Rect(0, 0, w, h))),
		withChunkAfterIHDR(encodePNG(t, image.NewGray(image.Rect(0, 0, w, h))), "tRNS", []byte{0, 0}),
		encodePNG(t, image.NewNRGBA(image.Rect(0, 0, w, h))),
		encodePNG(t, rgba64),
		encodePNG(t, image.NewPaletted(image.Rect(0, 0, w, h), palette.Plan9)),
		interlacedGrayPNG(w, h),
		encodeJPEG(t, image.NewGray(image.Rect(0, 0, w, h))),
		encodeJPEG(t, image.NewRGBA(image.Rect(0, 0, w, h))),
		synthJPEG(w, h, 1, 0x11, true, false),
		synthJPEG(w, h, 3, 0x22, true, false),
		synthJPEG(w, h, 3, 0x11, false, true),
		synthJPEG(w, h, 4, 0x11, false, false),
		synthJPEG(w, h, 4, 0x22, true, false),
	}
	// A JPEG whose Adobe marker after the scan makes the decoder convert
	// it to RGBA: the header must count that copy too.
	late := synthJPEG(1400, 1000, 3, 0x22, false, false)
	late = append(late[:len(late)-2:len(late)-2], 0xff, 0xee, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0, 0xff, 0xd9)
	valid = append(valid, late)
	seeds := append([][]byte{}, valid...)
	for _, b := range valid {
		seeds = append(seeds, b[:len(b)/2], b[:len(b)-3])
	}
	return append(seeds,
		rawPNG(8000, 8000, 16, 2, 0, nil),
		rawPNG(1<<28, 1<<28, 16, 6, 1, nil),
		rawPNG(1<<31-1, 1, 8, 0, 0, nil),
		synthJPEG(65535, 65535, 3, 0x11, true, false),
		synthJPEG(8000, 8000, 4, 0x22, true, false),
		nil,
		[]byte("\x89PNG\r\n\x1a\n"),
		[]byte{0xff, 0xd8, 0xff},
	)
}

// FuzzDecodeImage decodes arbitrary bytes under a 4 MiB limit: it never
// panics, fails only with Invalid or TooLarge, returns exactly the
// preprocessed size otherwise, and never allocates much beyond the limit.
//
//	go test -run '^$' -fuzz '^FuzzDecodeImage$' -fuzztime 3m ./internal/data/images/
func FuzzDecodeImage(f *testing.F) {
	for i, b := range imageSeeds(f) {
		f.Add(b, uint8(i*7), i%2 == 0, i%3 == 0)
	}
	const limit = 4 << 20
	f.Fuzz(func(t *testing.T, b []byte, size uint8, rgb, crop bool) {
		opt := Options{Size: 1 + int(size)%64, Channels: 1, Crop: crop}
		if rgb {
			opt.Channels = 3
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		px, err := DecodeContext(context.Background(), b, opt, limit)
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got > limit+1<<20 {
			t.Fatalf("decoding allocated %d bytes under a limit of %d (err %v)", got, limit, err)
		}
		if err != nil {
			if !errs.Is(err, errs.Invalid) && !errs.Is(err, errs.TooLarge) {
				t.Fatalf("error of kind %s: %v", errs.KindOf(err), err)
			}
			return
		}
		if len(px) != opt.Len() {
			t.Fatalf("%d values; want %d", len(px), opt.Len())
		}
		h, err := ReadHeader(b)
		if err != nil || opt.ImageBytes(h) > limit {
			t.Fatalf("decoded an image its header check refuses: %+v, %v", h, err)
		}
	})
}

// FuzzReadImageHeader reads arbitrary headers: never a panic, every PNG
// or JPEG header image.DecodeConfig reads, and what it accepts has a
// positive size and a byte count at least its pixels'.
func FuzzReadImageHeader(f *testing.F) {
	for _, b := range imageSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ReadHeader(b)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("error of kind %s: %v", errs.KindOf(err), err)
			}
			// What the standard library reads, this reader reads too.
			cfg, format, cerr := image.DecodeConfig(bytes.NewReader(b))
			if cerr == nil && (format == "png" || format == "jpeg") && cfg.Width > 0 && cfg.Height > 0 {
				t.Fatalf("refused a %s header DecodeConfig reads (%dx%d): %v", format, cfg.Width, cfg.Height, err)
			}
			return
		}
		if h.Width <= 0 || h.Height <= 0 || h.BytesPerPixel <= 0 {
			t.Fatalf("header %+v", h)
		}
		if min(h.Pixels(), maxCountedPixels) > h.DecodedBytes {
			t.Fatalf("header %+v counts fewer bytes than pixels", h)
		}
		if !bytes.HasPrefix(b, []byte("\x89PNG")) && !bytes.HasPrefix(b, []byte{0xff, 0xd8}) {
			t.Fatalf("accepted neither a PNG nor a JPEG: %q", b[:min(len(b), 8)])
		}
	})
}
