#!/usr/bin/env bash
# keel's roles and database, made once by the PostgreSQL image on its first
# start (/docker-entrypoint-initdb.d/): the statements of the README's
# "Running against an existing PostgreSQL", with the passwords read from the
# secret files compose mounts.  keel_owner owns the database and runs the
# migrations; keel_app is what `keel serve` uses (no BYPASSRLS, owns nothing);
# keel_relay is the outbox relay's.  The migrations give each its grants.
set -euo pipefail

secrets=${KEEL_SECRETS_DIR:-/run/secrets}
read_secret() {
	local v
	v=$(<"$secrets/$1")
	[[ -n $v ]] || { echo "postgres-init: $secrets/$1 is empty" >&2; exit 1; }
	printf '%s' "$v"
}

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
	-v owner_pw="$(read_secret keel_owner_password)" \
	-v app_pw="$(read_secret keel_app_password)" \
	-v relay_pw="$(read_secret keel_relay_password)" <<'SQL'
CREATE ROLE keel_owner LOGIN PASSWORD :'owner_pw';
CREATE ROLE keel_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT PASSWORD :'app_pw';
CREATE ROLE keel_relay LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT PASSWORD :'relay_pw';
CREATE DATABASE keel OWNER keel_owner;
REVOKE ALL ON DATABASE keel FROM PUBLIC;
GRANT CONNECT ON DATABASE keel TO keel_app, keel_relay;
\connect keel
ALTER SCHEMA public OWNER TO keel_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
SQL
