#!/usr/bin/env bash
# One database and one role per service, each owning its database and nothing else
# (ARCHITECTURE.md: no service reads another's tables). The official postgres image runs this from
# /docker-entrypoint-initdb.d/ once, when its data volume is first created; it can also be run by hand
# against a server (PGHOST etc.), and running it again changes nothing that exists.
#
# Passwords come from the environment: IDENTITY_DB_PASSWORD, ROSTER_DB_PASSWORD, BILLING_DB_PASSWORD,
# MESSAGING_DB_PASSWORD (docker-compose.yml sets them, with dev defaults). A missing one stops the init.
#
# Works whether the image executes it or sources it (it sources files without the execute bit):
# no `exit`; `set -e` is what the image's entrypoint has set already.
set -e

init_service_database() {
    local service=$1
    local password_var="${service^^}_DB_PASSWORD"
    local password="${!password_var:?$password_var is not set: the password of database role $service}"
    # psql substitutes :"name" (an identifier) and :'name' (a literal) itself; nothing is spliced by the shell
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
        -v service="$service" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'service', :'password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'service') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'service', :'service')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'service') \gexec
-- only its own role may connect (the superuser always can); as the owner it may create its tables
REVOKE ALL ON DATABASE :"service" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"service" TO :"service";
SQL
}

for service in identity roster billing messaging; do
    init_service_database "$service"
done
