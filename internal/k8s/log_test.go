package k8s

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCopyLog(t *testing.T) {
	long := strings.Repeat("x", 200<<10) // longer than the reader's buffer
	in := "2026-01-01T00:00:01.000000001Z one\n" +
		"2026-01-01T00:00:02Z two\n" +
		"2026-01-01T00:00:03Z " + long + "\n" +
		"not a timestamp line\n" +
		"2026-01-01T00:00:04Z no newline at the end"
	var out strings.Builder
	last, err := copyLog(strings.NewReader(in), &out, time.Time{})
	require.NoError(t, err)
	require.Equal(t, "one\ntwo\n"+long+"\nnot a timestamp line\nno newline at the end", out.String())
	require.Equal(t, time.Date(2026, 1, 1, 0, 0, 4, 0, time.UTC), last)

	// After a reconnect from the last line's second, what was written
	// already is skipped, long lines whole.
	out.Reset()
	last, err = copyLog(strings.NewReader(in), &out, time.Date(2026, 1, 1, 0, 0, 3, 0, time.UTC))
	require.NoError(t, err)
	require.Equal(t, "not a timestamp line\nno newline at the end", out.String())
	require.Equal(t, time.Date(2026, 1, 1, 0, 0, 4, 0, time.UTC), last)
}

func TestJobName(t *testing.T) {
	a := JobName("run-1/train[0]/1", map[string]string{LabelTask: "train[0]"})
	require.Regexp(t, `^cairn-train-0-[0-9a-f]{12}$`, a)
	require.Equal(t, a, JobName("run-1/train[0]/1", map[string]string{LabelTask: "train[0]"}), "the same after a restart")
	require.NotEqual(t, a, JobName("run-1/train[0]/2", map[string]string{LabelTask: "train[0]"}))
	b := JobName("x", map[string]string{LabelTask: strings.Repeat("Very_Long.Task-Name", 10)})
	require.LessOrEqual(t, len(b), 63)
	require.Regexp(t, `^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`, b)
	require.Equal(t, "a-b", labelValue("-a b."))
}

// FuzzCopyLog feeds copyLog any stream a kubelet (or something posing as
// one) might send: it must not panic, must write no more than it read, and
// must not move the reconnect time backwards.
func FuzzCopyLog(f *testing.F) {
	f.Add("2026-01-01T00:00:01.000000001Z one\n2026-01-01T00:00:02Z two\n", int64(0))
	f.Add("no timestamp\n\n\n2026-13-01T00:00:00Z bad month\n", int64(1767225600))
	f.Add(strings.Repeat("x", 70000)+"\n2026-01-01T00:00:03Z y", int64(-1))
	f.Fuzz(func(t *testing.T, in string, sinceUnix int64) {
		since := time.Time{}
		if sinceUnix > 0 {
			since = time.Unix(sinceUnix%4102444800, 0).UTC()
		}
		var out strings.Builder
		last, err := copyLog(strings.NewReader(in), &out, since)
		if err != nil {
			t.Fatal(err)
		}
		if out.Len() > len(in) {
			t.Fatalf("wrote %d bytes from %d", out.Len(), len(in))
		}
		if last.Before(since) {
			t.Fatalf("last %s before since %s", last, since)
		}
	})
}
