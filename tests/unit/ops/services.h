/*
 * Every route of every service, registered with no context (registration
 * never touches it): what `keel serve --services all` serves, from serve's
 * own service table (keel_cmd_serve_routes), so a new module is covered as
 * soon as serve runs it.  Link keel_cmd.
 */
#ifndef KEEL_TESTS_SERVICES_H
#define KEEL_TESTS_SERVICES_H

#include "cmd/cmd.h"
#include "ops/ops.h"

static inline void
keel_test_all_routes(keel_router *r, keel_ops *ops)
{
	(void)ops; /* serve's own operations context: registration only keeps its address */
	keel_cmd_serve_routes(r, "all");
}

#endif
