/*
 * Connections and the connection pool.
 *
 * serve keeps one connection per worker thread: the pool holds as many
 * connections as there are workers, so a worker never waits for another.
 * Each slot connects lazily at first use and again after a failure, which is
 * how keel recovers by itself when PostgreSQL comes back: the request that
 * finds the connection broken gets 503, the next one reconnects.
 * Settings that hold for the whole session (statement_timeout,
 * application_name) are sent with the connection start-up packet.
 * keel_db_listen()/keel_db_wait() let the outbox relay sleep until
 * PostgreSQL notifies it (LISTEN/NOTIFY) instead of polling.
 */
#include "db/db_int.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct keel_db_pool {
	pthread_mutex_t lock;
	pthread_cond_t available;
	keel_db *slots;
	keel_db *free_list;
	int size;
	keel_db_opts opts;
	char *conninfo;
};

void
db_disconnect(keel_db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	db->nprepared = 0;
	db->broken = false;
}

keel_err
db_connect(keel_db *db, char *err, size_t errlen)
{
	const char *keys[8];
	const char *vals[8];
	char timeout[32], options[64];
	int n = 0;

	db_disconnect(db);
	if (db->opts.conninfo != NULL) {
		keys[n] = "dbname";
		vals[n++] = db->opts.conninfo;
	}
	if (db->opts.connect_timeout_ms > 0) {
		snprintf(timeout, sizeof(timeout), "%lld",
		         (long long)((db->opts.connect_timeout_ms + 999) / 1000));
		keys[n] = "connect_timeout";
		vals[n++] = timeout;
	}
	snprintf(options, sizeof(options), "-c statement_timeout=%lld",
	         (long long)db->opts.statement_timeout_ms);
	keys[n] = "options";
	vals[n++] = options;
	keys[n] = "application_name";
	vals[n++] = db->opts.application_name ? db->opts.application_name : "keel";
	keys[n] = NULL;
	vals[n] = NULL;

	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL)
		keel_oom(sizeof(PGconn *));
	if (PQstatus(db->conn) != CONNECTION_OK) {
		/* libpq's message names host and port, never the password. */
		snprintf(err, errlen, "could not connect to PostgreSQL: %s", PQerrorMessage(db->conn));
		size_t len = strlen(err);

		while (len > 0 && (err[len - 1] == '\n' || err[len - 1] == ' '))
			err[--len] = '\0';
		db_disconnect(db);
		return KEEL_EUNAVAIL;
	}
	return KEEL_OK;
}

keel_err
keel_db_open(const keel_db_opts *opts, keel_db **out, char *err, size_t errlen)
{
	keel_db *db = keel_xcalloc(1, sizeof(*db));

	db->opts = *opts;
	keel_err e = db_connect(db, err, errlen);

	if (e != KEEL_OK) {
		keel_db_close(db);
		*out = NULL;
		return e;
	}
	*out = db;
	return KEEL_OK;
}

void
keel_db_close(keel_db *db)
{
	if (db == NULL)
		return;
	db_disconnect(db);
	free(db->prepared);
	free(db);
}

bool
db_is_prepared(const keel_db *db, const keel_stmt *st)
{
	for (size_t i = 0; i < db->nprepared; i++)
		if (db->prepared[i] == st)
			return true;
	return false;
}

void
db_mark_prepared(keel_db *db, const keel_stmt *st)
{
	if (db->nprepared == db->capprepared) {
		db->capprepared = db->capprepared ? db->capprepared * 2 : 32;
		db->prepared = keel_xrealloc(db->prepared, db->capprepared * sizeof(*db->prepared));
	}
	db->prepared[db->nprepared++] = st;
}

keel_db_pool *
keel_db_pool_create(const keel_db_opts *opts, int size)
{
	keel_db_pool *p = keel_xcalloc(1, sizeof(*p));

	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->available, NULL);
	p->opts = *opts;
	p->conninfo = opts->conninfo ? keel_xstrdup(opts->conninfo) : NULL;
	p->opts.conninfo = p->conninfo;
	p->size = size;
	p->slots = keel_xcalloc((size_t)size, sizeof(keel_db));
	for (int i = size - 1; i >= 0; i--) {
		p->slots[i].opts = p->opts;
		p->slots[i].pool = p;
		p->slots[i].next_free = p->free_list;
		p->free_list = &p->slots[i];
	}
	return p;
}

void
keel_db_pool_destroy(keel_db_pool *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < p->size; i++) {
		db_disconnect(&p->slots[i]);
		free(p->slots[i].prepared);
	}
	free(p->slots);
	free(p->conninfo);
	pthread_cond_destroy(&p->available);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static keel_db *
pool_take(keel_db_pool *p)
{
	uint64_t wait_ms = p->opts.connect_timeout_ms > 0 ? (uint64_t)p->opts.connect_timeout_ms : 5000;
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(wait_ms / 1000);
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->lock);
	while (p->free_list == NULL) {
		if (pthread_cond_timedwait(&p->available, &p->lock, &until) != 0)
			break;
	}
	keel_db *db = p->free_list;

	if (db != NULL) {
		p->free_list = db->next_free;
		db->held = true;
		db->traced = false;
		db->generation++;
	}
	pthread_mutex_unlock(&p->lock);
	return db;
}

keel_err
keel_db_acquire(keel_db_pool *p, keel_db **out)
{
	keel_db *db = pool_take(p);

	*out = NULL;
	if (db == NULL) {
		keel_log_warn("db: no connection free within the connect timeout");
		return KEEL_EUNAVAIL;
	}
	if (db->conn == NULL || db->broken || PQstatus(db->conn) != CONNECTION_OK) {
		char err[512];

		if (db_connect(db, err, sizeof(err)) != KEEL_OK) {
			keel_log_warn("db: %s", err);
			keel_db_release(p, db);
			return KEEL_EUNAVAIL;
		}
	}
	*out = db;
	return KEEL_OK;
}

/* Put db back when it is still held under generation gen (any generation when all_gens). */
static void
release_gen(keel_db_pool *p, keel_db *db, unsigned gen, bool all_gens)
{
	/* A connection left inside a transaction must never serve another request. */
	bool dirty = false;

	pthread_mutex_lock(&p->lock);
	if (!db->held || (!all_gens && db->generation != gen)) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	pthread_mutex_unlock(&p->lock);
	if (db->conn != NULL && PQtransactionStatus(db->conn) != PQTRANS_IDLE)
		dirty = true;
	pthread_mutex_lock(&p->lock);
	if (dirty)
		db->broken = true;
	db->held = false;
	db->next_free = p->free_list;
	p->free_list = db;
	pthread_cond_signal(&p->available);
	pthread_mutex_unlock(&p->lock);
}

void
keel_db_release(keel_db_pool *p, keel_db *db)
{
	if (db != NULL)
		release_gen(p, db, 0, true);
}

typedef struct scoped {
	keel_db_pool *pool;
	keel_db *db;
	unsigned generation;
} scoped;

static void
scoped_release(void *arg)
{
	scoped *s = arg;

	/* Released early and perhaps taken by another request since: then not ours. */
	release_gen(s->pool, s->db, s->generation, false);
}

void
keel_db_release_scoped(keel_db *db)
{
	keel_db_release(db->pool, db);
}

keel_err
keel_db_acquire_scoped(keel_db_pool *pool, keel_arena *arena, keel_db **out)
{
	keel_err err = keel_db_acquire(pool, out);

	if (err != KEEL_OK)
		return err;
	scoped *s = keel_arena_alloc(arena, sizeof(*s));

	s->pool = pool;
	s->db = *out;
	pthread_mutex_lock(&pool->lock);
	s->generation = (*out)->generation;
	pthread_mutex_unlock(&pool->lock);
	keel_arena_defer(arena, scoped_release, s);
	return KEEL_OK;
}

void
keel_db_pool_stats_get(keel_db_pool *p, keel_db_pool_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < p->size; i++) {
		const keel_db *db = &p->slots[i];

		if (db->conn == NULL || db->broken)
			out->closed++;
		else if (db->held)
			out->busy++;
		else
			out->idle++;
	}
	pthread_mutex_unlock(&p->lock);
}

/* Consume the notifications libpq holds; true when there was any. */
static bool
notifies_drain(keel_db *db)
{
	bool any = false;

	for (PGnotify *n; (n = PQnotifies(db->conn)) != NULL;) {
		any = true;
		PQfreemem(n);
	}
	return any;
}

keel_err
keel_db_listen(keel_db *db, const char *channel)
{
	if (db->conn == NULL)
		return KEEL_EUNAVAIL;
	char *ident = PQescapeIdentifier(db->conn, channel, strlen(channel));

	if (ident == NULL)
		return db_result_err(db, NULL);
	char *sql = keel_xmalloc(strlen(ident) + sizeof("LISTEN "));

	strcpy(sql, "LISTEN ");
	strcat(sql, ident);
	PQfreemem(ident);
	PGresult *res = PQexec(db->conn, sql);
	keel_err err = PQresultStatus(res) == PGRES_COMMAND_OK ? KEEL_OK : db_result_err(db, res);

	if (err != KEEL_OK)
		keel_log_warn("db: %s failed: %s", sql, PQerrorMessage(db->conn));
	PQclear(res);
	free(sql);
	return err;
}

keel_err
keel_db_wait(keel_db *db, int wake_fd, int64_t timeout_ms, bool *notified)
{
	*notified = false;
	if (db->conn == NULL || PQconsumeInput(db->conn) != 1) {
		db->broken = true;
		return KEEL_EUNAVAIL;
	}
	if (notifies_drain(db)) {
		*notified = true;
		return KEEL_OK;
	}
	struct pollfd p[2] = {{.fd = PQsocket(db->conn), .events = POLLIN},
	                      {.fd = wake_fd, .events = POLLIN}};
	int ms = timeout_ms < 0 ? 0 : timeout_ms > INT_MAX ? INT_MAX : (int)timeout_ms;

	if (poll(p, wake_fd >= 0 ? 2 : 1, ms) < 0 && errno != EINTR)
		return KEEL_EINTERNAL;
	if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
		return KEEL_OK;
	if (PQconsumeInput(db->conn) != 1) {
		db->broken = true;
		return KEEL_EUNAVAIL;
	}
	*notified = notifies_drain(db);
	return KEEL_OK;
}
