package meta

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/auth"
	"github.com/cairn-mlops/cairn/internal/errs"
)

func TestAuthUsers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		created := time.UnixMilli(1_700_000_000_123).UTC()

		n, err := db.CountUsers(ctx, "")
		require.NoError(t, err)
		require.Zero(t, n)

		require.NoError(t, db.CreateUser(ctx, &auth.User{Name: "bob", Role: auth.RoleRead, PasswordHash: []byte("$2a$hash-b"), CreationTime: created}))
		require.NoError(t, db.CreateUser(ctx, &auth.User{Name: "alice", Role: auth.RoleAdmin, PasswordHash: []byte("$2a$hash-a"), CreationTime: created}))
		err = db.CreateUser(ctx, &auth.User{Name: "bob", Role: auth.RoleEdit, PasswordHash: []byte("x"), CreationTime: created})
		require.Equal(t, errs.Conflict, errs.KindOf(err), "%v", err)

		u, err := db.FindUserByName(ctx, "bob")
		require.NoError(t, err)
		require.Equal(t, &auth.User{Name: "bob", Role: auth.RoleRead, PasswordHash: []byte("$2a$hash-b"), CreationTime: created}, u)
		_, err = db.FindUserByName(ctx, "Bob")
		require.Equal(t, errs.NotFound, errs.KindOf(err), "names are case-sensitive")

		users, err := db.FindUsers(ctx)
		require.NoError(t, err)
		require.Len(t, users, 2)
		require.Equal(t, "alice", users[0].Name)
		require.Equal(t, "bob", users[1].Name)

		n, err = db.CountUsers(ctx, "")
		require.NoError(t, err)
		require.Equal(t, 2, n)
		n, err = db.CountUsers(ctx, auth.RoleAdmin)
		require.NoError(t, err)
		require.Equal(t, 1, n)

		require.NoError(t, db.UpdateUser(ctx, "bob", auth.UserUpdate{Role: auth.RoleEdit}))
		require.NoError(t, db.UpdateUser(ctx, "bob", auth.UserUpdate{PasswordHash: []byte("$2a$hash-b2")}))
		u, err = db.FindUserByName(ctx, "bob")
		require.NoError(t, err)
		require.Equal(t, auth.RoleEdit, u.Role)
		require.Equal(t, []byte("$2a$hash-b2"), u.PasswordHash)
		require.Equal(t, errs.NotFound, errs.KindOf(db.UpdateUser(ctx, "carol", auth.UserUpdate{Role: auth.RoleRead})))
		require.Equal(t, errs.NotFound, errs.KindOf(db.UpdateUser(ctx, "carol", auth.UserUpdate{})))

		require.NoError(t, db.DeleteUser(ctx, "bob"))
		_, err = db.FindUserByName(ctx, "bob")
		require.Equal(t, errs.NotFound, errs.KindOf(err))
		require.Equal(t, errs.NotFound, errs.KindOf(db.DeleteUser(ctx, "bob")))
	})
}

func TestAuthTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.UnixMilli(1_700_000_000_000).UTC()
		for _, name := range []string{"alice", "bob"} {
			require.NoError(t, db.CreateUser(ctx, &auth.User{Name: name, Role: auth.RoleEdit, PasswordHash: []byte("h"), CreationTime: now}))
		}
		hash := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
		tok := func(id, user, name string, created time.Time) *auth.Token {
			return &auth.Token{ID: id, User: user, Name: name, Prefix: "cairn_" + id[:4], Hash: hash(id), CreationTime: created}
		}

		t1 := tok("aaaa0001", "alice", "laptop", now)
		t1.ExpiryTime = now.Add(time.Hour)
		require.NoError(t, db.CreateToken(ctx, t1))
		require.NoError(t, db.CreateToken(ctx, tok("aaaa0002", "alice", "ci", now.Add(time.Second))))
		require.NoError(t, db.CreateToken(ctx, tok("bbbb0001", "bob", "laptop", now)))
		err := db.CreateToken(ctx, tok("aaaa0003", "alice", "laptop", now))
		require.Equal(t, errs.Conflict, errs.KindOf(err), "%v", err)
		err = db.CreateToken(ctx, tok("cccc0001", "carol", "x", now))
		require.Equal(t, errs.NotFound, errs.KindOf(err), "%v", err)

		got, err := db.FindTokenByHash(ctx, hash("aaaa0001"))
		require.NoError(t, err)
		require.Equal(t, t1, got)
		require.True(t, got.LastUsedTime.IsZero())
		_, err = db.FindTokenByHash(ctx, hash("nope"))
		require.Equal(t, errs.NotFound, errs.KindOf(err))

		used := now.Add(2 * time.Minute)
		require.NoError(t, db.UpdateTokenLastUsed(ctx, "aaaa0001", used))
		got, err = db.FindTokenByHash(ctx, hash("aaaa0001"))
		require.NoError(t, err)
		require.Equal(t, used, got.LastUsedTime)
		require.Equal(t, errs.NotFound, errs.KindOf(db.UpdateTokenLastUsed(ctx, "nope", used)))

		all, err := db.FindTokens(ctx, "")
		require.NoError(t, err)
		require.Equal(t, []string{"aaaa0001", "aaaa0002", "bbbb0001"}, tokenIDs(all))
		mine, err := db.FindTokens(ctx, "bob")
		require.NoError(t, err)
		require.Equal(t, []string{"bbbb0001"}, tokenIDs(mine))

		require.NoError(t, db.DeleteToken(ctx, "aaaa0002"))
		require.Equal(t, errs.NotFound, errs.KindOf(db.DeleteToken(ctx, "aaaa0002")))
		_, err = db.FindTokenByHash(ctx, hash("aaaa0002"))
		require.Equal(t, errs.NotFound, errs.KindOf(err))

		// Deleting a user deletes their tokens, and only theirs.
		require.NoError(t, db.DeleteUser(ctx, "alice"))
		_, err = db.FindTokenByHash(ctx, hash("aaaa0001"))
		require.Equal(t, errs.NotFound, errs.KindOf(err))
		all, err = db.FindTokens(ctx, "")
		require.NoError(t, err)
		require.Equal(t, []string{"bbbb0001"}, tokenIDs(all))
	})
}

func tokenIDs(toks []auth.Token) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = t.ID
	}
	return out
}
