/*
 * /healthz and /readyz.
 *
 * /healthz answers from the process alone: a load balancer restarting keel
 * because PostgreSQL is down would only make things worse.  /readyz takes a
 * pooled connection and asks core.migration_state() (a SECURITY DEFINER
 * function, so keel_app needs no access to the bookkeeping table) whether the
 * schema is exactly the one this binary was built for.
 */
#include "ops/ops.h"

static keel_err
healthz(keel_req *req, void *ctx)
{
	(void)ctx;
	return keel_req_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static keel_err
unready(keel_req *req, const char *database, const char *migrations)
{
	keel_req_set_header(req, "Retry-After", "5");
	return keel_req_json(req, 503,
	                     json_pack("{s:s, s:{s:s, s:s}}", "status", "unavailable", "checks",
	                               "database", database, "migrations", migrations));
}

static keel_err
readyz(keel_req *req, void *ctx)
{
	keel_ops *ops = ctx;
	keel_db *db;
	int pending, mismatched;

	if (keel_db_acquire_scoped(ops->pool, keel_req_arena(req), &db) != KEEL_OK)
		return unready(req, "unreachable", "unknown");
	keel_err err =
	    keel_migrate_pending(db, keel_req_arena(req), ops->migrations, &pending, &mismatched);

	if (err != KEEL_OK)
		return unready(req, "unreachable", "unknown");
	if (mismatched > 0)
		return unready(req, "ok", "mismatched");
	if (pending > 0)
		return unready(req, "ok", "pending");
	return keel_req_json(req, 200,
	                     json_pack("{s:s, s:{s:s, s:s}}", "status", "ok", "checks", "database",
	                               "ok", "migrations", "current"));
}

static const keel_route routes[] = {
    {"GET", "/healthz", healthz, KEEL_ROUTE_PUBLIC, 0, "Liveness: the process answers"},
    {"GET", "/readyz", readyz, KEEL_ROUTE_PUBLIC, 0,
     "Readiness: the database answers and the schema is current"},
};

void
keel_ops_routes(keel_router *r, keel_ops *ops)
{
	keel_router_add_all(r, routes, sizeof(routes) / sizeof(routes[0]), ops);
}
