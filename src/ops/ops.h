/*
 * Operations endpoints: liveness, readiness, metrics, the OpenAPI document.
 */
#ifndef KEEL_OPS_OPS_H
#define KEEL_OPS_OPS_H

#include <stdio.h>

#include "db/db.h"
#include "http/http.h"
#include "telemetry/telemetry.h"

typedef struct keel_ops {
	keel_db_pool *pool;                   /* borrowed */
	const keel_migration_set *migrations; /* the set this binary expects */
	keel_metrics *metrics;                /* borrowed; for GET /metrics */
	char *openapi;                        /* built by keel_ops_finish() */
} keel_ops;

/* Add GET /healthz, GET /readyz and GET /openapi.json; ops must outlive the router. */
void keel_ops_routes(keel_router *r, keel_ops *ops);

/* Add GET /metrics (to the API router, or to the separate metrics listener's). */
void keel_ops_metrics_route(keel_router *r, keel_ops *ops);

/* Once every route is registered: build the OpenAPI document of router's routes. */
void keel_ops_finish(keel_ops *ops, const keel_router *router, const char *version);

void keel_ops_release(keel_ops *ops);

/* ---- openapi.c ---- */

/* The OpenAPI 3.1 document of the routes of router (malloc'd JSON text). */
char *keel_ops_openapi_build(const keel_router *router, const char *version);

/* The JSON Schema generated from a body's field specs (new reference). */
json_t *keel_ops_body_schema(const keel_body *b);

/*
 * What router's routes fail to say about themselves: an operationId in
 * camelCase (unique), a summary, a complete success answer, body fields
 * exactly for KEEL_ROUTE_BODY, every path parameter; and schemas of one name
 * that differ or refer to one no route brings.  Prints each problem to
 * report; returns their number.
 */
int keel_ops_openapi_check(const keel_router *router, FILE *report);

#endif
