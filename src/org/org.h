/*
 * keel org: organizations and their divisions.
 */
#ifndef KEEL_ORG_ORG_H
#define KEEL_ORG_ORG_H

#include "db/db.h"
#include "http/http.h"

typedef struct keel_org {
	keel_db_pool *pool; /* borrowed */
} keel_org;

/* /api/v1/organizations..., /api/v1/divisions/{id}. */
void keel_org_routes(keel_router *r, keel_org *org);

#endif
