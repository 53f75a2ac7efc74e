package auth

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLoginCacheLimit(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newLoginCache(time.Minute, 2)
	hash := []byte("h")
	put := func(user string, at time.Time) [32]byte {
		k := c.key(user, "pw")
		c.put(k, user, hash, at)
		return k
	}
	a := put("a", now)
	b := put("b", now.Add(30*time.Second))
	require.Equal(t, 2, c.len())

	// Full: the expired entry of a goes first.
	d := put("d", now.Add(time.Minute))
	require.Equal(t, 2, c.len())
	require.False(t, c.ok(a, "a", hash, now.Add(time.Minute)))
	require.True(t, c.ok(b, "b", hash, now.Add(time.Minute)))
	require.True(t, c.ok(d, "d", hash, now.Add(time.Minute)))

	// Full with nothing expired: everything goes.
	e := put("e", now.Add(time.Minute))
	require.Equal(t, 1, c.len())
	require.True(t, c.ok(e, "e", hash, now.Add(time.Minute)))

	// One entry per user; a hash that changed misses and drops it.
	e2 := c.key("e", "pw2")
	c.put(e2, "e", hash, now.Add(time.Minute))
	require.Equal(t, 1, c.len())
	require.False(t, c.ok(e, "e", hash, now.Add(time.Minute)))
	require.False(t, c.ok(e2, "e", []byte("other"), now.Add(time.Minute)))
	require.Zero(t, c.len())
	require.NotEqual(t, c.key("a", "b:c"), c.key("a:b", "c"))
}
