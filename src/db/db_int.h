/*
 * Private to src/db: the connection structure shared by db.c, tx.c and
 * migrate.c.
 */
#ifndef KEEL_DB_DB_INT_H
#define KEEL_DB_DB_INT_H

#include "db/db.h"

#include <libpq-fe.h>

struct keel_db {
	PGconn *conn;
	bool broken;                /* reconnect at next acquire */
	bool late;                  /* the last round trip had no answer in time */
	const keel_stmt **prepared; /* statements prepared on this connection */
	size_t nprepared, capprepared;
	keel_db_opts opts;         /* strings borrowed from the pool or caller */
	struct keel_db *next_free; /* pool free list */
	struct keel_db_pool *pool; /* owner, for connections of a pool */
	unsigned generation;       /* bumped at each acquire, under the pool lock */
	bool held;                 /* acquired and not yet released */
	bool traced;               /* the transaction running has a trace: */
	keel_trace_ref trace;      /* its round trips are child spans of this */
};

/* (Re)connect db; KEEL_EUNAVAIL with a reason in err when it fails. */
keel_err db_connect(keel_db *db, char *err, size_t errlen);

/* Forget everything about the connection (after a failure or before reconnect). */
void db_disconnect(keel_db *db);

bool db_is_prepared(const keel_db *db, const keel_stmt *st);
void db_mark_prepared(keel_db *db, const keel_stmt *st);

/* Map a failed result to a keel_err; marks db broken when the connection is gone. */
keel_err db_result_err(keel_db *db, const PGresult *res);

/* Release a PGresult with the arena. */
void db_defer_clear(keel_arena *arena, PGresult *res);

#endif
