/*
 * Retention: deleting the rows keel keeps only for a while.
 *
 * The rules and the deletes are the SQL functions of migration 0010 (one per
 * table: idempotency keys, sign-in failures per address, security events,
 * refresh tokens); each call deletes at most a batch and is its own
 * transaction on an owner connection in autocommit mode, and says in which
 * tenant it stopped, where the next call resumes.  Here are the runs
 * around them: a session-level advisory lock lets one run at a time across
 * all processes (polled with pg_try_advisory_lock(), so a waiting run holds
 * nothing and can be cancelled), then each table's function again and again
 * until a call deletes less than a batch, checking for cancellation between
 * calls.  A run ends with one info line of what it deleted per table.
 *
 * serve's thread (the upkeep) runs at once and then daily, on a fresh owner
 * connection each time, like the audit log's partition upkeep beside it
 * (src/audit/audit_maint.c).
 */
#include "cmd/cmd_int.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/periodic.h"

#include <stdio.h>
#include <stdlib.h>

#define LOCK_NAME "keel retention" /* one run at a time, across processes */

/*
 * The tables, in keel_retention_counts' order.  $1 the batch, $2 the tenant to resume from
 * (NULL: the first), $3 a retention in ms; each returns the rows deleted and the tenant it
 * stopped in (NULL for auth.address_failures, which belongs to no tenant).
 */
static const struct {
	const char *table;
	keel_stmt st;
} tables[KEEL_RETENTION_TABLES] = {
    {"core.idempotency_keys",
     {"retention_idempotency_keys",
      "SELECT deleted, resume FROM core.retention_idempotency_keys($2::uuid, $1::integer)", 2}},
    {"auth.address_failures",
     {"retention_address_failures",
      "SELECT auth.retention_address_failures($1::integer), NULL::uuid", 1}},
    {"auth.security_events",
     {"retention_security_events",
      "SELECT deleted, resume FROM auth.retention_security_events($3::bigint * interval"
      " '1 millisecond', $2::uuid, $1::integer)",
      3}},
    {"auth.refresh_tokens",
     {"retention_refresh_tokens",
      "SELECT deleted, resume FROM auth.retention_refresh_tokens($2::uuid, $1::integer)", 2}},
};

const char *
keel_retention_table(int i)
{
	return tables[i].table;
}

keel_retention_opts
keel_retention_opts_of(const keel_config *cfg)
{
	return (keel_retention_opts){.security_events_keep_ms = cfg->security_events_keep_ms,
	                             .batch = KEEL_RETENTION_BATCH};
}

static bool
cancelled(const keel_retention_opts *o)
{
	return o->cancelled != NULL && o->cancelled(o->cancel_ctx);
}

static bool
lock_cancelled(void *o)
{
	return cancelled(o);
}

static void
lock_waiting(void *o)
{
	const keel_retention_opts *r = o;

	if (r->out != NULL)
		fprintf(r->out, "waiting for another retention run to finish\n");
}

/* The retention lock; KEEL_ECONFLICT when it stays taken (not waiting, or cancelled). */
static keel_err
lock_take(keel_db *db, const keel_retention_opts *o)
{
	keel_db_lock_wait w = {
	    .wait = o->wait, .cancelled = lock_cancelled, .waiting = lock_waiting, .ctx = (void *)o};

	return keel_db_lock(db, LOCK_NAME, &w);
}

/* One call of table i's function; *n rows deleted, resume[] the tenant it stopped in or "". */
static keel_err
table_call(keel_db *db, int i, const char *const *p, long *n, char resume[static 40])
{
	keel_arena *a = keel_arena_create(1024); /* per call: a long run holds no results */
	keel_res *res;
	keel_err err = keel_db_exec(db, a, &tables[i].st, p, &res);

	if (err == KEEL_OK) {
		*n = atol(keel_res_get(res, 0, 0));
		snprintf(resume, 40, "%s", keel_res_get(res, 0, 1));
	}
	keel_arena_destroy(a);
	return err;
}

/*
 * Delete table i's expired rows, a batch per call, until a call deletes less than a batch;
 * each call resumes in the tenant where the one before stopped.
 */
static keel_err
table_run(keel_db *db, const keel_retention_opts *o, int i, long *deleted)
{
	char batch[16], keep[24], resume[40] = "";
	const char *p[] = {batch, NULL, keep};

	snprintf(batch, sizeof(batch), "%d", o->batch);
	snprintf(keep, sizeof(keep), "%lld", (long long)o->security_events_keep_ms);
	for (;;) {
		long n = 0;

		if (cancelled(o))
			return KEEL_ECONFLICT;
		keel_err err = table_call(db, i, p, &n, resume);

		if (err != KEEL_OK)
			return err;
		*deleted += n;
		if (n < o->batch)
			return KEEL_OK;
		p[1] = resume[0] != '\0' ? resume : NULL;
	}
}

keel_err
keel_retention_run(keel_db *db, const keel_retention_opts *o, keel_retention_counts *out)
{
	keel_err err = lock_take(db, o);

	*out = (keel_retention_counts){{0}};
	if (err != KEEL_OK)
		return err;
	for (int i = 0; i < KEEL_RETENTION_TABLES && err == KEEL_OK; i++)
		err = table_run(db, o, i, &out->deleted[i]);
	keel_db_unlock(db, LOCK_NAME);
	if (err == KEEL_OK)
		keel_log_json(
		    KEEL_LOG_INFO, "retention: rows deleted",
		    json_pack("{s:I, s:I, s:I, s:I}", tables[0].table, (json_int_t)out->deleted[0],
		              tables[1].table, (json_int_t)out->deleted[1], tables[2].table,
		              (json_int_t)out->deleted[2], tables[3].table, (json_int_t)out->deleted[3]));
	return err;
}

/* ---- serve's thread ---- */

struct keel_retention_upkeep {
	keel_periodic *thread;
	keel_db_opts opts;
	char *conninfo;
	keel_retention_opts run;
};

/* One run on a fresh connection; true when it worked (or another process was doing it). */
static bool
upkeep_run(void *arg, keel_periodic *p)
{
	keel_retention_upkeep *u = arg;
	keel_retention_opts o = u->run;
	keel_retention_counts counts;
	keel_db *db;
	char why[512];

	o.cancelled = keel_periodic_stopping;
	o.cancel_ctx = p;

	if (keel_db_open(&u->opts, &db, why, sizeof(why)) != KEEL_OK) {
		keel_log_warn("retention: %s; trying again in %lld minutes", why,
		              KEEL_RETENTION_RETRY_MS / 60000);
		return false;
	}
	keel_err err = keel_retention_run(db, &o, &counts);

	keel_db_close(db);
	if (err == KEEL_ECONFLICT) {
		keel_log_debug("retention: skipped: another run holds the lock, or stopping");
		return true;
	}
	if (err != KEEL_OK)
		keel_log_warn("retention: failed (%s); trying again in %lld minutes", keel_err_name(err),
		              KEEL_RETENTION_RETRY_MS / 60000);
	return err == KEEL_OK;
}

keel_retention_upkeep *
keel_retention_upkeep_start(const keel_db_opts *owner, const keel_retention_opts *run)
{
	keel_retention_upkeep *u = keel_xcalloc(1, sizeof(*u));

	u->opts = *owner;
	u->conninfo = owner->conninfo ? keel_xstrdup(owner->conninfo) : NULL;
	u->opts.conninfo = u->conninfo;
	u->run = *run;
	u->run.out = NULL;
	u->run.wait = false;
	u->thread = keel_periodic_start("retention", upkeep_run, u, KEEL_RETENTION_EVERY_MS,
	                                KEEL_RETENTION_RETRY_MS);
	if (u->thread == NULL) {
		free(u->conninfo);
		free(u);
		return NULL;
	}
	return u;
}

void
keel_retention_upkeep_stop(keel_retention_upkeep *u)
{
	if (u == NULL)
		return;
	keel_periodic_stop(u->thread);
	free(u->conninfo);
	free(u);
}
