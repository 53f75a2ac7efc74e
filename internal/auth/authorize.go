package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/cairn-mlops/cairn/internal/errs"
)

const msgRequired = "authentication required: send a token as 'Authorization: Bearer <token>' (MLFLOW_TRACKING_TOKEN) " +
	"or user and password as basic auth (MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD)"

func errInvalidToken() error {
	return errs.E(errs.Unauthenticated, "invalid or revoked API token: check MLFLOW_TRACKING_TOKEN")
}

func errBadPassword() error {
	return errs.E(errs.Unauthenticated, "invalid user name or password: check MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD")
}

// Authorize returns who sent r when they may make a request that needs
// need. Public needs no credentials (and returns no principal); Read, Write
// and Admin need a user whose role allows them, and a task's scoped token
// may only write inside its scope (see Scope). Errors: Unauthenticated (no,
// malformed, wrong, expired or revoked credentials), PermissionDenied (role
// too low, or outside the token's scope), Invalid or TooLarge (a scoped
// write whose body cannot be read), Unavailable or Internal (the store
// failed).
func (s *Service) Authorize(r *http.Request, need Level) (Principal, error) {
	if need <= Public {
		return Principal{}, nil
	}
	p, err := s.Authenticate(r)
	if err != nil {
		return Principal{}, err
	}
	if !p.Role.Allows(need) {
		want := RoleFor(need)
		more := " or higher"
		if want == RoleAdmin {
			more = ""
		}
		return Principal{}, errs.E(errs.PermissionDenied, "user '%s' has role '%s', but this request needs role '%s'%s", p.User, p.Role, want, more)
	}
	if p.Scope != nil {
		if err := s.checkScope(r, need, p.Scope); err != nil {
			return Principal{}, err
		}
	}
	return p, nil
}

// Authenticate returns who sent r, from its Authorization header: a bearer
// API token or basic auth. Errors: Unauthenticated, Unavailable, Internal.
func (s *Service) Authenticate(r *http.Request) (Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Principal{}, errs.E(errs.Unauthenticated, msgRequired)
	}
	scheme, cred, _ := strings.Cut(h, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		return s.authenticateToken(r.Context(), strings.TrimSpace(cred))
	case strings.EqualFold(scheme, "Basic"):
		user, password, ok := r.BasicAuth()
		if !ok {
			return Principal{}, errs.E(errs.Unauthenticated, "malformed basic auth: expected base64 of 'user:password'")
		}
		return s.authenticatePassword(r.Context(), user, password)
	}
	// The header is not echoed: it may hold a secret sent the wrong way.
	return Principal{}, errs.E(errs.Unauthenticated, "unsupported Authorization header; "+msgRequired)
}

func (s *Service) authenticateToken(ctx context.Context, secret string) (Principal, error) {
	if len(secret) != TokenLen || !strings.HasPrefix(secret, TokenPrefix) {
		return Principal{}, errInvalidToken()
	}
	sum := sha256.Sum256([]byte(secret))
	t, err := s.store.FindTokenByHash(ctx, sum[:])
	if errs.Is(err, errs.NotFound) {
		return Principal{}, errInvalidToken()
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare(t.Hash, sum[:]) != 1 {
		return Principal{}, errInvalidToken()
	}
	now := s.now()
	if t.Expired(now) {
		return Principal{}, errs.E(errs.Unauthenticated, "API token '%s' of user '%s' expired at %s: create a new one",
			t.Name, t.User, t.ExpiryTime.Format(time.RFC3339))
	}
	u, err := s.store.FindUserByName(ctx, t.User)
	if errs.Is(err, errs.NotFound) {
		return Principal{}, errInvalidToken()
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if now.Sub(t.LastUsedTime) >= lastUsedEvery {
		if err := s.store.UpdateTokenLastUsed(ctx, t.ID, now); err != nil && !errs.Is(err, errs.NotFound) {
			s.opts.Logger.WarnContext(ctx, "record token use", "token_id", t.ID, "error", err)
		}
	}
	p := Principal{User: u.Name, Role: u.Role, TokenID: t.ID, Scope: t.Scope}
	if t.Scope != nil {
		// A task writes as its user, never as more than an editor.
		p.Role = u.Role.AtMost(RoleEdit)
	}
	return p, nil
}

func (s *Service) authenticatePassword(ctx context.Context, name, password string) (Principal, error) {
	if validateUserName(name) != nil {
		_ = bcrypt.CompareHashAndPassword(s.dummyHash(), []byte(password))
		return Principal{}, errBadPassword()
	}
	u, err := s.store.FindUserByName(ctx, name)
	if errs.Is(err, errs.NotFound) {
		_ = bcrypt.CompareHashAndPassword(s.dummyHash(), []byte(password))
		return Principal{}, errBadPassword()
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	// The cache only skips bcrypt: the user is read on every request, so a
	// password, role or deletion changed by another process (the CLI) applies
	// at once.
	key := s.logins.key(name, password)
	now := s.opts.Now()
	if !s.logins.ok(key, u.Name, u.PasswordHash, now) {
		if bcrypt.CompareHashAndPassword(u.PasswordHash, []byte(password)) != nil {
			return Principal{}, errBadPassword()
		}
		s.logins.put(key, u.Name, u.PasswordHash, now)
	}
	return Principal{User: u.Name, Role: u.Role}, nil
}

// loginCache remembers verified (user, password) pairs for a while, one per
// user. Keys are HMAC-SHA256 under a per-process random key, so the cache
// holds nothing an attacker could test password guesses against offline.
type loginCache struct {
	ttl    time.Duration // <= 0: the cache is off
	limit  int           // entries kept at most
	secret [32]byte

	mu     sync.Mutex
	m      map[[32]byte]login
	byUser map[string][32]byte
}

type login struct {
	user    string
	hash    []byte // the bcrypt hash the password was checked against
	expires time.Time
}

func newLoginCache(ttl time.Duration, limit int) *loginCache {
	c := &loginCache{ttl: ttl, limit: limit, m: map[[32]byte]login{}, byUser: map[string][32]byte{}}
	mustRead(c.secret[:])
	return c
}

func (c *loginCache) key(user, password string) [32]byte {
	mac := hmac.New(sha256.New, c.secret[:])
	mac.Write([]byte(user))
	mac.Write([]byte{0})
	mac.Write([]byte(password))
	var k [32]byte
	mac.Sum(k[:0])
	return k
}

// ok reports whether k was verified for user against hash and has not expired.
func (c *loginCache) ok(k [32]byte, user string, hash []byte, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, found := c.m[k]
	if !found {
		return false
	}
	if !now.Before(e.expires) || e.user != user || subtle.ConstantTimeCompare(e.hash, hash) != 1 {
		c.drop(e.user)
		return false
	}
	return true
}

// put remembers k for user, replacing the user's previous entry.
func (c *loginCache) put(k [32]byte, user string, hash []byte, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop(user)
	if len(c.m) >= c.limit {
		for _, e := range c.m {
			if !now.Before(e.expires) {
				c.drop(e.user)
			}
		}
		if len(c.m) >= c.limit {
			clear(c.m)
			clear(c.byUser)
		}
	}
	c.m[k] = login{user: user, hash: hash, expires: now.Add(c.ttl)}
	c.byUser[user] = k
}

// forget drops the entry of user.
func (c *loginCache) forget(user string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop(user)
}

// drop removes the entry of user; c.mu must be held.
func (c *loginCache) drop(user string) {
	if k, found := c.byUser[user]; found {
		delete(c.m, k)
		delete(c.byUser, user)
	}
}

func (c *loginCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
