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
#include "core/str.h"

#include <stdlib.h>
#include <string.h>

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

static keel_err
openapi(keel_req *req, void *ctx)
{
	keel_ops *ops = ctx;

	if (ops->openapi == NULL)
		return keel_req_fail(req, KEEL_EUNAVAIL, NULL, "the API description is not ready");
	return keel_req_send(req, 200, "application/json", ops->openapi, strlen(ops->openapi));
}

static keel_err
metrics(keel_req *req, void *ctx)
{
	keel_ops *ops = ctx;
	keel_buf out;

	keel_buf_init(&out, keel_req_arena(req));
	keel_metrics_render(ops->metrics, &out);
	return keel_req_send(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
}

static const keel_schema health_schema = {
    .name = "Health",
    .json = "{\"type\":\"object\",\"required\":[\"status\"],\"properties\":{\"status\":{"
            "\"type\":\"string\",\"const\":\"ok\"}}}"};

static const keel_schema readiness_schema = {
    .name = "Readiness",
    .json =
        "{\"type\":\"object\",\"required\":[\"status\",\"checks\"],\"properties\":{\"status\":{"
        "\"type\":\"string\",\"enum\":[\"ok\",\"unavailable\"]},\"checks\":{\"type\":\"object\","
        "\"properties\":{\"database\":{\"type\":\"string\",\"enum\":[\"ok\",\"unreachable\"]},"
        "\"migrations\":{\"type\":\"string\",\"enum\":[\"current\",\"pending\",\"mismatched\","
        "\"unknown\"]}}}}}"};

static const keel_schema document_schema = {
    .name = "OpenApiDocument",
    .json = "{\"type\":\"object\",\"required\":[\"openapi\",\"info\",\"paths\"],\"properties\":{"
            "\"openapi\":{\"type\":\"string\"},\"info\":{\"type\":\"object\"},\"paths\":{\"type\":"
            "\"object\"},\"servers\":{\"type\":\"array\"},\"components\":{\"type\":\"object\"}}}"};

static const keel_route metrics_route = {
    .method = "GET",
    .path = "/metrics",
    .handler = metrics,
    .flags = KEEL_ROUTE_PUBLIC,
    .summary = "Prometheus metrics",
    .operation_id = "getMetrics",
    .reply = {200, KEEL_SHAPE_TEXT, NULL},
};

static const keel_route routes[] = {
    {.method = "GET",
     .path = "/healthz",
     .handler = healthz,
     .flags = KEEL_ROUTE_PUBLIC,
     .summary = "Liveness: the process answers",
     .operation_id = "getHealth",
     .reply = {200, KEEL_SHAPE_ONE, &health_schema}},
    {.method = "GET",
     .path = "/readyz",
     .handler = readyz,
     .flags = KEEL_ROUTE_PUBLIC,
     .summary = "Readiness: the database answers and the schema is current",
     .operation_id = "getReadiness",
     .reply = {200, KEEL_SHAPE_ONE, &readiness_schema},
     .also = {503, KEEL_SHAPE_ONE, &readiness_schema}},
    {.method = "GET",
     .path = "/openapi.json",
     .handler = openapi,
     .flags = KEEL_ROUTE_PUBLIC,
     .summary = "This document: OpenAPI 3.1 description of the routes served",
     .operation_id = "getOpenApi",
     .reply = {200, KEEL_SHAPE_ONE, &document_schema},
     .problems = {503}},
};

void
keel_ops_routes(keel_router *r, keel_ops *ops)
{
	keel_router_add_all(r, routes, KEEL_NELEM(routes), ops);
}

void
keel_ops_metrics_route(keel_router *r, keel_ops *ops)
{
	keel_router_add(r, &metrics_route, ops);
}

void
keel_ops_finish(keel_ops *ops, const keel_router *router, const char *version)
{
	free(ops->openapi);
	ops->openapi = keel_ops_openapi_build(router, version);
}

void
keel_ops_release(keel_ops *ops)
{
	free(ops->openapi);
	ops->openapi = NULL;
}
