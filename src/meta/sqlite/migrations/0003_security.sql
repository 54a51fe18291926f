-- Security (issue 5): local users, roles, custom privileges and settings (active realms,
-- anonymous access). Records are Berth's own JSON (src/auth/model.rs); password hashes are
-- argon2id PHC strings inside the user record. Per-repository privileges are not stored:
-- they are derived from the repository list, so they appear and vanish with repositories.
CREATE TABLE security_users (
    user_id TEXT PRIMARY KEY,
    record  TEXT NOT NULL
);

CREATE TABLE security_roles (
    id      TEXT PRIMARY KEY,
    record  TEXT NOT NULL
);

CREATE TABLE security_privileges (
    name    TEXT PRIMARY KEY,
    record  TEXT NOT NULL
);

CREATE TABLE security_settings (
    key     TEXT PRIMARY KEY,
    value   TEXT NOT NULL
);
