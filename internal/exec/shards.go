package exec

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// ShardIndexEnv is the variable that tells each copy of a job split into
// Job.Shards which one it is, as in a Kubernetes Indexed Job.
const ShardIndexEnv = "JOB_COMPLETION_INDEX"

// executeShards runs job.Shards copies of job at once, each with its
// index in ShardIndexEnv and its log lines prefixed "[shard I] ". The
// first copy to fail stops the others and is the result.
func (l *Local) executeShards(ctx context.Context, job *Job) Result {
	start := time.Now()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var mu sync.Mutex
	results := make([]Result, job.Shards)
	failed := -1
	var wg sync.WaitGroup
	for i := range job.Shards {
		one := *job
		one.Shards = 0
		one.Env = append(append([]string{}, job.Env...), ShardIndexEnv+"="+strconv.Itoa(i))
		one.Log = ShardLog(job.Log, &mu, i)
		if i > 0 {
			one.Started = nil // the engine keeps one process group per attempt: shard 0's
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := l.Execute(runCtx, &one)
			mu.Lock()
			defer mu.Unlock()
			results[i] = r
			if r.Err != nil && failed < 0 && ctx.Err() == nil {
				failed = i
				stop()
			}
		}()
	}
	wg.Wait()
	res := Result{Duration: time.Since(start)}
	switch {
	case failed >= 0:
		res = results[failed]
		res.Err = fmt.Errorf("shard %d of %d: %w", failed, job.Shards, res.Err)
	case ctx.Err() != nil:
		res = results[0]
	}
	res.Duration = time.Since(start)
	return res
}

// ShardLog returns a writer that prefixes every line written to w with
// "[shard I] ", holding mu while it writes (the shards of one job share w).
func ShardLog(w io.Writer, mu *sync.Mutex, shard int) io.Writer {
	return &shardLog{w: w, mu: mu, prefix: []byte("[shard " + strconv.Itoa(shard) + "] "), bol: true}
}

type shardLog struct {
	w      io.Writer
	mu     *sync.Mutex
	prefix []byte
	bol    bool // at the beginning of a line
}

func (s *shardLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b bytes.Buffer
	for rest := p; len(rest) > 0; {
		if s.bol {
			b.Write(s.prefix)
		}
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			b.Write(rest)
			s.bol = false
			break
		}
		b.Write(rest[:i+1])
		rest, s.bol = rest[i+1:], true
	}
	if _, err := s.w.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}
