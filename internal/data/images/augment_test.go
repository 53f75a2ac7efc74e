package images

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// ramp is an h x w x c example whose value encodes its position.
func ramp(h, w, c int) []float32 {
	x := make([]float32, h*w*c)
	for i := range x {
		x[i] = float32(i)
	}
	return x
}

func TestAugmenterIdentityAndFlip(t *testing.T) {
	src := ramp(4, 5, 2)
	a, err := NewAugmenter([]int{4, 5, 2}, nil, AugmentOptions{})
	require.NoError(t, err)
	dst := make([]float32, len(src))
	a.ApplyTo(rand.New(rand.NewPCG(1, 2)), dst, src)
	require.Equal(t, src, dst, "zero options change nothing")

	a, err = NewAugmenter([]int{4, 5, 2}, nil, AugmentOptions{FlipProb: 1})
	require.NoError(t, err)
	a.ApplyTo(rand.New(rand.NewPCG(1, 2)), dst, src)
	for y := 0; y < 4; y++ {
		for x := 0; x < 5; x++ {
			for c := 0; c < 2; c++ {
				require.Equal(t, src[(y*5+(4-x))*2+c], dst[(y*5+x)*2+c])
			}
		}
	}
	// Flip twice in place is the identity.
	x := append([]float32(nil), src...)
	rng := rand.New(rand.NewPCG(1, 2))
	a.Apply(rng, x)
	a.Apply(rng, x)
	require.Equal(t, src, x)
}

func TestAugmenterShiftRepeatsEdges(t *testing.T) {
	src := ramp(3, 3, 1) // 0 1 2 / 3 4 5 / 6 7 8
	a, err := NewAugmenter([]int{3, 3, 1}, nil, AugmentOptions{})
	require.NoError(t, err)
	dst := make([]float32, 9)
	a.shift(dst, src, 1, 0, false)
	require.Equal(t, []float32{0, 0, 1, 3, 3, 4, 6, 6, 7}, dst)
	a.shift(dst, src, 0, -1, false)
	require.Equal(t, []float32{3, 4, 5, 6, 7, 8, 6, 7, 8}, dst)
}

func TestAugmenterRotation(t *testing.T) {
	// A 90 degree turn of a ramp moves rows to columns exactly.
	src := ramp(3, 3, 1)
	a, err := NewAugmenter([]int{3, 3, 1}, nil, AugmentOptions{})
	require.NoError(t, err)
	dst := make([]float32, 9)
	a.rotate(dst, src, 0, 0, 1e-12, false)
	for i := range src {
		require.InDelta(t, src[i], dst[i], 1e-6, "a tiny rotation is the identity")
	}
	a.rotate(dst, src, 0, 0, 3.141592653589793/2, false)
	// Rotating clockwise on screen (y down): the top row becomes the right column.
	require.InDeltaSlice(t, []float32{6, 3, 0, 7, 4, 1, 8, 5, 2}, dst, 1e-4)
}

func TestAugmenterDeterministicAndBrightness(t *testing.T) {
	norm := &data.Normalize{Mean: []float32{0.5}, Std: []float32{0.25}}
	opt := AugmentOptions{FlipProb: 0.5, MaxShift: 2, MaxRotate: 10, Brightness: 0.1}
	a, err := NewAugmenter([]int{8, 8, 1}, norm, opt)
	require.NoError(t, err)
	src := ramp(8, 8, 1)
	run := func(seed uint64) [][]float32 {
		rng := rand.New(rand.NewPCG(seed, 0))
		var out [][]float32
		for i := 0; i < 5; i++ {
			dst := make([]float32, len(src))
			a.ApplyTo(rng, dst, src)
			out = append(out, dst)
		}
		return out
	}
	require.Equal(t, run(3), run(3))
	require.NotEqual(t, run(3), run(4))

	// Brightness alone adds one offset of at most 0.1/std to every value.
	b, err := NewAugmenter([]int{8, 8, 1}, norm, AugmentOptions{Brightness: 0.1})
	require.NoError(t, err)
	dst := make([]float32, len(src))
	b.ApplyTo(rand.New(rand.NewPCG(9, 9)), dst, src)
	delta := dst[0] - src[0]
	require.NotZero(t, delta)
	require.LessOrEqual(t, delta, float32(0.4)+1e-6)
	require.GreaterOrEqual(t, delta, float32(-0.4)-1e-6)
	for i := range src {
		require.InDelta(t, src[i]+delta, dst[i], 1e-4)
	}
}

func TestAugmentOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opt  AugmentOptions
		ok   bool
	}{
		{"zero", AugmentOptions{}, true},
		{"default", DefaultAugmentOptions(64), true},
		{"flip above one", AugmentOptions{FlipProb: 1.5}, false},
		{"negative shift", AugmentOptions{MaxShift: -1}, false},
		{"rotation too big", AugmentOptions{MaxRotate: 200}, false},
		{"negative brightness", AugmentOptions{Brightness: -0.1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewAugmenter([]int{4, 4, 1}, nil, tt.opt)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.True(t, errs.Is(err, errs.Invalid), "%v", err)
		})
	}
	_, err := NewAugmenter([]int{4, 4}, nil, AugmentOptions{})
	require.True(t, errs.Is(err, errs.Invalid))
}

func BenchmarkAugmenter(b *testing.B) {
	for _, size := range []int{32, 64} {
		b.Run("size="+strconv.Itoa(size), func(b *testing.B) {
			a, err := NewAugmenter([]int{size, size, 1}, nil, DefaultAugmentOptions(size))
			require.NoError(b, err)
			x := ramp(size, size, 1)
			rng := rand.New(rand.NewPCG(1, 1))
			b.ReportAllocs()
			for b.Loop() {
				a.Apply(rng, x)
			}
		})
	}
}
