package main

import (
	"context"
	"errors"
	"net"
	"syscall"
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

// A component that cannot start (its port is taken) makes the server
// process exit 1, saying why.
func TestServerPortInUseExitsNonZero(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	code, stderr := runCairn(t, "server", "--addr", l.Addr().String(), "--data", t.TempDir())
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "cairn: listen on "+l.Addr().String()+": ")
	require.Contains(t, stderr, "address already in use")
}

// SIGTERM stops every component and the process exits 0.
func TestServerSIGTERMExitsZero(t *testing.T) {
	p := startServerProcess(t, t.TempDir())
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, p.Log())
	case <-time.After(20 * time.Second):
		t.Fatal("server did not stop")
	}
	require.Contains(t, p.Log(), "cairn server stopped")
}
