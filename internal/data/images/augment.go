package images

import (
	"math"
	"math/rand/v2"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// AugmentOptions are the random training-time changes to an image. The zero
// value changes nothing.
type AugmentOptions struct {
	// FlipProb is the probability of a horizontal (left-right) flip. In the
	// fingers data left hands are mirrored right hands, so a flip keeps a
	// count label, and turns a count-and-hand label into the other hand's.
	FlipProb float64 `json:"flip_prob,omitempty"`
	// FlipClasses, when set, is the class a flipped example becomes, by
	// class index (for hand labels: 3L <-> 3R). Without it a flip keeps the
	// label.
	FlipClasses []int32 `json:"flip_classes,omitempty"`
	// MaxShift is the largest shift in pixels, drawn per axis in
	// [-MaxShift, MaxShift].
	MaxShift int `json:"max_shift,omitempty"`
	// MaxRotate is the largest rotation in degrees, either way.
	MaxRotate float64 `json:"max_rotate,omitempty"`
	// Brightness is the largest brightness offset as a fraction of the full
	// pixel range (0.1 = up to ±10%), the same for every channel.
	Brightness float64 `json:"brightness,omitempty"`
}

// DefaultAugmentOptions returns the fingers training augmentation: flips
// half the time, shifts up to 1/16 of the image, rotations up to 10 degrees
// and brightness up to ±10%.
func DefaultAugmentOptions(size int) AugmentOptions {
	return AugmentOptions{FlipProb: 0.5, MaxShift: max(size/16, 1), MaxRotate: 10, Brightness: 0.1}
}

// AugmentOptionsFor returns the default augmentation for a dataset: as
// DefaultAugmentOptions; when the classes name the hand, a flipped example
// becomes the other hand (a flipped right hand is a left hand).
func AugmentOptionsFor(m data.Manifest) AugmentOptions {
	a := DefaultAugmentOptions(m.Shape[0])
	if HandClasses(m.Classes) {
		index := map[string]int32{}
		for i, c := range m.Classes {
			index[c] = int32(i)
		}
		a.FlipClasses = make([]int32, len(m.Classes))
		for i, c := range m.Classes {
			other := "L"
			if c[1] == 'L' {
				other = "R"
			}
			j, ok := index[c[:1]+other]
			if !ok {
				a.FlipProb, a.FlipClasses = 0, nil // one hand only: no flips
				return a
			}
			a.FlipClasses[i] = j
		}
	}
	return a
}

// FlipLabel returns the label of an example after Apply flipped it.
func (a *Augmenter) FlipLabel(label int32) int32 {
	if f := a.opt.FlipClasses; int(label) < len(f) && label >= 0 {
		return f[label]
	}
	return label
}

// Validate checks every option is within its range.
func (o AugmentOptions) Validate() error {
	for _, c := range o.FlipClasses {
		if c < 0 {
			return errs.Invalidf("augment: flip_classes: class index %d: expected 0 or more", c)
		}
	}
	switch {
	case o.FlipProb < 0 || o.FlipProb > 1 || math.IsNaN(o.FlipProb):
		return errs.Invalidf("augment: flip probability %g: expected 0 to 1", o.FlipProb)
	case o.MaxShift < 0:
		return errs.Invalidf("augment: max shift %d: expected 0 or more pixels", o.MaxShift)
	case o.MaxRotate < 0 || o.MaxRotate > 180 || math.IsNaN(o.MaxRotate):
		return errs.Invalidf("augment: max rotation %g: expected 0 to 180 degrees", o.MaxRotate)
	case o.Brightness < 0 || o.Brightness > 1 || math.IsNaN(o.Brightness):
		return errs.Invalidf("augment: brightness %g: expected 0 to 1", o.Brightness)
	}
	return nil
}

// Enabled reports whether the options change anything.
func (o AugmentOptions) Enabled() bool {
	return o.FlipProb > 0 || o.MaxShift > 0 || o.MaxRotate > 0 || o.Brightness > 0
}

// Augmenter applies random AugmentOptions to normalised float32 examples in
// HWC order, drawing from a caller's *rand.Rand so a seeded training run
// augments identically every time. Pixels moved in from outside the image
// repeat the nearest edge pixel. ApplyTo is safe for concurrent use (with one
// rand.Rand per goroutine); Apply uses a scratch buffer and is not.
type Augmenter struct {
	opt     AugmentOptions
	h, w, c int
	// bright converts a brightness offset in [0,1] pixel units to the
	// normalised units of each channel: 1/std.
	bright []float32
	tmp    []float32
}

// NewAugmenter returns an Augmenter for examples of shape [H, W, C]
// normalised with norm (nil when the values are pixels scaled to [0,1]),
// typically NewAugmenter(ds.Manifest.Shape, ds.Manifest.Normalize, opt).
func NewAugmenter(shape []int, norm *data.Normalize, opt AugmentOptions) (*Augmenter, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if len(shape) != 3 || shape[0] < 1 || shape[1] < 1 || shape[2] < 1 {
		return nil, errs.Invalidf("augment: shape %v: expected [height, width, channels]", shape)
	}
	a := &Augmenter{opt: opt, h: shape[0], w: shape[1], c: shape[2]}
	a.bright = make([]float32, a.c)
	for ch := range a.bright {
		a.bright[ch] = 1
		if norm != nil && len(norm.Std) > 0 {
			if s := norm.Std[ch%len(norm.Std)]; s > 0 {
				a.bright[ch] = 1 / s
			}
		}
	}
	return a, nil
}

// Options returns the options the Augmenter applies.
func (a *Augmenter) Options() AugmentOptions { return a.opt }

// Apply augments one example in place and tells whether it flipped it
// (see FlipLabel).
func (a *Augmenter) Apply(rng *rand.Rand, x []float32) bool {
	if len(a.tmp) != len(x) {
		a.tmp = make([]float32, len(x))
	}
	flipped := a.ApplyTo(rng, a.tmp, x)
	copy(x, a.tmp)
	return flipped
}

// ApplyTo writes an augmented copy of src (H*W*C values) to dst, which must
// have the same length and must not overlap src, and tells whether it
// flipped it.
func (a *Augmenter) ApplyTo(rng *rand.Rand, dst, src []float32) bool {
	o := a.opt
	flip := o.FlipProb > 0 && rng.Float64() < o.FlipProb
	dx, dy := 0, 0
	if o.MaxShift > 0 {
		dx = rng.IntN(2*o.MaxShift+1) - o.MaxShift
		dy = rng.IntN(2*o.MaxShift+1) - o.MaxShift
	}
	angle := 0.0
	if o.MaxRotate > 0 {
		angle = (rng.Float64()*2 - 1) * o.MaxRotate * math.Pi / 180
	}
	var delta float32
	if o.Brightness > 0 {
		delta = float32((rng.Float64()*2 - 1) * o.Brightness)
	}

	if angle == 0 {
		a.shift(dst, src, dx, dy, flip)
	} else {
		a.rotate(dst, src, dx, dy, angle, flip)
	}
	if delta != 0 {
		for i := range dst {
			dst[i] += delta * a.bright[i%a.c]
		}
	}
	return flip
}

// shift copies src to dst moved by (dx, dy) and optionally mirrored.
func (a *Augmenter) shift(dst, src []float32, dx, dy int, flip bool) {
	h, w, c := a.h, a.w, a.c
	for y := 0; y < h; y++ {
		sy := clampInt(y-dy, 0, h-1)
		srow := src[sy*w*c : (sy+1)*w*c]
		drow := dst[y*w*c : (y+1)*w*c]
		for x := 0; x < w; x++ {
			sx := clampInt(x-dx, 0, w-1)
			if flip {
				sx = w - 1 - sx
			}
			if c == 1 {
				drow[x] = srow[sx]
				continue
			}
			copy(drow[x*c:(x+1)*c], srow[sx*c:(sx+1)*c])
		}
	}
}

// rotate samples src bilinearly at the inverse of: mirror (optional), rotate
// by angle about the centre, shift by (dx, dy).
func (a *Augmenter) rotate(dst, src []float32, dx, dy int, angle float64, flip bool) {
	h, w, c := a.h, a.w, a.c
	cx, cy := float64(w-1)/2, float64(h-1)/2
	cos, sin := math.Cos(angle), math.Sin(angle)
	maxX, maxY := float64(w-1), float64(h-1)
	for y := 0; y < h; y++ {
		v := float64(y-dy) - cy
		u := -float64(dx) - cx
		// Source coordinates of (x=0, y); each step in x adds (cos, -sin).
		su := cos*u + sin*v + cx
		sv := -sin*u + cos*v + cy
		drow := dst[y*w*c : (y+1)*w*c]
		for x := 0; x < w; x++ {
			fx := su + cos*float64(x)
			fy := sv - sin*float64(x)
			if flip {
				fx = maxX - fx
			}
			// Plain comparisons: math.Min and Max handle NaN and signed
			// zeros, which costs a third of the loop.
			if fx < 0 {
				fx = 0
			} else if fx > maxX {
				fx = maxX
			}
			if fy < 0 {
				fy = 0
			} else if fy > maxY {
				fy = maxY
			}
			x0, y0 := int(fx), int(fy)
			x1, y1 := min(x0+1, w-1), min(y0+1, h-1)
			wx, wy := float32(fx-float64(x0)), float32(fy-float64(y0))
			i00, i01 := (y0*w+x0)*c, (y0*w+x1)*c
			i10, i11 := (y1*w+x0)*c, (y1*w+x1)*c
			for ch := 0; ch < c; ch++ {
				top := src[i00+ch] + (src[i01+ch]-src[i00+ch])*wx
				bot := src[i10+ch] + (src[i11+ch]-src[i10+ch])*wx
				drow[x*c+ch] = top + (bot-top)*wy
			}
		}
	}
}

func clampInt(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}
