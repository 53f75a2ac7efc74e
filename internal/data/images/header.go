package images

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// Header is what an encoded image's header says about decoding it,
// read without decoding a pixel.
type Header struct {
	Format string // "png" or "jpeg"
	Width  int
	Height int
	// Color names the colour model the image decodes to: Gray, Gray16,
	// RGBA, NRGBA, RGBA64, NRGBA64, Paletted, YCbCr or CMYK.
	Color string
	// BytesPerPixel is the decoded colour model's size of one pixel
	// (YCbCr: 3, however its chroma is subsampled).
	BytesPerPixel int
	// DecodedBytes is the memory the decoder allocates for the image: the
	// decoded pixels (padded to whole JPEG blocks) and the buffers the
	// decoder keeps beside them that grow with the image: the pass images
	// of an interlaced PNG, the coefficients of a progressive JPEG, the
	// converted copy of an RGB or CMYK JPEG.
	DecodedBytes int64
}

// Pixels is Width x Height.
func (h Header) Pixels() int64 { return int64(h.Width) * int64(h.Height) }

// String describes the image for messages, e.g. "8000x8000 PNG image (RGBA64, 8 bytes per pixel)".
func (h Header) String() string {
	f := map[string]string{"png": "PNG", "jpeg": "JPEG"}[h.Format]
	if f == "" {
		f = h.Format
	}
	return fmt.Sprintf("%dx%d %s image (%s, %d bytes per pixel)", h.Width, h.Height, f, h.Color, h.BytesPerPixel)
}

// ReadHeader reads the header of a PNG or JPEG image: its size, the
// colour model it decodes to and what decoding it allocates. It reads
// only the chunks or markers before the pixel data. Errors: Invalid (not a
// readable PNG or JPEG header).
func ReadHeader(b []byte) (Header, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return Header{}, errs.Invalidf("not a readable PNG or JPEG image: %v", err)
	}
	h := Header{Format: format, Width: cfg.Width, Height: cfg.Height}
	if h.Width <= 0 || h.Height <= 0 {
		return h, errs.Invalidf("%s image of %dx%d pixels: expected a non-empty image", format, h.Width, h.Height)
	}
	var ok bool
	switch format {
	case "png":
		ok = pngHeader(b, &h)
	case "jpeg":
		ok = jpegHeader(b, cfg.ColorModel, &h)
	default:
		// Other packages of the binary register more decoders (GIF, TIFF)
		// whose allocations this reader does not count.
		return h, errs.Invalidf("a %s image: expected PNG or JPEG", format)
	}
	if !ok {
		// DecodeConfig read a header this reader does not understand:
		// refuse rather than guess what decoding it costs.
		return h, errs.Invalidf("%s image: unsupported header", format)
	}
	return h, nil
}

// pngHeader fills in the colour model and decoded size from the IHDR chunk
// and the chunks before the first IDAT (a tRNS chunk turns gray and
// truecolour images into NRGBA). It mirrors image/png's choice of types.
func pngHeader(b []byte, h *Header) bool {
	const sig = 8
	if len(b) < sig+8+13 || string(b[sig+4:sig+8]) != "IHDR" {
		return false
	}
	ihdr := b[sig+8:]
	depth, ctype, interlaced := ihdr[8], ihdr[9], ihdr[12] == 1
	trns := false
	for off := sig; off+8 <= len(b); {
		n := int64(binary.BigEndian.Uint32(b[off:]))
		typ := string(b[off+4 : off+8])
		if typ == "IDAT" {
			break
		}
		if typ == "tRNS" {
			trns = true
		}
		next := int64(off) + 12 + n
		if next > int64(len(b)) {
			break
		}
		off = int(next)
	}
	wide := depth == 16
	switch {
	case ctype == 3:
		h.Color, h.BytesPerPixel = "Paletted", 1
	case ctype == 0 && !trns:
		h.Color, h.BytesPerPixel = "Gray", 1
		if wide {
			h.Color, h.BytesPerPixel = "Gray16", 2
		}
	case ctype == 2 && !trns:
		h.Color, h.BytesPerPixel = "RGBA", 4
		if wide {
			h.Color, h.BytesPerPixel = "RGBA64", 8
		}
	case ctype == 0 || ctype == 2 || ctype == 4 || ctype == 6:
		h.Color, h.BytesPerPixel = "NRGBA", 4
		if wide {
			h.Color, h.BytesPerPixel = "NRGBA64", 8
		}
	default:
		return false
	}
	if h.Pixels() > maxCountedPixels {
		h.DecodedBytes = math.MaxInt64
		return true
	}
	img := h.Pixels() * int64(h.BytesPerPixel)
	// Two rows of filtered samples (at most 8 bytes a pixel).
	rows := 2 * (int64(h.Width)*8 + 1)
	h.DecodedBytes = img + rows
	if interlaced {
		// Each of the seven passes decodes into an image of its own
		// before it is merged: together as large as the image.
		h.DecodedBytes += img
	}
	return true
}

// jpegHeader fills in the colour model and decoded size from the first
// SOF marker, mirroring image/jpeg: planes padded to whole MCUs, the
// int32 coefficients of every block for a progressive image, and the
// interleaved copy an RGB or 4-component image is converted to.
func jpegHeader(b []byte, cm color.Model, h *Header) bool {
	sof, progressive := jpegSOF(b)
	if sof == nil {
		return false
	}
	n := int(sof[5])
	if n != 1 && n != 3 && n != 4 || len(sof) < 6+3*n {
		return false
	}
	hv := func(i int) (int64, int64) {
		if n == 1 {
			return 1, 1 // image/jpeg treats a lone component as 1x1
		}
		x := sof[7+3*i]
		return int64(max(x>>4, 1)), int64(max(x&0x0f, 1))
	}
	h0, v0 := hv(0)
	mxx := (int64(h.Width) + 8*h0 - 1) / (8 * h0)
	myy := (int64(h.Height) + 8*v0 - 1) / (8 * v0)
	var planes, coeffs int64
	for i := range n {
		hi, vi := hv(i)
		blocks := mxx * hi * myy * vi
		planes += blocks * 64
		if progressive {
			coeffs += blocks * 64 * 4
		}
	}
	h.DecodedBytes = planes + coeffs
	switch {
	case n == 1:
		h.Color, h.BytesPerPixel = "Gray", 1
	case n == 4:
		h.Color, h.BytesPerPixel = "CMYK", 4
		h.DecodedBytes += h.Pixels() * 4
	case cm == color.RGBAModel:
		h.Color, h.BytesPerPixel = "RGBA", 4
		h.DecodedBytes += h.Pixels() * 4
	default:
		h.Color, h.BytesPerPixel = "YCbCr", 3
		// An Adobe marker after the first scan, which DecodeConfig does
		// not read, can still make the decoder convert to RGBA. In scan
		// data 0xff is followed only by 0x00 or a restart marker, so
		// these two bytes are a marker wherever they are.
		if bytes.Contains(b, []byte{0xff, 0xee}) {
			h.DecodedBytes += h.Pixels() * 4
		}
	}
	return true
}

// jpegSOF returns the body of the first start-of-frame marker (after its
// length) and whether it is progressive, or nil.
func jpegSOF(b []byte) ([]byte, bool) {
	if len(b) < 4 || b[0] != 0xff || b[1] != 0xd8 {
		return nil, false
	}
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xff {
			i++ // image/jpeg also skips stray bytes between markers
			continue
		}
		m := b[i+1]
		switch {
		case m == 0xff: // fill byte
			i++
			continue
		case m == 0x00 || m == 0x01 || m >= 0xd0 && m <= 0xd9:
			i += 2 // no length
			continue
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return nil, false
		}
		if m == 0xc0 || m == 0xc1 || m == 0xc2 {
			return b[i+4 : i+2+n], m == 0xc2
		}
		if m == 0xda { // start of scan before any frame
			return nil, false
		}
		i += 2 + n
	}
	return nil, false
}

// ResizeBytes is the memory preprocessing an image of this header with opt
// takes beside the decoded image: the resize target and the resampler's
// buffer (one float64 RGBA per output column and source row).
func (o Options) ResizeBytes(h Header) int64 {
	sh := int64(h.Height)
	if o.Crop {
		sh = min(sh, int64(h.Width))
	}
	n := int64(o.Size)
	return n*n*4 + n*sh*32
}

// ImageBytes is all the memory Decode takes for an image of this
// header with opt: the decoder's and the resize's.
func (o Options) ImageBytes(h Header) int64 {
	r := o.ResizeBytes(h)
	if h.DecodedBytes > math.MaxInt64-r {
		return math.MaxInt64
	}
	return h.DecodedBytes + r
}

// maxCountedPixels is where Header stops counting bytes (a PNG may
// claim 2^31 x 2^31 pixels): beyond it DecodedBytes is math.MaxInt64.
const maxCountedPixels = 1 << 40
