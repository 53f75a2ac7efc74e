package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// Limits on names, passwords and tokens.
const (
	MaxNameLen     = 64 // user and token names
	MinPasswordLen = 8  // characters
	MaxPasswordLen = 72 // bytes: bcrypt ignores the rest, so longer is refused
	// TokenPrefix starts every API token, so that a leaked one is easy to spot.
	TokenPrefix = "cairn_"
	// TokenLen is the length of a token: the prefix and 40 base62 characters.
	TokenLen = len(TokenPrefix) + 40

	displayPrefixLen = len(TokenPrefix) + 4
	lastUsedEvery    = time.Minute
	maxCachedLogins  = 10000
)

// Options configure a Service.
type Options struct {
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
	// CacheTTL is how long a verified password is remembered, so that the
	// basic-auth requests that follow skip bcrypt. Zero means one minute; a
	// negative TTL turns the cache off.
	CacheTTL time.Duration
	// BcryptCost is the cost of new password hashes; bcrypt.DefaultCost when 0.
	BcryptCost int
	// Logger receives failures that do not fail a request. slog.Default when nil.
	Logger *slog.Logger
	// Resources finds the experiment a scoped token's write targets; without
	// it, scoped tokens may not write runs or logged models.
	Resources Resources
}

// DefaultOptions returns the options for a server.
func DefaultOptions() Options {
	return Options{Now: time.Now, CacheTTL: time.Minute, BcryptCost: bcrypt.DefaultCost, Logger: slog.Default()}
}

// Service manages users and tokens and authorizes requests. It is safe for
// concurrent use.
type Service struct {
	store  Store
	opts   Options
	logins *loginCache

	dummyOnce sync.Once
	dummy     []byte // a bcrypt hash checked for unknown users, so they take as long as known ones
}

// NewService returns a Service over store; zero options take their defaults.
func NewService(store Store, opts Options) *Service {
	def := DefaultOptions()
	if opts.Now == nil {
		opts.Now = def.Now
	}
	if opts.CacheTTL == 0 {
		opts.CacheTTL = def.CacheTTL
	}
	if opts.BcryptCost == 0 {
		opts.BcryptCost = def.BcryptCost
	}
	if opts.Logger == nil {
		opts.Logger = def.Logger
	}
	return &Service{store: store, opts: opts, logins: newLoginCache(opts.CacheTTL, maxCachedLogins)}
}

// now returns the current time at the millisecond precision the store keeps.
func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Millisecond) }

// CreateUser adds a user. Errors: Invalid (name, password or role), Conflict (name taken).
func (s *Service) CreateUser(ctx context.Context, name, password string, role Role) (User, error) {
	if err := validateUserName(name); err != nil {
		return User{}, err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, err
	}
	hash, err := s.hashPassword(password)
	if err != nil {
		return User{}, err
	}
	u := User{Name: name, Role: role, PasswordHash: hash, CreationTime: s.now()}
	if err := s.store.CreateUser(ctx, &u); err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	u.PasswordHash = nil
	return u, nil
}

// SetPassword replaces a user's password. Errors: Invalid (password), NotFound.
func (s *Service) SetPassword(ctx context.Context, name, password string) error {
	hash, err := s.hashPassword(password)
	if err != nil {
		return err
	}
	defer s.logins.forget(name)
	if err := s.store.UpdateUser(ctx, name, UserUpdate{PasswordHash: hash}); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return nil
}

// SetRole changes a user's role. Errors: Invalid (role), NotFound, Conflict
// (the user is the only admin).
func (s *Service) SetRole(ctx context.Context, name string, role Role) error {
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	if role != RoleAdmin {
		if err := s.checkNotLastAdmin(ctx, name, "change the role of"); err != nil {
			return fmt.Errorf("set role: %w", err)
		}
	}
	defer s.logins.forget(name)
	if err := s.store.UpdateUser(ctx, name, UserUpdate{Role: role}); err != nil {
		return fmt.Errorf("set role: %w", err)
	}
	return nil
}

// DeleteUser deletes a user and their tokens. Errors: NotFound, Conflict (the
// user is the only admin).
func (s *Service) DeleteUser(ctx context.Context, name string) error {
	if err := s.checkNotLastAdmin(ctx, name, "delete"); err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	defer s.logins.forget(name)
	if err := s.store.DeleteUser(ctx, name); err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	return nil
}

// checkNotLastAdmin refuses to take away the last admin, who alone can manage
// users over the API. Errors: NotFound, Conflict.
func (s *Service) checkNotLastAdmin(ctx context.Context, name, action string) error {
	u, err := s.store.FindUserByName(ctx, name)
	if err != nil {
		return err
	}
	if u.Role != RoleAdmin {
		return nil
	}
	n, err := s.store.CountUsers(ctx, RoleAdmin)
	if err != nil {
		return err
	}
	if n <= 1 {
		return errs.Conflictf("cannot %s user '%s': it is the only admin; make another user admin first", action, name)
	}
	return nil
}

// FindUsers returns every user, ordered by name, without password hashes.
func (s *Service) FindUsers(ctx context.Context) ([]User, error) {
	users, err := s.store.FindUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("find users: %w", err)
	}
	for i := range users {
		users[i].PasswordHash = nil
	}
	return users, nil
}

// HasUsers reports whether any user exists.
func (s *Service) HasUsers(ctx context.Context) (bool, error) {
	n, err := s.store.CountUsers(ctx, "")
	if err != nil {
		return false, fmt.Errorf("count users: %w", err)
	}
	return n > 0, nil
}

// HasAdmin reports whether a user with the admin role exists: a server with
// --auth should refuse to start without one.
func (s *Service) HasAdmin(ctx context.Context) (bool, error) {
	n, err := s.store.CountUsers(ctx, RoleAdmin)
	if err != nil {
		return false, fmt.Errorf("count users: %w", err)
	}
	return n > 0, nil
}

// CreateToken makes an API token for user, expiring after ttl (never when ttl
// is 0), and returns its secret, which is shown this once and never stored.
// Errors: Invalid (name or ttl), NotFound (user), Conflict (user has a token
// of that name).
func (s *Service) CreateToken(ctx context.Context, user, name string, ttl time.Duration) (string, Token, error) {
	if err := validateTokenName(name); err != nil {
		return "", Token{}, err
	}
	if ttl < 0 {
		return "", Token{}, errs.Invalidf("invalid token lifetime %s: expected 0 (never expires) or more", ttl)
	}
	secret := newSecret()
	sum := sha256.Sum256([]byte(secret))
	now := s.now()
	t := Token{
		ID: newID(), Name: name, User: user, Prefix: secret[:displayPrefixLen],
		Hash: sum[:], CreationTime: now,
	}
	if ttl > 0 {
		t.ExpiryTime = now.Add(ttl).Truncate(time.Millisecond)
	}
	if err := s.store.CreateToken(ctx, &t); err != nil {
		return "", Token{}, fmt.Errorf("create token: %w", err)
	}
	t.Hash = nil
	return secret, t, nil
}

// FindTokens returns the tokens of user, or every token when user is "",
// without their hashes. Errors: NotFound (user).
func (s *Service) FindTokens(ctx context.Context, user string) ([]Token, error) {
	if user != "" {
		if _, err := s.store.FindUserByName(ctx, user); err != nil {
			return nil, fmt.Errorf("find tokens: %w", err)
		}
	}
	toks, err := s.store.FindTokens(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("find tokens: %w", err)
	}
	for i := range toks {
		toks[i].Hash = nil
	}
	return toks, nil
}

// RevokeToken deletes a token; requests that send it fail from then on.
// Errors: NotFound.
func (s *Service) RevokeToken(ctx context.Context, id string) error {
	if err := s.store.DeleteToken(ctx, id); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

func (s *Service) hashPassword(password string) ([]byte, error) {
	if n := utf8.RuneCountInString(password); n < MinPasswordLen {
		return nil, errs.Invalidf("password too short: %d characters, at least %d required", n, MinPasswordLen)
	}
	if len(password) > MaxPasswordLen {
		return nil, errs.Invalidf("password too long: %d bytes, at most %d allowed", len(password), MaxPasswordLen)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.opts.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

// dummyHash returns a bcrypt hash of nothing anyone sends, made once.
func (s *Service) dummyHash() []byte {
	s.dummyOnce.Do(func() {
		h, err := bcrypt.GenerateFromPassword([]byte(newSecret()), s.opts.BcryptCost)
		if err != nil {
			panic(fmt.Sprintf("bcrypt: %v", err))
		}
		s.dummy = h
	})
	return s.dummy
}

func validateUserName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return errs.Invalidf("invalid user name '%s': expected 1 to %d characters", name, MaxNameLen)
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '.' || c == '@' || c == '-'
		if !ok {
			return errs.Invalidf("invalid user name '%s': only letters, digits and _ . @ - are allowed", name)
		}
	}
	return nil
}

func validateTokenName(name string) error {
	if name == "" || utf8.RuneCountInString(name) > MaxNameLen || !utf8.ValidString(name) {
		return errs.Invalidf("invalid token name %q: expected 1 to %d characters", name, MaxNameLen)
	}
	for _, c := range name {
		if !unicode.IsPrint(c) {
			return errs.Invalidf("invalid token name %q: only printable characters are allowed", name)
		}
	}
	return nil
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewSecret returns a fresh token secret: TokenPrefix and 40 random base62
// characters (238 bits).
func NewSecret() string { return newSecret() }

// newSecret returns TokenPrefix and 40 random base62 characters (238 bits).
func newSecret() string {
	b := make([]byte, 0, TokenLen)
	b = append(b, TokenPrefix...)
	var buf [64]byte
	for len(b) < TokenLen {
		mustRead(buf[:])
		for _, c := range buf {
			// 248 = 4*62: rejecting the rest keeps every character equally likely.
			if c < 248 && len(b) < TokenLen {
				b = append(b, base62[c%62])
			}
		}
	}
	return string(b)
}

// newID returns 16 random hex characters.
func newID() string {
	var b [8]byte
	mustRead(b[:])
	return hex.EncodeToString(b[:])
}

func mustRead(b []byte) {
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
}

// taskTokenName names the token of a pipeline run's tasks.
func taskTokenName(runID string) string { return "pipeline-run " + runID }

// CreateTaskToken makes the credential of one pipeline run's tasks: a token
// of user, confined to sc, that writes as user but never as more than an
// editor. commands says whether the run has run: tasks, which need a user
// whose role may run commands. A token made before for the same run is
// replaced, unless keep (attempts still running in a cluster hold it). The
// token works until RevokeTaskToken, or until the user is
// deleted or loses the role it needs. Errors: Invalid (no user), NotFound
// (user), PermissionDenied (the user's role).
func (s *Service) CreateTaskToken(ctx context.Context, user string, sc Scope, commands, keep bool) (string, error) {
	if user == "" {
		return "", errs.Invalidf("pipeline run %s has no submitting user to act for (it was submitted before users were recorded); submit it again", sc.PipelineRun)
	}
	u, err := s.store.FindUserByName(ctx, user)
	if errs.Is(err, errs.NotFound) {
		return "", errs.NotFoundf("user '%s', who submitted pipeline run %s, no longer exists", user, sc.PipelineRun)
	}
	if err != nil {
		return "", fmt.Errorf("create task token: %w", err)
	}
	if !u.Role.Allows(Write) {
		return "", errs.E(errs.PermissionDenied, "user '%s', who submitted pipeline run %s, has role '%s' and may no longer run pipelines", user, sc.PipelineRun, u.Role)
	}
	if commands && !u.Role.MayRunCommands() {
		return "", errs.E(errs.PermissionDenied, "pipeline run %s has run: tasks, but user '%s', who submitted it, has role '%s': "+
			"shell commands need role 'run' or 'admin'", sc.PipelineRun, user, u.Role)
	}
	if !keep {
		if err := s.RevokeTaskToken(ctx, sc.PipelineRun); err != nil {
			return "", err
		}
	}
	secret := newSecret()
	sum := sha256.Sum256([]byte(secret))
	scope := sc
	t := Token{ID: newID(), Name: taskTokenName(sc.PipelineRun), User: user, Prefix: secret[:displayPrefixLen],
		Hash: sum[:], CreationTime: s.now(), Scope: &scope}
	if keep { // beside the run's earlier ones, under a name of its own
		t.Name += " " + t.ID[:8]
	}
	if err := s.store.CreateToken(ctx, &t); err != nil {
		return "", fmt.Errorf("create task token: %w", err)
	}
	return secret, nil
}

// RevokeTaskToken deletes the token of pipeline run runID's tasks, if any.
func (s *Service) RevokeTaskToken(ctx context.Context, runID string) error {
	return s.pruneTaskTokens(ctx, func(sc *Scope) bool { return sc.PipelineRun == runID })
}

// PruneTaskTokens deletes every task token whose run active says has ended:
// what a server does at start, for runs that ended while it was down.
func (s *Service) PruneTaskTokens(ctx context.Context, ended func(runID string) bool) error {
	return s.pruneTaskTokens(ctx, func(sc *Scope) bool { return ended(sc.PipelineRun) })
}

func (s *Service) pruneTaskTokens(ctx context.Context, drop func(*Scope) bool) error {
	toks, err := s.store.FindTokens(ctx, "")
	if err != nil {
		return fmt.Errorf("find task tokens: %w", err)
	}
	for _, t := range toks {
		if t.Scope != nil && drop(t.Scope) {
			if err := s.store.DeleteToken(ctx, t.ID); err != nil && !errs.Is(err, errs.NotFound) {
				return fmt.Errorf("revoke task token: %w", err)
			}
		}
	}
	return nil
}
