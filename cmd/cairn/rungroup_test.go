package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// waiter runs until its context ends and records that it stopped.
func waiter(stopped chan<- string, name string) component {
	return component{name, func(ctx context.Context) error {
		<-ctx.Done()
		stopped <- name
		return ctx.Err()
	}}
}

func TestRunComponentsStopsAllWhenAsked(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan string, 2)
	done := make(chan error, 1)
	go func() { done <- runComponents(ctx, waiter(stopped, "a"), waiter(stopped, "b")) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	require.NoError(t, <-done, "a requested stop is not an error")
	require.ElementsMatch(t, []string{"a", "b"}, []string{<-stopped, <-stopped})
}

func TestRunComponentsOneFailureStopsTheOthers(t *testing.T) {
	stopped := make(chan string, 2)
	boom := component{"HTTP server", func(context.Context) error { return errors.New("listener closed") }}
	err := runComponents(context.Background(), waiter(stopped, "pipelines"), boom, waiter(stopped, "sweeper"))
	require.EqualError(t, err, "HTTP server: listener closed")
	require.ElementsMatch(t, []string{"pipelines", "sweeper"}, []string{<-stopped, <-stopped})
}

func TestRunComponentsOneEndingEarlyStopsTheOthers(t *testing.T) {
	stopped := make(chan string, 1)
	quits := component{"pipeline service", func(context.Context) error { return nil }}
	err := runComponents(context.Background(), waiter(stopped, "HTTP server"), quits)
	require.EqualError(t, err, "pipeline service stopped unexpectedly")
	require.Equal(t, "HTTP server", <-stopped)
}

// A component that fails after running a while stops the ones that run on.
func TestRunComponentsLaterFailureStopsTheOthers(t *testing.T) {
	stopped := make(chan string, 1)
	failing := component{"upload sweeper", func(ctx context.Context) error {
		select {
		case <-time.After(10 * time.Millisecond):
			return errors.New("store unavailable")
		case <-ctx.Done():
			return nil
		}
	}}
	err := runComponents(context.Background(), waiter(stopped, "HTTP server"), failing)
	require.EqualError(t, err, "upload sweeper: store unavailable")
	require.Equal(t, "HTTP server", <-stopped)
}
