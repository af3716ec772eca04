/*
 * Partitions of audit.logs: made ahead of time, dropped whole when old.
 *
 * The SQL functions of migration 0004 do the work (audit.create_partition,
 * audit.drop_partition), each call its own short transaction with bounded
 * lock waits.  Here are the runs around them: a session-level advisory lock
 * serializes every run of every process (`keel audit maintain|prune`, serve's
 * thread), polled with pg_try_advisory_lock() so that a waiting run holds
 * nothing and can be cancelled; then one statement per month or partition,
 * checking for cancellation in between.  serve's thread (the maintainer)
 * opens a fresh owner connection per run and closes it after, so a process
 * holds no owner connection between its daily runs.
 */
#include "audit/audit_int.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/periodic.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* A line of progress: to o->out, or an info log line. */
__attribute__((format(printf, 2, 3))) static void
report(const keel_audit_opts *o, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (o->out != NULL)
		fprintf(o->out, "%s\n", line);
	else
		keel_log_info("audit: %s", line);
}

static bool
cancelled(const keel_audit_opts *o)
{
	return o->cancelled != NULL && o->cancelled(o->cancel_ctx);
}

#define LOCK_NAME "keel audit maintenance" /* one run at a time, across processes */

static bool
lock_cancelled(void *o)
{
	return cancelled(o);
}

static void
lock_waiting(void *o)
{
	report(o, "waiting for another audit maintenance run to finish");
}

/* The maintenance lock; KEEL_ECONFLICT when it stays taken (not waiting, or cancelled). */
static keel_err
lock_take(keel_db *db, const keel_audit_opts *o)
{
	keel_db_lock_wait w = {
	    .wait = o->wait, .cancelled = lock_cancelled, .waiting = lock_waiting, .ctx = (void *)o};

	return keel_db_lock(db, LOCK_NAME, &w);
}

keel_err
keel_audit_maintain(keel_db *db, const keel_audit_opts *o, int *created)
{
	keel_arena *a = keel_arena_create(4096);
	const char *name, *last = NULL;
	keel_err err = lock_take(db, o);

	*created = 0;
	if (err != KEEL_OK)
		goto out;
	for (int m = 0; m <= o->months_ahead && err == KEEL_OK; m++) {
		if (cancelled(o)) {
			err = KEEL_ECONFLICT;
			break;
		}
		err = audit_store_create_partition(db, a, m, &name);
		if (err == KEEL_OK && name != NULL) {
			report(o, "created %s", name);
			(*created)++;
		}
	}
	if (err == KEEL_OK)
		err = audit_store_month(db, a, o->months_ahead, &last);
	if (err == KEEL_OK)
		report(o, "partitions ready through %s (%d created)", last ? last : "?", *created);
	keel_db_unlock(db, LOCK_NAME);
out:
	keel_arena_destroy(a);
	return err;
}

keel_err
keel_audit_prune(keel_db *db, const keel_audit_opts *o, int *dropped)
{
	keel_arena *a = keel_arena_create(4096);
	const char *cutoff = NULL;
	audit_partition *parts = NULL;
	int n = 0;
	keel_err err = lock_take(db, o);

	*dropped = 0;
	if (err != KEEL_OK)
		goto out;
	err = audit_store_cutoff(db, a, o->keep_ms, &cutoff);
	if (err == KEEL_OK)
		err = audit_store_prunable(db, a, cutoff, &parts, &n);
	for (int i = 0; i < n && err == KEEL_OK; i++) {
		bool gone = false;

		if (o->dry_run) {
			report(o, "would drop %s [%s, %s) %s", parts[i].name, parts[i].from, parts[i].to,
			       parts[i].size);
			(*dropped)++;
			continue;
		}
		if (cancelled(o)) {
			err = KEEL_ECONFLICT;
			break;
		}
		err = audit_store_drop_partition(db, a, parts[i].name, cutoff, &gone);
		if (err == KEEL_OK && gone) {
			report(o, "dropped %s [%s, %s) %s", parts[i].name, parts[i].from, parts[i].to,
			       parts[i].size);
			(*dropped)++;
		}
	}
	if (err == KEEL_OK)
		report(o, "%d partition%s %s (entirely before %s)", *dropped, *dropped == 1 ? "" : "s",
		       o->dry_run ? "would be dropped" : "dropped", cutoff);
	keel_db_unlock(db, LOCK_NAME);
out:
	keel_arena_destroy(a);
	return err;
}

/* ---- serve's thread ---- */

struct keel_audit_maintainer {
	keel_periodic *thread;
	keel_db_opts opts;
	char *conninfo;
	int months_ahead;
};

/* One run on a fresh connection; true when it worked (or another process was doing it). */
static bool
maintainer_run(void *arg, keel_periodic *p)
{
	keel_audit_maintainer *m = arg;
	keel_audit_opts o = {
	    .months_ahead = m->months_ahead, .cancelled = keel_periodic_stopping, .cancel_ctx = p};
	keel_db *db;
	char why[512];
	int created;

	if (keel_db_open(&m->opts, &db, why, sizeof(why)) != KEEL_OK) {
		keel_log_warn("audit: partition upkeep: %s; trying again in %lld minutes", why,
		              KEEL_AUDIT_MAINTAIN_RETRY_MS / 60000);
		return false;
	}
	keel_err err = keel_audit_maintain(db, &o, &created);

	keel_db_close(db);
	if (err == KEEL_ECONFLICT) {
		keel_log_debug("audit: partition upkeep skipped: another run holds the lock");
		return true;
	}
	if (err != KEEL_OK)
		keel_log_warn("audit: partition upkeep failed (%s); trying again in %lld minutes",
		              keel_err_name(err), KEEL_AUDIT_MAINTAIN_RETRY_MS / 60000);
	return err == KEEL_OK;
}

keel_audit_maintainer *
keel_audit_maintainer_start(const keel_db_opts *owner, int months_ahead)
{
	keel_audit_maintainer *m = keel_xcalloc(1, sizeof(*m));

	m->opts = *owner;
	m->conninfo = owner->conninfo ? keel_xstrdup(owner->conninfo) : NULL;
	m->opts.conninfo = m->conninfo;
	m->months_ahead = months_ahead;
	m->thread = keel_periodic_start("audit: partition upkeep", maintainer_run, m,
	                                KEEL_AUDIT_MAINTAIN_EVERY_MS, KEEL_AUDIT_MAINTAIN_RETRY_MS);
	if (m->thread == NULL) {
		free(m->conninfo);
		free(m);
		return NULL;
	}
	return m;
}

void
keel_audit_maintainer_stop(keel_audit_maintainer *m)
{
	if (m == NULL)
		return;
	keel_periodic_stop(m->thread);
	free(m->conninfo);
	free(m);
}
