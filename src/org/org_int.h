/*
 * Private to src/org: the store's interface.
 */
#ifndef KEEL_ORG_ORG_INT_H
#define KEEL_ORG_ORG_INT_H

#include <stdbool.h>

#include "core/str.h"
#include "org/org.h"
#include "svc/svc.h"

/* Writable fields of an organization or a division; NULL: not given. */
typedef struct org_input {
	const char *name;
	const char *code;
	const char *description;
	const char *status;    /* organizations */
	const char *settings;  /* organizations: JSON object text */
	bool parent_given;     /* divisions: parent_id present (maybe null) */
	const char *parent_id; /* divisions */
} org_input;

/* One row as the API's JSON text, rendered by PostgreSQL, compact (keel_res_json). */
typedef struct org_row {
	const char *id;
	long version;
	const char *json;
} org_row;

/* A page of rows: the list answer the store adds each row's JSON to, and the last row's id. */
typedef struct org_page {
	keel_svc_list list;
	const char *last_id;
} org_page;

keel_err org_store_create(keel_tx *tx, keel_arena *a, const char *id, const org_input *in,
                          org_row *row);
/* org_store_get, org_store_list and div_store_get run as their transaction's only statement. */
keel_err org_store_get(keel_tx *tx, keel_arena *a, const char *id, org_row *row);
keel_err org_store_list(keel_tx *tx, keel_arena *a, const char *status, const char *q,
                        const char *after, int limit, org_page *page);
/*
 * The statement org_store_list runs for these filters, and its parameters as it binds them
 * (after, limit, status, LIKE pattern; the pattern from a, the limit's text in the call
 * itself).  Also what the tests explain, so that they check the plan of the very statement.
 */
typedef struct org_list_call {
	const keel_stmt *st;
	const char *params[4];
	char limit[16];
} org_list_call;

void org_store_list_call(keel_arena *a, const char *status, const char *q, const char *after,
                         int limit, org_list_call *call);
keel_err org_store_update(keel_tx *tx, keel_arena *a, const char *id, const org_input *in,
                          const char *version, org_row *row);
keel_err org_store_delete(keel_tx *tx, const char *id, const char *version);
/* Whether the statement that failed in tx was refused by the books (a ledger, journal lines) or
 * by HR records (employees, holiday calendars, leave types, positions) that need the row. */
bool org_store_keeps_books(keel_tx *tx);
bool org_store_keeps_people(keel_tx *tx);

/* KEEL_OK when the organization exists in the caller's tenant, else KEEL_ENOTFOUND. */
keel_err org_store_exists(keel_tx *tx, const char *id);

/* The current version of a row (after a guarded write changed nothing); ENOTFOUND when absent. */
keel_err org_store_version(keel_tx *tx, bool division, const char *id, long *version);

keel_err div_store_create(keel_tx *tx, keel_arena *a, const char *id, const char *org_id,
                          const org_input *in, org_row *row);
keel_err div_store_get(keel_tx *tx, keel_arena *a, const char *id, org_row *row);
keel_err div_store_list(keel_tx *tx, keel_arena *a, const char *org_id, bool by_parent,
                        const char *parent_id, const char *after, int limit, org_page *page);
keel_err div_store_update(keel_tx *tx, keel_arena *a, const char *id, const org_input *in,
                          const char *version, org_row *row);
/* Delete one division (KEEL_ECONFLICT when it has children) or its whole subtree. */
keel_err div_store_delete(keel_tx *tx, const char *id, const char *version, bool cascade);

/* ---- org_api.c: shared by both APIs ---- */

#define CODE_PATTERN "^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$" /* org_code_valid's rule */
#define CODE_RULE    "must match " CODE_PATTERN

bool org_code_valid(const char *s);

/* The path parameter name when it is a UUID, else NULL (no row of any tenant). */
const char *org_path_id(keel_req *req, const char *name);

/* A list answer: begin it, fill it with the store, then reply with its next_cursor. */
org_page org_page_begin(keel_req *req);
keel_svc_reply org_page_reply(keel_req *req, org_page *pg, const keel_page *page);

/* The answer with a row: its JSON text, its ETag, Location when given, stored under idem_key. */
keel_svc_reply org_reply(int status, const org_row *row, const char *location,
                         const char *idem_key);

/* A guarded write changed no row: 412 when it exists at another version, else 404. */
keel_err org_explain_miss(keel_req *req, keel_tx *tx, bool division, const char *id,
                          const char *version);

/* org_api.c / div_api.c */
void org_api_routes(keel_router *r, keel_org *org);
void div_api_routes(keel_router *r, keel_org *org);

#endif
