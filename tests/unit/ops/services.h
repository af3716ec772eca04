/*
 * Every route of every service, registered with no context (registration
 * never touches it): what `keel serve --services all` serves.  Update with a
 * new module.
 */
#ifndef KEEL_TESTS_SERVICES_H
#define KEEL_TESTS_SERVICES_H

#include "audit/audit.h"
#include "auth/auth.h"
#include "ops/ops.h"
#include "org/org.h"
#include "tenancy/tenancy.h"

static inline void
keel_test_all_routes(keel_router *r, keel_ops *ops)
{
	keel_ops_routes(r, ops);
	keel_ops_metrics_route(r, ops);
	keel_auth_routes(r, NULL);
	keel_tenancy_routes(r, NULL);
	keel_org_routes(r, NULL);
	keel_audit_routes(r, NULL);
}

#endif
