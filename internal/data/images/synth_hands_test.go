package images

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
)

func TestGenerateHandsDeterministic(t *testing.T) {
	gen := func(workers int) (string, *SynthResult) {
		dir := filepath.Join(t.TempDir(), "hands")
		res, err := GenerateHands(context.Background(), SynthHandsOptions{Out: dir, N: 30, Seed: 5, Size: 48, Workers: workers})
		require.NoError(t, err)
		return dir, res
	}
	a, ra := gen(1)
	b, _ := gen(2)
	require.Equal(t, 30, ra.Files)
	require.Equal(t, map[string]int{"0": 5, "1": 5, "2": 5, "3": 5, "4": 5, "5": 5}, ra.Counts)

	entries, err := os.ReadDir(a)
	require.NoError(t, err)
	name := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}_[0-5][LR]\.png$`)
	pngs := 0
	for _, e := range entries {
		if e.Name() == data.SyntheticMarker {
			continue
		}
		pngs++
		require.Regexp(t, name, e.Name())
		x, err := os.ReadFile(filepath.Join(a, e.Name()))
		require.NoError(t, err)
		y, err := os.ReadFile(filepath.Join(b, e.Name()))
		require.NoError(t, err, "the same seed names the same files")
		require.Equal(t, x, y, e.Name())
		px, err := Decode(x, Options{Size: 48, Channels: 1})
		require.NoError(t, err)
		// A bright hand on a dark background.
		lo, hi := 255, 0
		for _, v := range px {
			lo, hi = min(lo, int(v)), max(hi, int(v))
		}
		require.Less(t, lo, 90, e.Name())
		require.Greater(t, hi, 150, e.Name())
	}
	require.Equal(t, 30, pngs)

	// Another seed draws other hands.
	c := filepath.Join(t.TempDir(), "other")
	_, err = GenerateHands(context.Background(), SynthHandsOptions{Out: c, N: 30, Seed: 6, Size: 48})
	require.NoError(t, err)
	other, _ := os.ReadDir(c)
	require.Equal(t, data.SyntheticMarker, other[0].Name())
	require.NotEqual(t, entries[1].Name(), other[1].Name())
}

func TestGenerateHandsMirrorsLeftHands(t *testing.T) {
	// Image 6 is the first left hand (class 0): the right hand drawn from
	// its random stream, mirrored.
	name, b, err := synthHand(1, 6, 32)
	require.NoError(t, err)
	require.Regexp(t, `_0L\.png$`, name)
	px, err := Decode(b, Options{Size: 32, Channels: 1})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 6))
	for range 16 {
		rng.UintN(256) // the UUID
	}
	right := drawHand(rng, 0, 32)
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			require.Equal(t, right.Pix[y*right.Stride+x], px[y*32+31-x])
		}
	}
}

func TestGenerateHandsBadOptions(t *testing.T) {
	for _, opt := range []SynthHandsOptions{
		{Out: "", N: 10},
		{Out: t.TempDir(), N: 0},
		{Out: t.TempDir(), N: 10, Size: 8},
	} {
		_, err := GenerateHands(context.Background(), opt)
		require.True(t, errs.Is(err, errs.Invalid), "%+v: %v", opt, err)
	}
}
