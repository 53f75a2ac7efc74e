-- Access control for `cairn server --auth`: users and API tokens. Only hashes
-- are stored: bcrypt for passwords, SHA-256 (hex) for tokens, whose secrets
-- are random and long enough to need no slow hash.

CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL, -- read, edit or admin
    password_hash TEXT NOT NULL,
    creation_time BIGINT NOT NULL
);
CREATE INDEX users_role_idx ON users (role);

CREATE TABLE tokens (
    token_id       TEXT PRIMARY KEY,
    user_name      TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    prefix         TEXT NOT NULL,
    token_hash     TEXT NOT NULL UNIQUE,
    creation_time  BIGINT NOT NULL,
    expiry_time    BIGINT,
    last_used_time BIGINT,
    UNIQUE (user_name, name)
);
