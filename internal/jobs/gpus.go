package jobs

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// gpuPool hands out the GPUs a sweep may use to its trials, so that
// trials packed onto a machine spread over its devices instead of all
// seeing device 0. A fractional request shares one device; a request of
// one or more takes that many whole devices.
type gpuPool struct {
	mu   sync.Mutex
	ids  []string  // device IDs as CUDA_VISIBLE_DEVICES names them
	free []float64 // free share of each device
}

// newGPUPool returns a pool of n devices: those listed in visible (a
// CUDA_VISIBLE_DEVICES value) or, without it, 0..n-1.
func newGPUPool(n int, visible string) *gpuPool {
	p := &gpuPool{}
	var listed []string
	if visible != "" {
		listed = strings.Split(visible, ",")
	}
	for i := 0; i < n; i++ {
		id := ""
		if i < len(listed) {
			id = strings.TrimSpace(listed[i])
		} else {
			id = strconv.Itoa(i)
		}
		p.ids = append(p.ids, id)
		p.free = append(p.free, 1)
	}
	return p
}

// take assigns devices to a request of gpu and returns their indexes.
// The sweep's packing guarantees the total fits; when the free shares are
// fragmented, the least used devices are taken anyway.
func (p *gpuPool) take(gpu float64) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if gpu <= 0 || len(p.ids) == 0 {
		return nil
	}
	order := make([]int, len(p.ids))
	for i := range order {
		order[i] = i
	}
	if gpu < 1 {
		// The fullest device that still fits, so whole devices stay free
		// for whole requests; else the emptiest.
		best := -1
		for _, i := range order {
			if p.free[i] >= gpu-1e-9 && (best < 0 || p.free[i] < p.free[best]) {
				best = i
			}
		}
		if best < 0 {
			sort.SliceStable(order, func(a, b int) bool { return p.free[order[a]] > p.free[order[b]] })
			best = order[0]
		}
		p.free[best] -= gpu
		return []int{best}
	}
	n := min(int(math.Ceil(gpu-1e-9)), len(p.ids))
	sort.SliceStable(order, func(a, b int) bool { return p.free[order[a]] > p.free[order[b]] })
	got := append([]int(nil), order[:n]...)
	sort.Ints(got)
	for _, i := range got {
		p.free[i] -= gpu / float64(n)
	}
	return got
}

// give returns what take assigned.
func (p *gpuPool) give(devices []int, gpu float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, i := range devices {
		p.free[i] = math.Min(1, p.free[i]+gpu/float64(len(devices)))
	}
}

// visible names devices as CUDA_VISIBLE_DEVICES does.
func (p *gpuPool) visible(devices []int) string {
	names := make([]string, len(devices))
	for k, i := range devices {
		names[k] = p.ids[i]
	}
	return strings.Join(names, ",")
}
