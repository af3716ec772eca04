/*
 * keel's commands.  main.c parses the configuration and dispatches here;
 * each command returns the process exit status (0 ok, 1 failure, 2 usage).
 */
#ifndef KEEL_CMD_CMD_H
#define KEEL_CMD_CMD_H

#include "core/config.h"
#include "db/db.h"
#include "events/events.h"
#include "http/http.h"

/* The migrations under migrations/, embedded at build time (generated). */
extern const keel_migration_set keel_migrations_embedded;

int keel_cmd_serve(const keel_config *cfg, int argc, char **argv);

/*
 * Add to r every route `keel serve --services list` serves ("all", or
 * "auth,org", ...), GET /metrics included, with contexts no handler may use:
 * for describing the routes (the OpenAPI test), not for serving them.
 */
void keel_cmd_serve_routes(keel_router *r, const char *list);
int keel_cmd_migrate(const keel_config *cfg, int argc, char **argv);
int keel_cmd_tenant(const keel_config *cfg, int argc, char **argv);
int keel_cmd_audit(const keel_config *cfg, int argc, char **argv);
int keel_cmd_relay(const keel_config *cfg, int argc, char **argv);
int keel_cmd_maintain(const keel_config *cfg, int argc, char **argv);
int keel_cmd_fin(const keel_config *cfg, int argc, char **argv);

/* Connection options for serve (keel_app) and migrate (keel_owner). */
keel_db_opts keel_cmd_db_opts(const keel_config *cfg, bool owner);

/* The outbox relay's settings (keel relay, and serve's relay thread). */
keel_relay_opts keel_cmd_relay_opts(const keel_config *cfg);

#endif
