/*
 * keel audit: the audit log's query API, and the upkeep of its partitions.
 *
 * PostgreSQL writes the audit log itself (migration 0004: a trigger on every
 * audited table); this module reads it for GET /api/v1/audit-logs, and keeps
 * audit.logs partitioned by month: partitions made ahead of time
 * (keel_audit_maintain) and old ones detached and dropped whole
 * (keel_audit_prune).  Both run on an owner connection, serialized by an
 * advisory lock, so `keel audit`, serve's daily thread and another process
 * doing the same never step on each other.  docs/audit.md has the model.
 */
#ifndef KEEL_AUDIT_AUDIT_H
#define KEEL_AUDIT_AUDIT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "db/db.h"
#include "http/http.h"

typedef struct keel_audit {
	keel_db_pool *pool; /* borrowed */
} keel_audit;

/* GET /api/v1/audit-logs (admin and owner). */
void keel_audit_routes(keel_router *r, keel_audit *audit);

/* ---- partitions and retention (an owner connection: keel_owner) ---- */

typedef struct keel_audit_opts {
	int months_ahead; /* maintain: partitions for this UTC month and the next N */
	int64_t keep_ms;  /* prune: drop partitions whose whole range is older than now - keep */
	bool dry_run;     /* prune: say what would be dropped, change nothing */
	bool wait;        /* another run holds the lock: wait for it (else KEEL_ECONFLICT) */
	FILE *out;        /* one line per partition and a summary; NULL: info log lines */
	/* Polled while waiting and between partitions; true stops the run (may be NULL). */
	bool (*cancelled)(void *ctx);
	void *cancel_ctx;
} keel_audit_opts;

/*
 * Make sure audit.logs has partitions for the current UTC month and the next
 * o->months_ahead; *created counts the ones made now.  Idempotent.
 * KEEL_ECONFLICT when another run holds the lock and o->wait is false (or
 * the run was cancelled while waiting); KEEL_EDENIED when db is not the
 * owner; KEEL_EUNAVAIL when the database is gone.
 */
keel_err keel_audit_maintain(keel_db *db, const keel_audit_opts *o, int *created);

/*
 * Detach and drop every partition of audit.logs whose range ends at or
 * before now - o->keep_ms (never the default partition, never a row
 * DELETE); with o->dry_run only report them.  *dropped counts them.  Errors
 * as for keel_audit_maintain.
 */
keel_err keel_audit_prune(keel_db *db, const keel_audit_opts *o, int *dropped);

/* ---- serve's background upkeep ---- */

#define KEEL_AUDIT_MAINTAIN_EVERY_MS (24LL * 3600 * 1000) /* after a run that worked */
#define KEEL_AUDIT_MAINTAIN_RETRY_MS (5LL * 60 * 1000)    /* after one that failed */

typedef struct keel_audit_maintainer keel_audit_maintainer;

/*
 * Start a thread that runs keel_audit_maintain at once and then every day
 * (sooner again after a failure, which is logged, never fatal), each time on
 * a fresh connection made with owner (copied).  Returns NULL when the thread
 * cannot start (logged).
 */
keel_audit_maintainer *keel_audit_maintainer_start(const keel_db_opts *owner, int months_ahead);

/* Stop the thread (a run in progress ends after its current partition) and free m; NULL is a no-op.
 */
void keel_audit_maintainer_stop(keel_audit_maintainer *m);

#endif
