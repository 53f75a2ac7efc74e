package exec_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/exec"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestShardsRunAtOnceWithTheirIndex(t *testing.T) {
	var log syncBuffer
	l := exec.NewLocal(exec.LocalOptions{KillGrace: 100 * time.Millisecond})
	r := l.Execute(context.Background(), &exec.Job{Args: []string{"sh", "-c", `echo "i am $JOB_COMPLETION_INDEX"; printf 'no newline'`},
		Shards: 3, Log: &log})
	require.NoError(t, r.Err)
	for _, want := range []string{"[shard 0] i am 0\n", "[shard 1] i am 1\n", "[shard 2] i am 2\n", "[shard 2] no newline"} {
		require.Contains(t, log.String(), want)
	}
}

// The first shard to fail stops the others and is the attempt's result.
func TestAFailingShardStopsTheOthers(t *testing.T) {
	var log syncBuffer
	l := exec.NewLocal(exec.LocalOptions{KillGrace: 100 * time.Millisecond})
	start := time.Now()
	r := l.Execute(context.Background(), &exec.Job{Args: []string{"sh", "-c", `[ "$JOB_COMPLETION_INDEX" = 1 ] && exit 3; exec sleep 30`},
		Shards: 2, Log: &log})
	require.Less(t, time.Since(start), 20*time.Second, "shard 0 was stopped")
	require.EqualError(t, r.Err, "shard 1 of 2: exit status 3")
	require.Equal(t, 3, r.ExitCode)
	require.False(t, r.Canceled)
}

func TestShardLogPrefixesEveryLine(t *testing.T) {
	var b bytes.Buffer
	var mu sync.Mutex
	w := exec.ShardLog(&b, &mu, 4)
	for _, s := range []string{"a\nb", "c\n", "\nd\n"} {
		n, err := w.Write([]byte(s))
		require.NoError(t, err)
		require.Equal(t, len(s), n)
	}
	require.Equal(t, "[shard 4] a\n[shard 4] bc\n[shard 4] \n[shard 4] d\n", b.String())
	require.Equal(t, 4, strings.Count(b.String(), "[shard 4]"))
}
