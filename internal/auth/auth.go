package auth

import (
	"context"
	"strconv"
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// Level is what a request needs. It uses the numbering of web.Access
// (Public=0, Read=1, Write=2, Admin=3), so the server adapts one to the other
// with a plain conversion, auth.Level(access).
type Level int

// Levels, lowest first.
const (
	Public Level = iota // health and version: no credentials
	Read                // reads and searches
	Write               // anything that changes state
	Admin               // user and token management
)

// String returns the level's lowercase name.
func (l Level) String() string {
	switch l {
	case Public:
		return "public"
	case Read:
		return "read"
	case Write:
		return "write"
	case Admin:
		return "admin"
	}
	return "level(" + strconv.Itoa(int(l)) + ")"
}

// Role is what a user may do. A user has exactly one role.
type Role string

// Roles, weakest first.
const (
	RoleRead  Role = "read"  // reads and searches
	RoleEdit  Role = "edit"  // reads and writes; pipelines of built-in steps only
	RoleRun   Role = "run"   // edit, and pipelines with run: tasks (shell commands on the server)
	RoleAdmin Role = "admin" // everything, including users and tokens
)

// ParseRole returns the role named s. Errors: Invalid.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleRead, RoleEdit, RoleRun, RoleAdmin:
		return r, nil
	}
	return "", errs.Invalidf("invalid role '%s': expected one of 'read', 'edit', 'run', 'admin'", s)
}

// rank orders the roles: 0 for an unknown one, then read < edit < run < admin.
func (r Role) rank() int {
	switch r {
	case RoleRead:
		return 1
	case RoleEdit:
		return 2
	case RoleRun:
		return 3
	case RoleAdmin:
		return 4
	}
	return 0
}

// Allows reports whether the role may make a request that needs l.
func (r Role) Allows(l Level) bool {
	switch r {
	case RoleAdmin:
		return true
	case RoleEdit, RoleRun:
		return l <= Write
	case RoleRead:
		return l <= Read
	}
	return l <= Public
}

// MayRunCommands reports whether the role may submit pipelines whose tasks
// run shell commands (run:) as the server's operating-system user.
func (r Role) MayRunCommands() bool { return r == RoleRun || r == RoleAdmin }

// AtMost returns the weaker of r and max.
func (r Role) AtMost(max Role) Role {
	if r.rank() > max.rank() {
		return max
	}
	return r
}

// RoleFor returns the weakest role that allows l.
func RoleFor(l Level) Role {
	switch {
	case l <= Read:
		return RoleRead
	case l == Write:
		return RoleEdit
	}
	return RoleAdmin
}

// User is someone who may sign in with a name and password.
type User struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	// PasswordHash is the bcrypt hash of the password. Service clears it in
	// what it returns; only a Store sets it.
	PasswordHash []byte    `json:"-"`
	CreationTime time.Time `json:"creation_time"`
}

// UserUpdate changes a user; zero fields are left as they are.
type UserUpdate struct {
	PasswordHash []byte
	Role         Role
}

// Token is an API token. Its secret is shown once, at creation; only the
// SHA-256 hash of the secret is stored, with a short prefix for display.
type Token struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	User   string `json:"user"`
	Prefix string `json:"prefix"` // the secret's first characters, e.g. "cairn_3fQx"
	// Hash is the SHA-256 of the secret. Service clears it in what it returns.
	Hash         []byte    `json:"-"`
	CreationTime time.Time `json:"creation_time"`
	ExpiryTime   time.Time `json:"expiry_time,omitzero"`    // zero: never expires
	LastUsedTime time.Time `json:"last_used_time,omitzero"` // zero: never used
	// Scope, when set, confines the token to one pipeline run (a task's
	// credential); such tokens are made and deleted by the server alone.
	Scope *Scope `json:"scope,omitempty"`
}

// Expired reports whether the token has expired at now.
func (t *Token) Expired(now time.Time) bool {
	return !t.ExpiryTime.IsZero() && !now.Before(t.ExpiryTime)
}

// Principal is who a request comes from.
type Principal struct {
	User    string
	Role    Role
	TokenID string // the token used, or "" for a password
	// Scope is the pipeline run a task's token is confined to; nil for a
	// user's own credentials.
	Scope *Scope
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p, for the handlers behind Authorize.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal Authorize put in ctx; ok is false on a
// server without --auth, where every caller may do everything.
func PrincipalFrom(ctx context.Context) (p Principal, ok bool) {
	p, ok = ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Store keeps users and tokens.
type Store interface {
	// CreateUser stores a new user. Errors: Conflict (name taken).
	CreateUser(ctx context.Context, u *User) error
	// FindUserByName returns a user with its password hash. Errors: NotFound.
	FindUserByName(ctx context.Context, name string) (*User, error)
	// FindUsers returns every user, ordered by name, with password hashes.
	FindUsers(ctx context.Context) ([]User, error)
	// CountUsers counts the users with role r, or all users when r is "".
	CountUsers(ctx context.Context, r Role) (int, error)
	// UpdateUser changes a user's password hash or role. Errors: NotFound.
	UpdateUser(ctx context.Context, name string, u UserUpdate) error
	// DeleteUser deletes a user and their tokens. Errors: NotFound.
	DeleteUser(ctx context.Context, name string) error

	// CreateToken stores a new token. Errors: NotFound (user), Conflict (the
	// user already has a token of that name, or the ID or hash is taken).
	CreateToken(ctx context.Context, t *Token) error
	// FindTokenByHash returns the token whose secret hashes to hash. Errors: NotFound.
	FindTokenByHash(ctx context.Context, hash []byte) (*Token, error)
	// FindTokens returns the tokens of user, or every token when user is "",
	// ordered by user, then creation time.
	FindTokens(ctx context.Context, user string) ([]Token, error)
	// UpdateTokenLastUsed records when a token was last used. Errors: NotFound.
	UpdateTokenLastUsed(ctx context.Context, id string, at time.Time) error
	// DeleteToken deletes a token. Errors: NotFound.
	DeleteToken(ctx context.Context, id string) error
}
