package serve

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// batcher runs requests through a model in dynamic batches: each replica
// takes what is queued (up to maxBatch) and, when every other replica is
// busy, waits up to maxWait for more before it runs the batch. A lone
// request on an idle server therefore never waits, and a loaded server
// fills its batches.
type batcher struct {
	model    Model
	size     int // values per example
	maxBatch int
	maxWait  time.Duration
	replicas int
	queue    chan *call
	busy     atomic.Int32
	quit     chan struct{}
	wg       sync.WaitGroup
	obs      batchObserver
}

// batchObserver is told about each batch (metrics).
type batchObserver interface {
	batch(n int, took time.Duration)
	queued(depth int)
}

type call struct {
	ctx  context.Context
	x    []float32
	out  []float32
	err  error
	done chan struct{}
}

func newBatcher(m Model, cfg Config, obs batchObserver) *batcher {
	b := &batcher{
		model:    m,
		size:     m.Info().exampleSize(),
		maxBatch: max(1, cfg.MaxBatchSize),
		maxWait:  time.Duration(cfg.MaxWait),
		replicas: max(1, cfg.Replicas),
		queue:    make(chan *call, max(1, cfg.QueueSize)),
		quit:     make(chan struct{}),
		obs:      obs,
	}
	for range b.replicas {
		b.wg.Add(1)
		go b.run()
	}
	return b
}

// do predicts one prepared example. Errors: Unavailable (queue full, or
// ctx done while waiting), Invalid (wrong size), Internal.
func (b *batcher) do(ctx context.Context, x []float32) ([]float32, error) {
	if len(x) != b.size {
		return nil, errs.Invalidf("input has %d values; the model takes %d", len(x), b.size)
	}
	c := &call{ctx: ctx, x: x, done: make(chan struct{})}
	select {
	case b.queue <- c:
	default:
		return nil, &errs.Error{Kind: errs.Unavailable, Message: fmt.Sprintf("server busy: %d requests already queued; retry later", cap(b.queue))}
	}
	b.obs.queued(len(b.queue))
	select {
	case <-c.done:
		return c.out, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// queueSize is the most examples the queue holds.
func (b *batcher) queueSize() int { return cap(b.queue) }

// stop ends the replicas after the queue drains; callers stop sending first.
func (b *batcher) stop() {
	close(b.quit)
	b.wg.Wait()
}

func (b *batcher) run() {
	defer b.wg.Done()
	batch := make([]*call, 0, b.maxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		batch = batch[:0]
		select {
		case c := <-b.queue:
			batch = append(batch, c)
		case <-b.quit:
			// Finish what is queued: requests that got in are answered.
			for {
				select {
				case c := <-b.queue:
					b.compute(append(batch[:0], c))
				default:
					return
				}
			}
		}
		busy := b.busy.Add(1)
		batch = b.drain(batch)
		if len(batch) < b.maxBatch && b.maxWait > 0 && int(busy) >= b.replicas {
			timer.Reset(b.maxWait)
		wait:
			for len(batch) < b.maxBatch {
				select {
				case c := <-b.queue:
					batch = append(batch, c)
				case <-timer.C:
					break wait
				}
			}
			timer.Stop()
		}
		b.obs.queued(len(b.queue))
		b.compute(batch)
		b.busy.Add(-1)
	}
}

// drain adds what is queued now, without waiting.
func (b *batcher) drain(batch []*call) []*call {
	for len(batch) < b.maxBatch {
		select {
		case c := <-b.queue:
			batch = append(batch, c)
		default:
			return batch
		}
	}
	return batch
}

// compute runs one batch and answers its calls. Calls whose context ended
// while queued are answered without computing.
func (b *batcher) compute(batch []*call) {
	live := batch[:0:0]
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.err = err
			close(c.done)
			continue
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	x := live[0].x
	if len(live) > 1 {
		x = make([]float32, 0, len(live)*b.size)
		for _, c := range live {
			x = append(x, c.x...)
		}
	}
	start := time.Now()
	out, err := b.model.Predict(x, len(live))
	b.obs.batch(len(live), time.Since(start))
	if err == nil && len(out) != len(live) {
		err = fmt.Errorf("model returned %d results for %d examples", len(out), len(live))
	}
	for i, c := range live {
		if err != nil {
			c.err = err
		} else {
			c.out = out[i]
		}
		close(c.done)
	}
}

// doMany predicts several prepared examples, queued together so that they
// share batches. Errors: as do, and TooLarge (more examples than the
// queue holds).
func (b *batcher) doMany(ctx context.Context, xs [][]float32) ([][]float32, error) {
	if len(xs) == 1 {
		out, err := b.do(ctx, xs[0])
		if err != nil {
			return nil, err
		}
		return [][]float32{out}, nil
	}
	if len(xs) > cap(b.queue) {
		return nil, tooManyExamples(len(xs), cap(b.queue))
	}
	calls := make([]*call, len(xs))
	for i, x := range xs {
		if len(x) != b.size {
			return nil, errs.Invalidf("example %d has %d values; the model takes %d", i, len(x), b.size)
		}
		calls[i] = &call{ctx: ctx, x: x, done: make(chan struct{})}
	}
	if free := cap(b.queue) - len(b.queue); free < len(calls) {
		return nil, &errs.Error{Kind: errs.Unavailable, Message: fmt.Sprintf("server busy: %d examples do not fit the queue (%d free of %d); retry later or send fewer", len(calls), free, cap(b.queue))}
	}
	for i, c := range calls {
		select {
		case b.queue <- c:
		default:
			// Others filled the queue meanwhile: fail the rest; those
			// queued are computed and dropped.
			return nil, &errs.Error{Kind: errs.Unavailable, Message: fmt.Sprintf("server busy: queue filled after %d of %d examples; retry later", i, len(calls))}
		}
	}
	b.obs.queued(len(b.queue))
	out := make([][]float32, len(calls))
	for i, c := range calls {
		select {
		case <-c.done:
			if c.err != nil {
				return nil, c.err
			}
			out[i] = c.out
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return out, nil
}
