package images

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg" // register the JPEG decoder for image.Decode
	_ "image/png"  // register the PNG decoder for image.Decode
	"sync"
	"sync/atomic"

	"golang.org/x/image/draw"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// ResizeKernel names the resampling kernel every image goes through; it is
// recorded in the manifest so a server can check it applies the same one.
const ResizeKernel = "catmull-rom"

// MaxPixels bounds the decoded size of one image (64 megapixels), so
// a hostile or broken file cannot make the decoder allocate gigabytes. It
// is the hard cap everywhere, dataset preparation included; a server sets
// a tighter one in bytes (DecodeContext's maxBytes).
const MaxPixels = 64 << 20

// MaxFileBytes bounds the size of one source image file (256 MiB).
const MaxFileBytes = 256 << 20

// Options say how one image becomes a model input: decoded (PNG or JPEG),
// converted to grayscale or RGB, optionally centre-cropped to a square, and
// resized to Size x Size with a Catmull-Rom kernel, as uint8 pixels in
// height-width-channel order. The model package stores them so serving
// applies exactly the preprocessing the training data had.
type Options struct {
	Size     int `json:"size"`     // output width and height in pixels
	Channels int `json:"channels"` // 1 (grayscale) or 3 (RGB)
	// Crop centre-crops non-square images to a square before resizing;
	// without it they are stretched to Size x Size.
	Crop bool `json:"crop,omitempty"`
}

// DefaultOptions returns 64x64 grayscale, the fingers default.
func DefaultOptions() Options { return Options{Size: 64, Channels: 1} }

// Validate checks the size (1..1024) and the channel count (1 or 3).
func (o Options) Validate() error {
	if o.Size < 1 || o.Size > 1024 {
		return errs.Invalidf("image size %d: expected 1 to 1024 pixels", o.Size)
	}
	if o.Channels != 1 && o.Channels != 3 {
		return errs.Invalidf("image channels %d: expected 1 (grayscale) or 3 (RGB)", o.Channels)
	}
	return nil
}

// Shape is the [H, W, C] shape of one preprocessed image.
func (o Options) Shape() []int { return []int{o.Size, o.Size, o.Channels} }

// Len is the number of uint8 values in one preprocessed image.
func (o Options) Len() int { return o.Size * o.Size * o.Channels }

// OptionsOf returns the preprocessing recorded in an image dataset's
// manifest (Params["image"]), for a model package to copy.
func OptionsOf(m data.Manifest) (Options, error) {
	var o Options
	raw, ok := m.Params["image"]
	if m.Kind != "images" || !ok {
		return o, errs.Invalidf("dataset %s: not an image dataset (no image options in its manifest)", shortHash(m.Hash))
	}
	b, err := json.Marshal(raw)
	if err == nil {
		err = json.Unmarshal(b, &o)
	}
	if err != nil {
		return o, errs.Invalidf("dataset %s: image options: %v", shortHash(m.Hash), err)
	}
	return o, o.Validate()
}

// Decode decodes one PNG or JPEG image and preprocesses it as opt says,
// returning Size*Size*Channels uint8 values in HWC order. It is the exact
// function Prepare applies to every file, so a server calling it on a
// request image feeds the model what it was trained on.
func Decode(b []byte, opt Options) ([]uint8, error) {
	return DecodeContext(context.Background(), b, opt, 0)
}

// DecodeContext is Decode for untrusted input. It reads the
// header first and refuses, before decoding, an image of more than
// MaxPixels or, when maxBytes > 0, one whose decoding and resizing
// take more than maxBytes (opt.ImageBytes); it stops decoding with ctx's
// error once ctx ends. Errors: Invalid (not an image, bad options),
// TooLarge, ctx's.
func DecodeContext(ctx context.Context, b []byte, opt Options, maxBytes int64) ([]uint8, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	dst := make([]uint8, opt.Len())
	var d imageDecoder
	if err := d.decodeContext(ctx, b, opt, dst, maxBytes); err != nil {
		return nil, err
	}
	return dst, nil
}

// CheckSize refuses an image of more than MaxPixels or, when
// maxBytes > 0, one whose decoding and resizing with opt take more than
// maxBytes. Errors: TooLarge naming the size and the limit.
func CheckSize(h Header, opt Options, maxBytes int64) error {
	if h.Pixels() > MaxPixels {
		return errs.E(errs.TooLarge, "%s has %d pixels; at most %d are allowed", h, h.Pixels(), MaxPixels)
	}
	if need := opt.ImageBytes(h); maxBytes > 0 && need > maxBytes {
		return errs.E(errs.TooLarge, "%s takes %s (%d bytes) to decode and resize; the limit is %s (%d bytes)", h, byteSize(need), need, byteSize(maxBytes), maxBytes)
	}
	return nil
}

// byteSize writes n in binary units, e.g. "64 MiB" or "1.5 GiB".
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %ciB", int64(v), "KMGTPE"[exp])
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[exp])
}

// Convert preprocesses an already decoded image like Decode, into
// dst when it has room (else a new slice), and returns the pixels.
func Convert(img image.Image, opt Options, dst []uint8) ([]uint8, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if len(dst) < opt.Len() {
		dst = make([]uint8, opt.Len())
	}
	dst = dst[:opt.Len()]
	var d imageDecoder
	if err := d.convert(img, opt, dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// imageDecoder holds one worker's scratch image, so preparing thousands of
// images does not allocate a resize target for each.
type imageDecoder struct {
	scratch *image.RGBA
}

func (d *imageDecoder) decode(b []byte, opt Options, dst []uint8) error {
	return d.decodeContext(context.Background(), b, opt, dst, 0)
}

func (d *imageDecoder) decodeContext(ctx context.Context, b []byte, opt Options, dst []uint8, maxBytes int64) error {
	h, err := ReadHeader(b)
	if err != nil {
		return err
	}
	if err := CheckSize(h, opt, maxBytes); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	img, _, err := image.Decode(&ctxReader{ctx: ctx, r: bytes.NewReader(b)})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return errs.Invalidf("corrupt %s image: %v", h.Format, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.convert(img, opt, dst)
}

// ctxReader fails its reads once ctx ends, so that a decoder reading from
// it stops (the decoders read in blocks of a few kilobytes).
type ctxReader struct {
	ctx context.Context
	r   *bytes.Reader
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// convert crops, resizes and converts img into dst (opt.Len() values).
// Transparent pixels are composed over black.
func (d *imageDecoder) convert(img image.Image, opt Options, dst []uint8) error {
	sr := img.Bounds()
	if sr.Empty() {
		return errs.Invalidf("empty image: expected at least one pixel")
	}
	if opt.Crop {
		if w, h := sr.Dx(), sr.Dy(); w > h {
			sr.Min.X += (w - h) / 2
			sr.Max.X = sr.Min.X + h
		} else if h > w {
			sr.Min.Y += (h - w) / 2
			sr.Max.Y = sr.Min.Y + w
		}
	}
	n := opt.Size
	// The common case for the fingers data: a grayscale image already at the
	// target size needs neither resampling nor colour conversion.
	if g, ok := img.(*image.Gray); ok && sr.Dx() == n && sr.Dy() == n {
		for y := 0; y < n; y++ {
			row := g.Pix[g.PixOffset(sr.Min.X, sr.Min.Y+y):][:n]
			if opt.Channels == 1 {
				copy(dst[y*n:], row)
				continue
			}
			for x, v := range row {
				o := (y*n + x) * 3
				dst[o], dst[o+1], dst[o+2] = v, v, v
			}
		}
		return nil
	}
	if d.scratch == nil || d.scratch.Rect.Dx() != n {
		d.scratch = image.NewRGBA(image.Rect(0, 0, n, n))
	}
	rgba := d.scratch
	if sr.Dx() == n && sr.Dy() == n {
		draw.Draw(rgba, rgba.Rect, img, sr.Min, draw.Src)
	} else {
		scalerFor(n, n, sr.Dx(), sr.Dy()).Scale(rgba, rgba.Rect, img, sr, draw.Src, nil)
	}
	pix := rgba.Pix
	for i := 0; i < n*n; i++ {
		r, g, b := pix[4*i], pix[4*i+1], pix[4*i+2]
		if opt.Channels == 3 {
			dst[3*i], dst[3*i+1], dst[3*i+2] = r, g, b
			continue
		}
		dst[i] = grayOf(r, g, b)
	}
	return nil
}

// grayOf is image/color's GrayModel luma (ITU-R BT.601 weights), with the
// same arithmetic on 8-bit values widened to 16 bits.
func grayOf(r, g, b uint8) uint8 {
	y := (19595*uint32(r)*0x101 + 38470*uint32(g)*0x101 + 7471*uint32(b)*0x101 + 1<<15) >> 24
	return uint8(y)
}

// scalers caches one Catmull-Rom scaler per (dst, src) size: building one
// computes the kernel weights, and a scaler is safe for concurrent use. At
// most maxScalers sizes are kept (photos come in many sizes).
var (
	scalers     sync.Map
	scalerCount atomic.Int32
)

const maxScalers = 256

type scalerKey struct{ dw, dh, sw, sh int }

func scalerFor(dw, dh, sw, sh int) draw.Scaler {
	k := scalerKey{dw, dh, sw, sh}
	if s, ok := scalers.Load(k); ok {
		return s.(draw.Scaler)
	}
	s := draw.CatmullRom.NewScaler(dw, dh, sw, sh)
	if scalerCount.Load() < maxScalers {
		if prev, loaded := scalers.LoadOrStore(k, s); loaded {
			return prev.(draw.Scaler)
		}
		scalerCount.Add(1)
	}
	return s
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return "(no hash)"
	}
	return h
}
