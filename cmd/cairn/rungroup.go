package main

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"
)

// component is one long-running part of a server: it runs until ctx ends,
// then stops and returns.
type component struct {
	name string
	run  func(ctx context.Context) error
}

// runComponents runs a server's components together, the one place where
// they start and stop: when ctx ends every component stops and
// runComponents returns nil once all have; when one fails, or ends while
// ctx has not, the others are stopped and its error, naming it, is
// returned.
func runComponents(ctx context.Context, cs ...component) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range cs {
		g.Go(func() error {
			err := c.run(gctx)
			switch {
			case gctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)):
				return nil // asked to stop, and did
			case err == nil:
				return fmt.Errorf("%s stopped unexpectedly", c.name)
			default:
				return fmt.Errorf("%s: %w", c.name, err)
			}
		})
	}
	return g.Wait()
}
