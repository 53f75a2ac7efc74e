package images

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// SynthHandsOptions configure GenerateHands.
type SynthHandsOptions struct {
	Out  string // folder to write into (created if needed)
	N    int    // number of images, balanced over the 12 (count, hand) classes
	Seed uint64
	Size int // width and height in pixels (128 like the real photos when 0)
	// Workers draw images in parallel; 0 means runtime.NumCPU(). The
	// output does not depend on it.
	Workers int
}

// DefaultSynthHandsOptions returns 600 images of 128x128 with seed 1.
func DefaultSynthHandsOptions() SynthHandsOptions {
	return SynthHandsOptions{N: 600, Seed: 1, Size: 128}
}

// SynthResult says what a generator wrote.
type SynthResult struct {
	Dir    string         `json:"dir"`
	Files  int            `json:"files"`
	Counts map[string]int `json:"counts"` // per class label ("0".."5")
}

// GenerateHands writes N synthetic stand-ins for the fingers photos into
// opt.Out, in the fingers naming <uuid>_<N><L|R>.png: a bright hand (a palm
// blob with N raised finger strokes at varied angles, the others folded as
// knuckles) on a dark, cloudy, noisy background, at a random position, scale
// and tilt. Left hands are mirrored right hands, as in the real data. The
// same seed gives byte-identical files, whatever the worker count. It also
// writes a hidden marker file, so a dataset prepared from the folder is
// marked Synthetic.
func GenerateHands(ctx context.Context, opt SynthHandsOptions) (*SynthResult, error) {
	if opt.Out == "" {
		return nil, errs.Invalidf("synth fingers: no output folder")
	}
	if opt.N < 1 || opt.N > 1_000_000 {
		return nil, errs.Invalidf("synth fingers: %d images: expected 1 to 1000000", opt.N)
	}
	if opt.Size == 0 {
		opt.Size = 128
	}
	if opt.Size < 16 || opt.Size > 1024 {
		return nil, errs.Invalidf("synth fingers: size %d: expected 16 to 1024 pixels", opt.Size)
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	if err := os.MkdirAll(opt.Out, 0o755); err != nil {
		return nil, fmt.Errorf("synth fingers: %w", err)
	}
	marker, _ := json.MarshalIndent(map[string]any{
		"generator": "cairn synth fingers",
		"synthetic": true,
		"n":         opt.N,
		"seed":      opt.Seed,
		"size":      opt.Size,
	}, "", "  ")
	if err := os.WriteFile(filepath.Join(opt.Out, data.SyntheticMarker), append(marker, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("synth fingers: %w", err)
	}
	counts := make([]int, len(fingersClasses))
	for i := 0; i < opt.N; i++ {
		counts[i%6]++
	}
	err := parallel(ctx, workers, opt.N, func(_, i int) error {
		name, b, err := synthHand(opt.Seed, i, opt.Size)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(opt.Out, name), b, 0o644); err != nil {
			return fmt.Errorf("synth fingers: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res := &SynthResult{Dir: opt.Out, Files: opt.N, Counts: map[string]int{}}
	for i, c := range counts {
		res.Counts[fingersClasses[i]] = c
	}
	return res, nil
}

// synthHand draws image i of a seed: its class is i%6 fingers, its hand
// alternates R, L every six images.
func synthHand(seed uint64, i, size int) (string, []byte, error) {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	fingers := i % 6
	hand := "R"
	if (i/6)%2 == 1 {
		hand = "L"
	}
	var id [16]byte
	for k := range id {
		id[k] = byte(rng.UintN(256))
	}
	id[6] = id[6]&0x0f | 0x40 // a version-4 UUID, drawn from the seed
	id[8] = id[8]&0x3f | 0x80
	name := fmt.Sprintf("%x-%x-%x-%x-%x_%d%s.png", id[0:4], id[4:6], id[6:8], id[8:10], id[10:16], fingers, hand)

	img := drawHand(rng, fingers, size)
	if hand == "L" {
		for y := 0; y < size; y++ {
			row := img.Pix[y*img.Stride : y*img.Stride+size]
			for a, b := 0, size-1; a < b; a, b = a+1, b-1 {
				row[a], row[b] = row[b], row[a]
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", nil, fmt.Errorf("synth fingers: encode %s: %w", name, err)
	}
	return name, buf.Bytes(), nil
}

// capsule is a line segment with a radius: a finger, or a knuckle (a == b).
type capsule struct{ ax, ay, bx, by, r float64 }

func (c capsule) dist(x, y float64) float64 {
	vx, vy := c.bx-c.ax, c.by-c.ay
	wx, wy := x-c.ax, y-c.ay
	t := 0.0
	if l := vx*vx + vy*vy; l > 0 {
		t = math.Min(math.Max((wx*vx+wy*vy)/l, 0), 1)
	}
	dx, dy := wx-t*vx, wy-t*vy
	return math.Sqrt(dx*dx+dy*dy) - c.r
}

// drawHand renders a right hand with the given number of raised fingers.
// Geometry is drawn in units of a 128-pixel image and scaled to size.
func drawHand(rng *rand.Rand, fingers, size int) *image.Gray {
	k := float64(size) / 128
	scale := 0.8 + 0.4*rng.Float64()
	cx := (64 + (rng.Float64()*2-1)*10) * k
	cy := (76 + (rng.Float64()*2-1)*8) * k
	tilt := (rng.Float64()*2 - 1) * 15 * math.Pi / 180
	rx := (14 + 3*rng.Float64()) * scale * k
	ry := (16 + 3*rng.Float64()) * scale * k

	// Five finger slots, angles from straight up (right hand, seen from the
	// palm side): thumb out to the left, then index, middle, ring, little.
	slots := [5]float64{-80, -40, -14, 12, 38}
	lengths := [5]float64{0.7, 0.95, 1.05, 0.97, 0.82}
	raised := rng.Perm(5)[:fingers]
	up := [5]bool{}
	for _, s := range raised {
		up[s] = true
	}
	var caps []capsule
	fingerLen := (30 + 6*rng.Float64()) * scale * k
	width := (3.6 + 0.8*rng.Float64()) * scale * k
	for s := 0; s < 5; s++ {
		ang := (slots[s]+(rng.Float64()*2-1)*4)*math.Pi/180 + tilt
		dirX, dirY := math.Sin(ang), -math.Cos(ang)
		// The finger root sits on the palm's edge in that direction.
		bx, by := cx+dirX*rx*0.75, cy+dirY*ry*0.75
		if up[s] {
			l := fingerLen * lengths[s] * (0.92 + 0.16*rng.Float64())
			r := width
			if s == 0 {
				r *= 1.2
			}
			caps = append(caps, capsule{bx, by, bx + dirX*l, by + dirY*l, r})
		} else {
			// A folded finger: a low knuckle bump on the palm's rim.
			kx, ky := cx+dirX*rx*0.7, cy+dirY*ry*0.7
			caps = append(caps, capsule{kx, ky, kx + dirX*k, ky + dirY*k, width})
		}
	}
	// The wrist, cut off by the bottom of the picture like the real crops.
	wa := tilt + math.Pi
	caps = append(caps, capsule{cx, cy, cx + math.Sin(wa)*ry*1.6, cy - math.Cos(wa)*ry*1.6, rx * 0.7})

	// Background: a dark, cloudy grey from a coarse random grid smoothed
	// bilinearly, plus per-pixel noise, like the real photos.
	const grid = 9
	var coarse [grid][grid]float64
	base := 45 + 20*rng.Float64()
	for a := range coarse {
		for b := range coarse[a] {
			coarse[a][b] = base + (rng.Float64()*2-1)*12
		}
	}
	noise := 4 + 5*rng.Float64()
	skin := 175 + 45*rng.Float64()
	shade := 0.15 + 0.15*rng.Float64()
	cosT, sinT := math.Cos(-tilt), math.Sin(-tilt)

	img := image.NewGray(image.Rect(0, 0, size, size))
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			fx, fy := float64(x)+0.5, float64(y)+0.5
			gx := fx / float64(size) * (grid - 1)
			gy := fy / float64(size) * (grid - 1)
			x0, y0 := min(int(gx), grid-2), min(int(gy), grid-2)
			tx, ty := gx-float64(x0), gy-float64(y0)
			bg := (coarse[y0][x0]*(1-tx)+coarse[y0][x0+1]*tx)*(1-ty) + (coarse[y0+1][x0]*(1-tx)+coarse[y0+1][x0+1]*tx)*ty

			// Signed distance to the hand: the palm ellipse, then capsules.
			ux, uy := fx-cx, fy-cy
			px, py := ux*cosT-uy*sinT, ux*sinT+uy*cosT
			d := (math.Hypot(px/rx, py/ry) - 1) * math.Min(rx, ry)
			for _, c := range caps {
				d = math.Min(d, c.dist(fx, fy))
			}
			// Anti-aliased coverage over about one pixel.
			cover := math.Min(math.Max(0.5-d/(1.2*k+0.3), 0), 1)
			// Light from above: the hand darkens a little towards the wrist.
			lit := skin * (1 - shade*math.Min(math.Max((fy-cy+ry)/(3*ry), 0), 1))
			v := bg*(1-cover) + lit*cover + rng.NormFloat64()*noise
			img.Pix[y*img.Stride+x] = uint8(math.Min(math.Max(math.Round(v), 0), 255))
		}
	}
	return img
}
