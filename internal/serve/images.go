package serve

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// encodedImage is one image of a request, base64-decoded, with where it
// came from for messages (e.g. `field "image"`, `input "image" element 3`).
type encodedImage struct {
	where string
	b     []byte
}

// prepareImages decodes and preprocesses a request's images. Every
// header is checked against max_image_bytes first, so an image too large
// is refused before any is decoded; then each is decoded on one of the
// server's decoder slots within ctx. Errors: Invalid, TooLarge, ctx's.
func (d *Deployment) prepareImages(ctx context.Context, s *served, imgs []encodedImage) ([][]float32, error) {
	limit := d.Config().MaxImageBytes
	for _, im := range imgs {
		if err := s.model.CheckImage(im.b, limit); err != nil {
			return nil, imageError(im.where, err)
		}
	}
	xs := make([][]float32, len(imgs))
	for i, im := range imgs {
		x, err := d.decodeImage(ctx, s, im.b, limit)
		if err != nil {
			return nil, imageError(im.where, err)
		}
		xs[i] = x
	}
	return xs, nil
}

// decodeImage prepares one image on a decoder slot. It waits for a slot
// and then for the model, and gives up with ctx's error as soon as ctx
// ends, at either stage. The decode it leaves behind keeps its slot until
// the model stops (PrepareImage sees ctx end at its next read), so that
// abandoned decodes still count against the server's limit.
func (d *Deployment) decodeImage(ctx context.Context, s *served, b []byte, limit int64) ([]float32, error) {
	select {
	case d.decoders <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	type result struct {
		x   []float32
		err error
	}
	done := make(chan result, 1)
	s.inflight.Add(1) // the request holds s, so the count is above zero
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r = result{err: fmt.Errorf("prepare image: panic: %v", p)}
			}
			<-d.decoders
			s.inflight.Done()
			done <- r
		}()
		r.x, r.err = s.model.PrepareImage(ctx, b, limit)
	}()
	select {
	case r := <-done:
		return r.x, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// imageError puts where an image came from before the model's message,
// keeping the error's kind; context errors pass as they are, for the
// endpoint to answer with the deployment's timeout.
func imageError(where string, err error) error {
	var e *errs.Error
	if !errors.As(err, &e) {
		return err
	}
	msg := where + ": " + errs.MessageOf(err)
	if e.Kind == errs.TooLarge {
		msg += ", the deployment's max_image_bytes"
	}
	return &errs.Error{Kind: e.Kind, Message: msg}
}

// checkBatch refuses a request of more examples than the deployment's
// queue can ever hold, before any is prepared. Errors: TooLarge.
func checkBatch(s *served, n int) error {
	if q := s.b.queueSize(); n > q {
		return tooManyExamples(n, q)
	}
	return nil
}

func tooManyExamples(n, queue int) error {
	return errs.E(errs.TooLarge, "%d examples in one request: more than the %d the deployment's queue holds (queue_size); send at most %d per request", n, queue, queue)
}
