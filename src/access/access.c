/*
 * The role names (see access.h).
 */
#include "access/access.h"

#include <string.h>

static const char *const role_names[] = {"none", "viewer", "member", "admin", "owner"};

const char *
keel_role_name(int role)
{
	return role >= KEEL_ROLE_VIEWER && role <= KEEL_ROLE_OWNER ? role_names[role] : "none";
}

keel_role
keel_role_parse(const char *s)
{
	for (int r = KEEL_ROLE_VIEWER; r <= KEEL_ROLE_OWNER; r++)
		if (s != NULL && strcmp(s, role_names[r]) == 0)
			return (keel_role)r;
	return KEEL_ROLE_NONE;
}
