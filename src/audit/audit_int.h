/*
 * Private to src/audit: the store's interface.
 */
#ifndef KEEL_AUDIT_AUDIT_INT_H
#define KEEL_AUDIT_AUDIT_INT_H

#include "audit/audit.h"
#include "core/str.h"
#include "svc/svc.h"

/* What GET /api/v1/audit-logs asks for; NULL members are not filtered on. */
typedef struct audit_filter {
	const char *schema, *table; /* ?table=schema.table: both or neither */
	const char *record_id;      /* UUID */
	const char *actor_id;       /* UUID */
	const char *action;         /* INSERT, UPDATE, DELETE or an event (SIGN_IN_FAILED, ...) */
	const char *since, *until;  /* RFC 3339 UTC with microseconds: since <= occurred_at < until */
	const char *before_at;      /* cursor: rows before (before_at, before_id), newest first */
	const char *before_id;
	int limit;
} audit_filter;

/* A page: the list answer its items (JSON objects rendered by PostgreSQL) are added to. */
typedef struct audit_page {
	keel_svc_list list;
	int64_t last_us;     /* occurred_at of the last item, microseconds since the epoch */
	const char *last_id; /* its id */
} audit_page;

/*
 * The statement of a page for f (one per index, see audit_store.c) and its parameters as
 * audit_store_list binds them, into p; lim receives the limit's text, which p points to.
 * audit_test plans exactly these.
 */
const keel_stmt *audit_store_list_stmt(const audit_filter *f, char lim[16], const char *p[10]);

/* Every filter of the query string into f; fails the request with 400 at the first bad one. */
keel_err parse_filter(keel_req *req, audit_filter *f);

/* One page, as its transaction's only statement. */
keel_err audit_store_list(keel_tx *tx, keel_arena *a, const audit_filter *f, audit_page *page);

/* ---- maintenance, on an owner connection in autocommit mode ---- */

/* Try the maintenance lock (session-level); *got says whether this session holds it now. */

/* Create the partition of the UTC month offset months from now; *name is NULL when it existed. */
keel_err audit_store_create_partition(keel_db *db, keel_arena *a, int offset, const char **name);

/* The first day of the UTC month offset months from now, "YYYY-MM". */
keel_err audit_store_month(keel_db *db, keel_arena *a, int offset, const char **month);

/* now - keep_ms as RFC 3339 UTC text with microseconds. */
keel_err audit_store_cutoff(keel_db *db, keel_arena *a, int64_t keep_ms, const char **cutoff);

/* One partition whose range ends at or before a cutoff. */
typedef struct audit_partition {
	const char *name; /* audit.logs_YYYYMM */
	const char *from, *to;
	const char *size; /* "8192 bytes", "12 MB" */
} audit_partition;

/* The partitions entirely before cutoff, oldest first, into *parts (arena). */
keel_err audit_store_prunable(keel_db *db, keel_arena *a, const char *cutoff,
                              audit_partition **parts, int *n);

/* Detach and drop name if its range still ends at or before cutoff; *dropped says whether. */
keel_err audit_store_drop_partition(keel_db *db, keel_arena *a, const char *name,
                                    const char *cutoff, bool *dropped);

#endif
