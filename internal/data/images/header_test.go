package images

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// encodePNG encodes img at the fastest compression.
func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	require.NoError(t, enc.Encode(&buf, img))
	return buf.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 75}))
	return buf.Bytes()
}

// pngChunk is one PNG chunk with its length and CRC.
func pngChunk(typ string, body []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	out = append(out, typ...)
	out = append(out, body...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(append([]byte(typ), body...)))
}

// withChunkAfterIHDR inserts a chunk right after a PNG's IHDR.
func withChunkAfterIHDR(b []byte, typ string, body []byte) []byte {
	const end = 8 + 8 + 13 + 4
	out := append([]byte{}, b[:end]...)
	out = append(out, pngChunk(typ, body)...)
	return append(out, b[end:]...)
}

// rawPNG builds a PNG from an IHDR and the filtered scanlines (each row
// with its filter byte), for headers Go's encoder never writes: Adam7
// interlacing, or sizes too large to encode in a test.
func rawPNG(w, h uint32, depth, ctype, interlace byte, scanlines func(zw *zlib.Writer)) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, depth, ctype, 0, 0, interlace)
	var idat bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&idat, zlib.BestSpeed)
	if scanlines != nil {
		scanlines(zw)
	}
	_ = zw.Close()
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, pngChunk("IHDR", ihdr)...)
	out = append(out, pngChunk("IDAT", idat.Bytes())...)
	return append(out, pngChunk("IEND", nil)...)
}

// zeroRows writes n rows of rowBytes zero samples, each with filter 0.
func zeroRows(zw *zlib.Writer, n, rowBytes int) {
	row := make([]byte, 1+rowBytes)
	for range n {
		_, _ = zw.Write(row)
	}
}

// interlacedGrayPNG is an Adam7 interlaced 8-bit gray PNG, all black.
func interlacedGrayPNG(w, h int) []byte {
	passes := [7][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
	return rawPNG(uint32(w), uint32(h), 8, 0, 1, func(zw *zlib.Writer) {
		for _, p := range passes {
			pw, ph := (w-p[0]+p[2]-1)/p[2], (h-p[1]+p[3]-1)/p[3]
			if pw > 0 && ph > 0 {
				zeroRows(zw, ph, pw)
			}
		}
	})
}

// synthJPEG builds a valid JPEG of flat blocks with the given components
// (1 gray, 3 YCbCr or RGB, 4 CMYK with an Adobe marker), sampling of the
// first component (0x11 or 0x22), and baseline or progressive coding (a
// DC-only first scan): the files Go's encoder cannot write. Every block
// codes as a zero DC difference (and, baseline, an end of block), one bit
// each with one-code Huffman tables.
func synthJPEG(w, h, n int, hv0 byte, progressive, rgb bool) []byte {
	seg := func(marker byte, body ...byte) []byte {
		return append([]byte{0xff, marker, byte((len(body) + 2) >> 8), byte(len(body) + 2)}, body...)
	}
	out := []byte{0xff, 0xd8}
	if n == 4 {
		out = append(out, seg(0xee, append([]byte("Adobe"), 0, 100, 0, 0, 0, 0, 0)...)...) // transform 0: CMYK
	}
	out = append(out, seg(0xdb, append([]byte{0}, bytes.Repeat([]byte{1}, 64)...)...)...)
	ids := []byte{1, 2, 3, 4}
	if rgb {
		ids = []byte{'R', 'G', 'B'}
	}
	sof := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), byte(n)}
	blocksPerMCU := 0
	for i := range n {
		hv := byte(0x11)
		if i == 0 || i == 3 {
			hv = hv0
		}
		if n == 1 {
			hv = 0x11
		}
		blocksPerMCU += int(hv>>4) * int(hv&0xf)
		sof = append(sof, ids[i], hv, 0)
	}
	marker := byte(0xc0)
	if progressive {
		marker = 0xc2
	}
	out = append(out, seg(marker, sof...)...)
	one := append([]byte{1}, make([]byte, 15)...)
	dht := append(append([]byte{0x00}, one...), 0)
	dht = append(append(append(dht, 0x10), one...), 0)
	out = append(out, seg(0xc4, dht...)...)
	sos := []byte{byte(n)}
	for i := range n {
		sos = append(sos, ids[i], 0x00)
	}
	bitsPerBlock := 2
	if progressive {
		sos, bitsPerBlock = append(sos, 0, 0, 0), 1
	} else {
		sos = append(sos, 0, 63, 0)
	}
	out = append(out, seg(0xda, sos...)...)
	mcu := 8 * int(hv0>>4)
	if n == 1 {
		mcu, blocksPerMCU = 8, 1
	}
	mcuH := 8 * int(hv0&0xf)
	if n == 1 {
		mcuH = 8
	}
	blocks := (w + mcu - 1) / mcu * ((h + mcuH - 1) / mcuH) * blocksPerMCU
	bits := blocks * bitsPerBlock
	data := make([]byte, (bits+7)/8)
	if r := bits % 8; r != 0 {
		data[len(data)-1] = 0xff >> r // pad with ones
	}
	out = append(out, data...)
	return append(out, 0xff, 0xd9)
}

func TestReadImageHeader(t *testing.T) {
	const w, h = 640, 400
	rgba64 := image.NewRGBA64(image.Rect(0, 0, w, h))
	rgba64.Pix[0] = 1 // not all opaque black, so the encoder keeps 16 bits
	opaque := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 3; i < len(opaque.Pix); i += 4 {
		opaque.Pix[i] = 255
	}
	opaque16 := image.NewRGBA64(image.Rect(0, 0, w, h))
	for i := range opaque16.Pix {
		opaque16.Pix[i] = byte(i)
	}
	for i := 0; i < len(opaque16.Pix); i += 8 {
		opaque16.Pix[i+6], opaque16.Pix[i+7] = 0xff, 0xff
	}
	gray := image.NewGray(image.Rect(0, 0, w, h))
	tests := []struct {
		name  string
		b     []byte
		color string
		bpp   int
	}{
		{"gray png", encodePNG(t, gray), "Gray", 1},
		{"gray16 png", encodePNG(t, image.NewGray16(image.Rect(0, 0, w, h))), "Gray16", 2},
		{"gray png with tRNS", withChunkAfterIHDR(encodePNG(t, gray), "tRNS", []byte{0, 0}), "NRGBA", 4},
		{"rgb png", encodePNG(t, opaque), "RGBA", 4},
		{"rgb16 png", encodePNG(t, opaque16), "RGBA64", 8},
		{"rgba png", encodePNG(t, image.NewNRGBA(image.Rect(0, 0, w, h))), "NRGBA", 4},
		{"rgba16 png", encodePNG(t, rgba64), "NRGBA64", 8},
		{"paletted png", encodePNG(t, image.NewPaletted(image.Rect(0, 0, w, h), palette.Plan9)), "Paletted", 1},
		{"interlaced png", interlacedGrayPNG(w, h), "Gray", 1},
		{"gray jpeg", encodeJPEG(t, gray), "Gray", 1},
		{"ycbcr jpeg", encodeJPEG(t, opaque), "YCbCr", 3},
		{"progressive gray jpeg", synthJPEG(w, h, 1, 0x11, true, false), "Gray", 1},
		{"progressive 4:2:0 jpeg", synthJPEG(w, h, 3, 0x22, true, false), "YCbCr", 3},
		{"progressive 4:4:4 jpeg", synthJPEG(w, h, 3, 0x11, true, false), "YCbCr", 3},
		{"rgb jpeg", synthJPEG(w, h, 3, 0x11, false, true), "RGBA", 4},
		{"cmyk jpeg", synthJPEG(w, h, 4, 0x11, false, false), "CMYK", 4},
		{"progressive cmyk jpeg", synthJPEG(w, h, 4, 0x22, true, false), "CMYK", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hd, err := ReadHeader(tt.b)
			require.NoError(t, err)
			require.Equal(t, w, hd.Width)
			require.Equal(t, h, hd.Height)
			require.Equal(t, tt.color, hd.Color)
			require.Equal(t, tt.bpp, hd.BytesPerPixel)
			require.GreaterOrEqual(t, hd.DecodedBytes, hd.Pixels()*int64(hd.BytesPerPixel)/2)

			// The header's count holds what decoding allocates, give or
			// take the decoder's fixed buffers, and is not much more.
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			img, _, err := image.Decode(bytes.NewReader(tt.b))
			runtime.ReadMemStats(&after)
			require.NoError(t, err)
			require.Equal(t, tt.color, colorName(img), "the decoder's type")
			got := int64(after.TotalAlloc - before.TotalAlloc)
			require.LessOrEqual(t, got, hd.DecodedBytes+128<<10, "decoding allocated more than the header says")
			require.GreaterOrEqual(t, got, hd.DecodedBytes*9/10, "the header overstates decoding")
		})
	}
}

// TestReadImageHeaderLateAdobeMarker counts the RGBA conversion an Adobe
// marker after the scan asks for, which DecodeConfig does not see.
func TestReadImageHeaderLateAdobeMarker(t *testing.T) {
	b := synthJPEG(640, 400, 3, 0x22, false, false)
	adobe := append([]byte{0xff, 0xee, 0, 14}, append([]byte("Adobe"), 0, 100, 0, 0, 0, 0, 0)...)
	b = append(append(b[:len(b)-2:len(b)-2], adobe...), 0xff, 0xd9)
	hd, err := ReadHeader(b)
	require.NoError(t, err)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	img, _, err := image.Decode(bytes.NewReader(b))
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	require.Equal(t, "RGBA", colorName(img), "the marker made the decoder convert")
	require.LessOrEqual(t, int64(after.TotalAlloc-before.TotalAlloc), hd.DecodedBytes+128<<10)
}

// colorName names the type a decoder returned, as Header.Color does.
func colorName(img image.Image) string {
	switch img.(type) {
	case *image.Gray:
		return "Gray"
	case *image.Gray16:
		return "Gray16"
	case *image.RGBA:
		return "RGBA"
	case *image.NRGBA:
		return "NRGBA"
	case *image.RGBA64:
		return "RGBA64"
	case *image.NRGBA64:
		return "NRGBA64"
	case *image.Paletted:
		return "Paletted"
	case *image.YCbCr:
		return "YCbCr"
	case *image.CMYK:
		return "CMYK"
	}
	return "?"
}

// gifBytes is a small GIF; a decoder for it is registered in this test
// binary, as other packages register one in Cairn's.
func gifBytes(t *testing.T) []byte {
	var buf bytes.Buffer
	require.NoError(t, gif.Encode(&buf, image.NewPaletted(image.Rect(0, 0, 4, 4), palette.Plan9), nil))
	return buf.Bytes()
}

func TestReadImageHeaderErrors(t *testing.T) {
	good := encodePNG(t, image.NewGray(image.Rect(0, 0, 4, 4)))
	for _, tt := range []struct {
		name string
		b    []byte
		msg  string
	}{
		{"empty", nil, "not a readable PNG or JPEG image"},
		{"text", []byte("hello"), "not a readable PNG or JPEG image"},
		{"png signature only", good[:8], "not a readable PNG or JPEG image"},
		{"truncated IHDR", good[:20], "not a readable PNG or JPEG image"},
		{"jpeg SOI only", []byte{0xff, 0xd8}, "not a readable PNG or JPEG image"},
		{"jpeg without a frame", []byte{0xff, 0xd8, 0xff, 0xd9}, "not a readable PNG or JPEG image"},
		{"gif", gifBytes(t), "a gif image: expected PNG or JPEG"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadHeader(tt.b)
			require.True(t, errs.Is(err, errs.Invalid), "%v", err)
			require.Contains(t, err.Error(), tt.msg)
		})
	}
}

// TestDecodeImageContextLimits refuses, from the header and at once, an
// image whose decoding would pass the limit, and decodes one under it.
func TestDecodeImageContextLimits(t *testing.T) {
	opt := Options{Size: 16, Channels: 1}
	// A small file (the rows are zeros) that decodes to 72 MB.
	huge := rawPNG(3000, 3000, 16, 2, 0, func(zw *zlib.Writer) { zeroRows(zw, 3000, 3000*6) })
	require.Less(t, len(huge), 1<<20)
	hd, err := ReadHeader(huge)
	require.NoError(t, err)
	require.Equal(t, "RGBA64", hd.Color)

	for _, tt := range []struct {
		name     string
		b        []byte
		maxBytes int64
		msg      string
	}{
		{"over the bytes limit", huge, 64 << 20, "3000x3000 PNG image (RGBA64, 8 bytes per pixel) takes 70.2 MiB (73585026 bytes) to decode and resize; the limit is 64 MiB (67108864 bytes)"},
		{"over the pixel cap without a bytes limit", rawPNG(1<<14, 1<<13, 8, 0, 0, nil), 0, "16384x8192 PNG image (Gray, 1 bytes per pixel) has 134217728 pixels; at most 67108864 are allowed"},
		{"a PNG claiming 2^28 x 2^28 pixels", rawPNG(1<<28, 1<<28, 16, 6, 0, nil), 64 << 20, "268435456x268435456 PNG image (NRGBA64, 8 bytes per pixel) has"},
		{"a JPEG at its largest", synthJPEG(65535, 65535, 3, 0x11, true, false), 64 << 20, "65535x65535 JPEG image (YCbCr, 3 bytes per pixel) has"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := DecodeContext(context.Background(), tt.b, opt, tt.maxBytes)
			require.True(t, errs.Is(err, errs.TooLarge), "%v", err)
			require.Equal(t, tt.msg, errs.MessageOf(err)[:len(tt.msg)])
			require.Less(t, time.Since(start), 5*time.Second, "refused from the header, not after decoding")
		})
	}

	// Under the limit it decodes as Decode does.
	small := encodePNG(t, image.NewRGBA64(image.Rect(0, 0, 100, 80)))
	want, err := Decode(small, opt)
	require.NoError(t, err)
	got, err := DecodeContext(context.Background(), small, opt, 1<<20)
	require.NoError(t, err)
	require.Equal(t, want, got)
	hs, err := ReadHeader(small)
	require.NoError(t, err)
	_, err = DecodeContext(context.Background(), small, opt, opt.ImageBytes(hs)-1)
	require.True(t, errs.Is(err, errs.TooLarge), "%v", err)
}

// TestDecodeImageContextCanceled stops decoding once the context ends.
func TestDecodeImageContextCanceled(t *testing.T) {
	b := rawPNG(2000, 2000, 8, 0, 0, func(zw *zlib.Writer) { zeroRows(zw, 2000, 2000) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := DecodeContext(ctx, b, DefaultOptions(), 0)
	require.ErrorIs(t, err, context.Canceled)

	// A reader whose context ends midway fails the decoder's next read.
	ctx, cancel = context.WithCancel(context.Background())
	r := &ctxReader{ctx: ctx, r: bytes.NewReader(b)}
	buf := make([]byte, 100)
	_, err = r.Read(buf)
	require.NoError(t, err)
	cancel()
	_, err = r.Read(buf)
	require.ErrorIs(t, err, context.Canceled)
	_, err = png.Decode(&ctxReader{ctx: ctx, r: bytes.NewReader(b)})
	require.ErrorIs(t, err, context.Canceled)
}

func TestByteSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.5 KiB", 64 << 20: "64 MiB", 3 << 30: "3 GiB", 1<<62 + 1<<61: "6 EiB"} {
		require.Equal(t, want, byteSize(n), n)
	}
}
