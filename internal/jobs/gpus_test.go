package jobs

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGPUPool(t *testing.T) {
	p := newGPUPool(2, "3,5")
	a := p.take(0.5)
	b := p.take(0.5)
	require.Equal(t, a, b, "halves share a device, leaving the other whole")
	c := p.take(1)
	require.NotEqual(t, a, c)
	require.Equal(t, "5", p.visible(c))
	p.give(a, 0.5)
	p.give(b, 0.5)
	p.give(c, 1)
	two := p.take(2)
	require.Equal(t, []int{0, 1}, two)
	require.Equal(t, "3,5", p.visible(two))
	p.give(two, 2)
	require.Nil(t, p.take(0))

	// Without CUDA_VISIBLE_DEVICES the devices are 0..n-1; fragmented
	// shares still place the request, on the emptiest device.
	q := newGPUPool(12, "")
	require.Equal(t, "11", q.visible([]int{11}))
	r := newGPUPool(2, "")
	r.take(0.6)
	r.take(0.6)
	got := r.take(0.6)
	require.Len(t, got, 1)
}
