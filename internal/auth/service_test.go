package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/cairn-mlops/cairn/internal/auth"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/store/meta"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	svc   *auth.Service
	db    *meta.DB
	dir   string
	clock *clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	db, err := meta.Open(context.Background(), filepath.Join(dir, "cairn.db"), meta.DefaultOptions())
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	c := &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	svc := auth.NewService(db, auth.Options{Now: c.Now, BcryptCost: bcrypt.MinCost})
	f := &fixture{svc: svc, db: db, dir: dir, clock: c}
	for _, u := range []struct {
		name string
		role auth.Role
	}{{"root", auth.RoleAdmin}, {"eddie", auth.RoleEdit}, {"rita", auth.RoleRead}} {
		_, err := svc.CreateUser(context.Background(), u.name, u.name+"-password", u.role)
		require.NoError(t, err)
	}
	return f
}

func (f *fixture) token(t *testing.T, user, name string, ttl time.Duration) string {
	t.Helper()
	secret, _, err := f.svc.CreateToken(context.Background(), user, name, ttl)
	require.NoError(t, err)
	return secret
}

func request(header string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/2.0/mlflow/experiments/search", nil)
	if header != "" {
		r.Header.Set("Authorization", header)
	}
	return r
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func bearer(secret string) string { return "Bearer " + secret }

// requireKind checks that err is nil when want is nil, or has the kind *want.
func requireKind(t *testing.T, want *errs.Kind, err error) {
	t.Helper()
	if want == nil {
		require.NoError(t, err)
		return
	}
	require.Error(t, err)
	require.Equal(t, *want, errs.KindOf(err), "%v", err)
}

func kind(k errs.Kind) *errs.Kind { return &k }

func TestAuthorize(t *testing.T) {
	f := newFixture(t)
	rootTok := f.token(t, "root", "cli", 0)
	eddieTok := f.token(t, "eddie", "ci", 0)
	ritaTok := f.token(t, "rita", "nb", 0)
	unauth, denied := kind(errs.Unauthenticated), kind(errs.PermissionDenied)

	for _, tc := range []struct {
		name   string
		header string
		need   auth.Level
		want   *errs.Kind
		msg    string // in the error's message, when set
	}{
		{"public needs nothing", "", auth.Public, nil, ""},
		{"public ignores bad credentials", "Bearer nope", auth.Public, nil, ""},
		{"no credentials", "", auth.Read, unauth, "MLFLOW_TRACKING_TOKEN"},
		{"bearer ok", bearer(eddieTok), auth.Write, nil, ""},
		{"bearer scheme in lower case", "bearer " + ritaTok, auth.Read, nil, ""},
		{"bearer admin", bearer(rootTok), auth.Admin, nil, ""},
		{"bearer wrong", bearer("cairn_" + strings.Repeat("A", 40)), auth.Read, unauth, "invalid or revoked API token"},
		{"bearer malformed", bearer("hunter2"), auth.Read, unauth, "invalid or revoked API token"},
		{"bearer empty", "Bearer ", auth.Read, unauth, ""},
		{"basic ok", basic("rita", "rita-password"), auth.Read, nil, ""},
		{"basic admin", basic("root", "root-password"), auth.Admin, nil, ""},
		{"basic wrong password", basic("rita", "eddie-password"), auth.Read, unauth, "invalid user name or password"},
		{"basic unknown user", basic("nobody", "rita-password"), auth.Read, unauth, "invalid user name or password"},
		{"basic invalid user name", basic("a b", "rita-password"), auth.Read, unauth, "invalid user name or password"},
		{"basic malformed", "Basic !!!", auth.Read, unauth, "malformed basic auth"},
		{"unsupported scheme", "Digest x=y", auth.Read, unauth, "unsupported Authorization header"},
		{"read role may not write", basic("rita", "rita-password"), auth.Write, denied, "needs role 'edit'"},
		{"read token may not write", bearer(ritaTok), auth.Write, denied, "user 'rita' has role 'read'"},
		{"edit role may not administer", basic("eddie", "eddie-password"), auth.Admin, denied, "needs role 'admin'"},
		{"edit token may not administer", bearer(eddieTok), auth.Admin, denied, "needs role 'admin'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := authz(f.svc, request(tc.header), tc.need)
			requireKind(t, tc.want, err)
			if tc.msg != "" {
				require.Contains(t, errs.MessageOf(err), tc.msg)
			}
		})
	}
}

func TestAuthenticatePrincipal(t *testing.T) {
	f := newFixture(t)
	secret, tok, err := f.svc.CreateToken(context.Background(), "eddie", "ci", 0)
	require.NoError(t, err)
	p, err := f.svc.Authenticate(request(bearer(secret)))
	require.NoError(t, err)
	require.Equal(t, auth.Principal{User: "eddie", Role: auth.RoleEdit, TokenID: tok.ID}, p)
	p, err = f.svc.Authenticate(request(basic("rita", "rita-password")))
	require.NoError(t, err)
	require.Equal(t, auth.Principal{User: "rita", Role: auth.RoleRead}, p)
}

func TestTokenExpiryAndRevocation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	short := f.token(t, "eddie", "short", time.Hour)
	long := f.token(t, "eddie", "long", 0)
	require.NoError(t, authz(f.svc, request(bearer(short)), auth.Write))

	f.clock.Advance(time.Hour)
	err := authz(f.svc, request(bearer(short)), auth.Read)
	requireKind(t, kind(errs.Unauthenticated), err)
	require.Contains(t, errs.MessageOf(err), "expired")
	require.NoError(t, authz(f.svc, request(bearer(long)), auth.Write))

	toks, err := f.svc.FindTokens(ctx, "eddie")
	require.NoError(t, err)
	require.Len(t, toks, 2)
	for _, tok := range toks {
		require.NoError(t, f.svc.RevokeToken(ctx, tok.ID))
	}
	requireKind(t, kind(errs.Unauthenticated), authz(f.svc, request(bearer(long)), auth.Read))
	requireKind(t, kind(errs.NotFound), f.svc.RevokeToken(ctx, toks[0].ID))
}

func TestTokenLastUsed(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	secret := f.token(t, "rita", "nb", 0)
	lastUsed := func() time.Time {
		toks, err := f.svc.FindTokens(ctx, "rita")
		require.NoError(t, err)
		require.Len(t, toks, 1)
		return toks[0].LastUsedTime
	}
	require.True(t, lastUsed().IsZero())

	first := f.clock.Now()
	require.NoError(t, authz(f.svc, request(bearer(secret)), auth.Read))
	require.Equal(t, first, lastUsed())
	f.clock.Advance(30 * time.Second)
	require.NoError(t, authz(f.svc, request(bearer(secret)), auth.Read))
	require.Equal(t, first, lastUsed(), "updated at most once a minute")
	f.clock.Advance(31 * time.Second)
	require.NoError(t, authz(f.svc, request(bearer(secret)), auth.Read))
	require.Equal(t, f.clock.Now(), lastUsed())
}

func TestPasswordCache(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	ok := func(user, password string) error { return authz(f.svc, request(basic(user, password)), auth.Read) }

	require.NoError(t, ok("rita", "rita-password"))
	require.NoError(t, ok("rita", "rita-password"))
	require.Equal(t, 1, f.svc.CachedLogins())
	requireKind(t, kind(errs.Unauthenticated), ok("rita", "wrong-password"))
	require.Equal(t, 1, f.svc.CachedLogins(), "failures are not cached")

	// A change through the Service drops the user's cached logins.
	require.NoError(t, f.svc.SetPassword(ctx, "rita", "new-rita-password"))
	require.Zero(t, f.svc.CachedLogins())
	requireKind(t, kind(errs.Unauthenticated), ok("rita", "rita-password"))
	require.NoError(t, ok("rita", "new-rita-password"))

	// A change made elsewhere (the CLI in another process) applies at once too:
	// a cached login only counts against the hash it was checked with.
	require.Equal(t, 1, f.svc.CachedLogins())
	hash, err := bcrypt.GenerateFromPassword([]byte("third-password"), bcrypt.MinCost)
	require.NoError(t, err)
	require.NoError(t, f.db.UpdateUser(ctx, "rita", auth.UserUpdate{PasswordHash: hash}))
	requireKind(t, kind(errs.Unauthenticated), ok("rita", "new-rita-password"))
	require.NoError(t, ok("rita", "third-password"))
	require.NoError(t, f.db.UpdateUser(ctx, "rita", auth.UserUpdate{Role: auth.RoleEdit}))
	require.NoError(t, authz(f.svc, request(basic("rita", "third-password")), auth.Write))

	// Entries expire after the TTL; a role change and a deletion drop them.
	f.clock.Advance(time.Minute)
	require.NoError(t, ok("eddie", "eddie-password"))
	require.NoError(t, ok("rita", "third-password"))
	require.Equal(t, 2, f.svc.CachedLogins())
	require.NoError(t, f.svc.SetRole(ctx, "rita", auth.RoleRead))
	require.Equal(t, 1, f.svc.CachedLogins())
	requireKind(t, kind(errs.PermissionDenied), authz(f.svc, request(basic("rita", "third-password")), auth.Write))
	require.NoError(t, f.svc.DeleteUser(ctx, "eddie"))
	require.Equal(t, 1, f.svc.CachedLogins())
	requireKind(t, kind(errs.Unauthenticated), ok("eddie", "eddie-password"))

	off := auth.NewService(f.db, auth.Options{CacheTTL: -1, BcryptCost: bcrypt.MinCost})
	require.NoError(t, authz(off, request(basic("root", "root-password")), auth.Admin))
	require.Zero(t, off.CachedLogins())
}

func TestManageUsers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)

	for _, tc := range []struct {
		name, user, password string
		role                 auth.Role
		want                 errs.Kind
	}{
		{"empty name", "", "password1", auth.RoleRead, errs.Invalid},
		{"colon in name", "a:b", "password1", auth.RoleRead, errs.Invalid},
		{"long name", strings.Repeat("a", 65), "password1", auth.RoleRead, errs.Invalid},
		{"short password", "sam", "1234567", auth.RoleRead, errs.Invalid},
		{"long password", "sam", strings.Repeat("p", 73), auth.RoleRead, errs.Invalid},
		{"bad role", "sam", "password1", "owner", errs.Invalid},
		{"taken", "rita", "password1", auth.RoleRead, errs.Conflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.CreateUser(ctx, tc.user, tc.password, tc.role)
			requireKind(t, &tc.want, err)
		})
	}
	u, err := f.svc.CreateUser(ctx, "sam.o-k_1@example.com", "päßwörd!", auth.RoleEdit)
	require.NoError(t, err)
	require.Equal(t, f.clock.Now(), u.CreationTime)
	require.Nil(t, u.PasswordHash)

	users, err := f.svc.FindUsers(ctx)
	require.NoError(t, err)
	require.Len(t, users, 4)
	for _, u := range users {
		require.Nil(t, u.PasswordHash)
		b, err := json.Marshal(u)
		require.NoError(t, err)
		require.NotContains(t, string(b), "hash")
	}

	requireKind(t, kind(errs.NotFound), f.svc.SetPassword(ctx, "nobody", "password1"))
	requireKind(t, kind(errs.Invalid), f.svc.SetPassword(ctx, "rita", "short"))
	requireKind(t, kind(errs.NotFound), f.svc.SetRole(ctx, "nobody", auth.RoleRead))
	requireKind(t, kind(errs.Invalid), f.svc.SetRole(ctx, "rita", "root"))
	requireKind(t, kind(errs.NotFound), f.svc.DeleteUser(ctx, "nobody"))

	// The only admin can be neither demoted nor deleted.
	requireKind(t, kind(errs.Conflict), f.svc.SetRole(ctx, "root", auth.RoleEdit))
	requireKind(t, kind(errs.Conflict), f.svc.DeleteUser(ctx, "root"))
	require.NoError(t, f.svc.SetRole(ctx, "rita", auth.RoleAdmin))
	require.NoError(t, f.svc.SetRole(ctx, "root", auth.RoleRead))
	has, err := f.svc.HasAdmin(ctx)
	require.NoError(t, err)
	require.True(t, has)

	// Deleting a user deletes their tokens.
	secret := f.token(t, "eddie", "ci", 0)
	require.NoError(t, f.svc.DeleteUser(ctx, "eddie"))
	requireKind(t, kind(errs.Unauthenticated), authz(f.svc, request(bearer(secret)), auth.Read))
	toks, err := f.svc.FindTokens(ctx, "")
	require.NoError(t, err)
	require.Empty(t, toks)
	_, err = f.svc.FindTokens(ctx, "eddie")
	requireKind(t, kind(errs.NotFound), err)
}

func TestHasUsers(t *testing.T) {
	ctx := context.Background()
	db, err := meta.Open(ctx, filepath.Join(t.TempDir(), "cairn.db"), meta.DefaultOptions())
	require.NoError(t, err)
	defer db.Close()
	svc := auth.NewService(db, auth.Options{BcryptCost: bcrypt.MinCost})
	check := func(wantUsers, wantAdmin bool) {
		t.Helper()
		has, err := svc.HasUsers(ctx)
		require.NoError(t, err)
		require.Equal(t, wantUsers, has)
		has, err = svc.HasAdmin(ctx)
		require.NoError(t, err)
		require.Equal(t, wantAdmin, has)
	}
	check(false, false)
	_, err = svc.CreateUser(ctx, "rita", "password1", auth.RoleRead)
	require.NoError(t, err)
	check(true, false)
	_, err = svc.CreateUser(ctx, "root", "password1", auth.RoleAdmin)
	require.NoError(t, err)
	check(true, true)
}

func TestCreateToken(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	secret, tok, err := f.svc.CreateToken(ctx, "rita", "laptop", 24*time.Hour)
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`^cairn_[0-9A-Za-z]{40}$`), secret)
	require.Equal(t, secret[:10], tok.Prefix)
	require.Equal(t, "rita", tok.User)
	require.Equal(t, "laptop", tok.Name)
	require.Equal(t, f.clock.Now(), tok.CreationTime)
	require.Equal(t, f.clock.Now().Add(24*time.Hour), tok.ExpiryTime)
	require.Nil(t, tok.Hash)

	other, _, err := f.svc.CreateToken(ctx, "rita", "desktop", 0)
	require.NoError(t, err)
	require.NotEqual(t, secret, other)

	toks, err := f.svc.FindTokens(ctx, "rita")
	require.NoError(t, err)
	require.Len(t, toks, 2)
	for _, tok := range toks {
		require.Nil(t, tok.Hash)
	}

	_, _, err = f.svc.CreateToken(ctx, "rita", "laptop", 0)
	requireKind(t, kind(errs.Conflict), err)
	_, _, err = f.svc.CreateToken(ctx, "nobody", "laptop", 0)
	requireKind(t, kind(errs.NotFound), err)
	_, _, err = f.svc.CreateToken(ctx, "rita", "", 0)
	requireKind(t, kind(errs.Invalid), err)
	_, _, err = f.svc.CreateToken(ctx, "rita", "bad\nname", 0)
	requireKind(t, kind(errs.Invalid), err)
	_, _, err = f.svc.CreateToken(ctx, "rita", "past", -time.Second)
	requireKind(t, kind(errs.Invalid), err)
}

// TestSecretsNotStored scans every byte of the database for the secrets.
func TestSecretsNotStored(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	const password = "Tr0ub4dor&3-unique"
	_, err := f.svc.CreateUser(ctx, "dora", password, auth.RoleEdit)
	require.NoError(t, err)
	secret := f.token(t, "dora", "laptop", 0)
	require.NoError(t, f.svc.SetPassword(ctx, "rita", password+"!"))
	require.NoError(t, authz(f.svc, request(basic("dora", password)), auth.Write))
	require.NoError(t, authz(f.svc, request(bearer(secret)), auth.Write))
	require.NoError(t, f.db.Close())

	entries, err := os.ReadDir(f.dir)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(f.dir, e.Name()))
		require.NoError(t, err)
		s := string(b)
		require.Contains(t, s, "dora", "%s: the scan must see the data", e.Name())
		require.NotContains(t, s, password, e.Name())
		require.NotContains(t, s, secret[len(auth.TokenPrefix):], e.Name())
	}
}

// authz is Authorize without the principal.
func authz(s *auth.Service, r *http.Request, need auth.Level) error {
	_, err := s.Authorize(r, need)
	return err
}
