-- The host's own schema (PostgreSQL), from before it adopted invitations. invite-rs never
-- creates or changes these tables; it reads them and inserts memberships through its
-- TableMapping. `invitations` is the host's own (calendar invitations).
CREATE TABLE accounts (
    id            BIGINT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    email         TEXT UNIQUE,
    phone         TEXT UNIQUE
);
CREATE INDEX accounts_email_lower ON accounts (lower(email));

CREATE TABLE organizations (
    id        BIGINT PRIMARY KEY,
    title     TEXT NOT NULL,
    verified  BOOLEAN NOT NULL
);

CREATE TABLE org_memberships (
    org_id      BIGINT NOT NULL REFERENCES organizations (id),
    account_id  BIGINT NOT NULL REFERENCES accounts (id),
    role        TEXT NOT NULL CHECK (role IN ('owner', 'billing', 'developer', 'member')),
    joined_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, account_id)
);

CREATE TABLE invitations (
    id     BIGINT PRIMARY KEY,
    event  TEXT NOT NULL
);
