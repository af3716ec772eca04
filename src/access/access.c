/*
 * The role names, the principal and the route-level role check (see access.h).
 */
#include "access/access.h"

#include <string.h>

/* The one C definition of the names; keel_role_name(r) is keel_role_choices[OWNER - r]. */
const char *const keel_role_choices[] = {"owner", "admin", "member", "viewer", NULL};

static const keel_principal anonymous = {.role = KEEL_ROLE_NONE};

const char *
keel_role_name(int role)
{
	return role >= KEEL_ROLE_VIEWER && role <= KEEL_ROLE_OWNER
	           ? keel_role_choices[KEEL_ROLE_OWNER - role]
	           : "none";
}

keel_role
keel_role_parse(const char *s)
{
	for (int r = KEEL_ROLE_VIEWER; r <= KEEL_ROLE_OWNER; r++)
		if (s != NULL && strcmp(s, keel_role_name(r)) == 0)
			return (keel_role)r;
	return KEEL_ROLE_NONE;
}

void
keel_access_set_principal(keel_req *req, const keel_principal *p)
{
	keel_arena *arena = keel_req_arena(req);
	keel_principal *copy = keel_arena_calloc(arena, 1, sizeof(*copy));

	copy->tenant_id = p->tenant_id ? keel_arena_strdup(arena, p->tenant_id) : NULL;
	copy->user_id = p->user_id ? keel_arena_strdup(arena, p->user_id) : NULL;
	copy->role = p->role;
	keel_req_set_caller(req, copy, copy->tenant_id);
}

const keel_principal *
keel_access_principal(const keel_req *req)
{
	const keel_principal *p = keel_req_caller(req);

	return p != NULL ? p : &anonymous;
}

void
keel_access_set_role(keel_req *req, keel_role role)
{
	keel_principal *p = keel_req_caller(req);

	if (p != NULL)
		p->role = role;
	else
		keel_access_set_principal(req, &(keel_principal){.role = role});
}

keel_err
keel_access_check_route(keel_req *req, const keel_route *route)
{
	if ((int)keel_access_principal(req)->role >= route->min_role)
		return KEEL_OK;
	return keel_req_fail(req, KEEL_EDENIED, NULL, "this requires the %s role or higher",
	                     keel_role_name(route->min_role));
}
