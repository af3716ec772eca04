/*
 * Operations endpoints: liveness and readiness.
 */
#ifndef KEEL_OPS_OPS_H
#define KEEL_OPS_OPS_H

#include "db/db.h"
#include "http/http.h"

typedef struct keel_ops {
	keel_db_pool *pool;                   /* borrowed */
	const keel_migration_set *migrations; /* the set this binary expects */
} keel_ops;

/* Add GET /healthz and GET /readyz; ops must outlive the router. */
void keel_ops_routes(keel_router *r, keel_ops *ops);

#endif
