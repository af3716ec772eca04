/*
 * Private to src/fin: what its parts share.
 *
 * The module is split by resource: fin_ledger_api.c (the ledger, currencies, accounts),
 * fin_period_api.c (fiscal years and periods), fin_entry_api.c (journal entries: drafts,
 * posting, reversal), fin_report_api.c (trial balance, account ledger), each with its store
 * (fin_*_store.c).  fin_api.c registers them all and holds what they share; fin_store.c the
 * ledger lookup every organization-scoped route starts with.
 */
#ifndef KEEL_FIN_FIN_INT_H
#define KEEL_FIN_FIN_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/str.h"
#include "fin/fin.h"
#include "svc/svc.h"

/* JSON Schema fragments for the modules' keel_schema and keel_param texts. */
#define FIN_UUID      KEEL_JS_UUID
#define FIN_UUID_NULL KEEL_JS_UUID_NULL
#define FIN_TS        KEEL_JS_TS
#define FIN_TS_NULL   KEEL_JS_TS_NULL
#define FIN_DATE      KEEL_JS_DATE
/* An amount: a decimal string with exactly the currency's minor digits ("12.30", "1200"). */
#define FIN_AMOUNT                                                                                 \
	"{\"type\":\"string\",\"pattern\":\"^-?(0|[1-9][0-9]*)(\\\\.[0-9]{1,4})?$\","                  \
	"\"description\":\"Decimal string with exactly the currency's minor-unit digits\"}"

/* A row as the API's JSON text, rendered by PostgreSQL (keel_res_json), with its id and version. */
typedef struct fin_row {
	const char *id;
	long version;
	const char *json;
} fin_row;

/* An organization's ledger as the routes need it. */
typedef struct fin_ledger {
	const char *organization_id;
	char currency[4];
	int minor_units; /* the currency's, 0..4 */
} fin_ledger;

/* The organization's id in a path, as every organization-scoped route declares it. */
#define FIN_ORG_PARAM                                                                              \
	{                                                                                              \
		"id", "path", FIN_UUID, "The organization's id"                                            \
	}

/* ---- fin_api.c ---- */

/* Field checks the parts share: a real YYYY-MM-DD date; an ISO 4217 code's form, ^[A-Z]{3}$. */
bool fin_date_valid(const char *s);
bool fin_currency_valid(const char *s);

/* The field-error texts of those checks. */
#define FIN_DATE_RULE     "must be a date, YYYY-MM-DD"
#define FIN_CURRENCY_RULE "must be an ISO 4217 code, ^[A-Z]{3}$"

/* A body member's string (NULL when absent or not a string). */
const char *fin_str(const json_t *body, const char *name);

/* Answer 404 "no such <what>"; returns KEEL_ENOTFOUND. */
keel_err fin_not_found(keel_req *req, const char *what);

/* The path parameter name when it is a UUID, else NULL (no row of any tenant: 404). */
const char *fin_path_id(keel_req *req, const char *name);

/*
 * Answer a failed fin statement.  The module's own errors (SQLSTATE KF404/KF409/KF422, raised
 * by migration 0012's functions and triggers) answer 404/409/422 with their message, and for
 * 422 the field their COLUMN names; what (e.g. "journal entry") words the 404.  Anything else
 * answers as keel_svc_fail().  Returns err.
 */
keel_err fin_fail(keel_req *req, keel_tx *tx, keel_err err, const char *what);

/*
 * The organization's ledger, read in tx: answers 404 when the organization is not the
 * tenant's, 409 when it has no ledger yet (every Finance route but the ledger's own create).
 */
keel_err fin_ledger_require(keel_req *req, keel_tx *tx, const char *org_id, fin_ledger *out);

/* The answer with a row: its JSON text, its ETag, Location when given, stored under idem_key. */
keel_svc_reply fin_reply(int status, const fin_row *row, const char *location,
                         const char *idem_key);

/* ---- fin_store.c ---- */

/*
 * The ledger of org_id: KEEL_OK with *out, KEEL_ENOTFOUND when the organization is not the
 * tenant's, KEEL_ECONFLICT when it has no ledger.
 */
keel_err fin_store_ledger(keel_tx *tx, keel_arena *a, const char *org_id, fin_ledger *out);

/* A row of a statement whose columns are id, version, json (fin_row). */
void fin_store_row(keel_res *res, int i, keel_arena *a, fin_row *row);

/* ---- fin_ledger_store.c: the ledger, the currencies, the chart of accounts ---- */

/* The ledger's account ids, in the order of the ledger's JSON (rounding_account_id first). */
#define FIN_LEDGER_ACCOUNTS 4

/* A ledger PATCH: given[i] when the body names account field i (account[i] NULL: unset it). */
typedef struct fin_ledger_input {
	bool given[FIN_LEDGER_ACCOUNTS];
	const char *account[FIN_LEDGER_ACCOUNTS];
} fin_ledger_input;

/* An account's fields as a body gives them; NULL: not given.  Booleans as "true"/"false". */
typedef struct fin_account_input {
	const char *code, *name, *type, *parent_id, *currency, *status;
	const char *is_group, *requires_division, *revalue;
} fin_account_input;

/* A list of accounts: after_code the cursor's code; parent 0 any, 1 parent_id's, 2 top level. */
typedef struct fin_account_filter {
	const char *type, *parent_id, *after_code;
	int parent;
} fin_account_filter;

typedef struct fin_account_page {
	keel_svc_list list;
	const char *last_code;
} fin_account_page;

keel_err fin_store_ledger_create(keel_tx *tx, keel_arena *a, const char *org_id,
                                 const char *currency, fin_row *row);
/* KEEL_ENOTFOUND: no such organization; KEEL_ECONFLICT: it has no ledger.  The only statement. */
keel_err fin_store_ledger_get(keel_tx *tx, keel_arena *a, const char *org_id, fin_row *row);
/* KEEL_ENOTFOUND when no ledger of org_id is at version (NULL: any). */
keel_err fin_store_ledger_update(keel_tx *tx, keel_arena *a, const char *org_id,
                                 const fin_ledger_input *in, const char *version, fin_row *row);
/* Every currency, in code order, into list.  The only statement. */
keel_err fin_store_currencies(keel_tx *tx, keel_svc_list *list);
keel_err fin_store_account_create(keel_tx *tx, keel_arena *a, const char *id, const char *org_id,
                                  const fin_account_input *in, fin_row *row);
/* The only statement of its transaction. */
keel_err fin_store_account_get(keel_tx *tx, keel_arena *a, const char *id, fin_row *row);
keel_err fin_store_account_list(keel_tx *tx, keel_arena *a, const char *org_id,
                                const fin_account_filter *f, int limit, fin_account_page *page);
/*
 * The statement fin_store_account_list runs for f's filters (also what the tests explain): $1
 * the cursor's code ('' for the first page), $2 the limit, $3 the organization, $4 the type,
 * $5 the parent.
 */
const keel_stmt *fin_store_account_list_stmt(const fin_account_filter *f);
/* Name, status, requires_division, revalue; KEEL_ENOTFOUND when no account is at version. */
keel_err fin_store_account_update(keel_tx *tx, keel_arena *a, const char *id,
                                  const fin_account_input *in, const char *version, fin_row *row);
keel_err fin_store_account_delete(keel_tx *tx, keel_arena *a, const char *id, const char *version);
/* The account's current version; KEEL_ENOTFOUND when it is not the tenant's. */
keel_err fin_store_account_version(keel_tx *tx, const char *id, long *version);

/* ---- fin_report_store.c ---- */

/* An account as its ledger report needs it. */
typedef struct fin_report_account {
	const char *id;
	const char *organization_id;
	bool is_group;
	int minor_units; /* the ledger currency's */
} fin_report_account;

/* A place in an account's ledger: after a posting, with the balance there. */
typedef struct fin_report_pos {
	int32_t date;     /* days since 1970-01-01 */
	int journal;      /* fin_report_journal_code() */
	int64_t sequence; /* the entry's number in its journal and fiscal year */
	int line_no;
	int64_t balance; /* after this posting, minor units */
} fin_report_pos;

/* A page to read: from and to (YYYY-MM-DD or PostgreSQL's -infinity/infinity), after a place. */
typedef struct fin_report_range {
	const char *from, *to;
	fin_report_pos after;
	const char *after_date, *after_journal; /* after's date and journal as text */
	int limit;
} fin_report_range;

/* A page read: its items, and the place of its last one. */
typedef struct fin_report_page {
	keel_svc_list list;
	fin_report_pos last;
} fin_report_page;

/* The statements, for tests that check their plans. */
extern const keel_stmt fin_report_trial_balance_stmt;
extern const keel_stmt fin_report_opening_stmt;
extern const keel_stmt fin_report_ledger_stmt;

/* A journal's code in the cursor (1.. in the journals' sort order; 0 for none), and back. */
int fin_report_journal_code(const char *journal);
const char *fin_report_journal_name(int code);

/*
 * The trial balance of the ledger's organization from..to (YYYY-MM-DD), of one division's
 * postings when division_id is not NULL: its JSON text.  KEEL_EINVAL when the division is not
 * the organization's.
 */
keel_err fin_report_store_trial_balance(keel_tx *tx, keel_arena *a, const fin_ledger *ledger,
                                        const char *from, const char *to, const char *division_id,
                                        const char **json);

/* The account id: KEEL_ENOTFOUND when it is not the tenant's. */
keel_err fin_report_store_account(keel_tx *tx, keel_arena *a, const char *id,
                                  fin_report_account *out);

/* The account's balance before from (YYYY-MM-DD). */
keel_err fin_report_store_opening(keel_tx *tx, const fin_report_account *acct, const char *from,
                                  int64_t *out);

/* A page of the account's ledger into pg (whose list is begun). */
keel_err fin_report_store_ledger(keel_tx *tx, const fin_report_account *acct,
                                 const fin_report_range *rg, fin_report_page *pg);

/* ---- fin_statement_store.c ---- */

/* The statements, for tests that check their plans. */
extern const keel_stmt fin_statement_balance_sheet_stmt;
extern const keel_stmt fin_statement_income_stmt;

/* The balance sheet of the ledger's organization at as_of (YYYY-MM-DD): its JSON text. */
keel_err fin_statement_store_balance_sheet(keel_tx *tx, keel_arena *a, const fin_ledger *ledger,
                                           const char *as_of, const char **json);

/* The income statement of the ledger's organization from..to: its JSON text. */
keel_err fin_statement_store_income(keel_tx *tx, keel_arena *a, const fin_ledger *ledger,
                                    const char *from, const char *to, const char **json);

/* ---- fin_period_store.c ---- */

/* A fiscal year to create: its fields as given (dates YYYY-MM-DD, checked). */
typedef struct fin_year_input {
	const char *name, *start_date, *end_date, *period;
} fin_year_input;

/* A page of a list in start_date order: the answer being built and the last row's start_date. */
typedef struct fin_date_page {
	keel_svc_list list;
	const char *last_start;
} fin_date_page;

typedef enum fin_period_action {
	FIN_PERIOD_CLOSE,
	FIN_PERIOD_REOPEN,
	FIN_PERIOD_LOCK,
} fin_period_action;

/* Create the year and its periods (fin.create_fiscal_year), read it back, enqueue its event. */
keel_err fin_year_store_create(keel_tx *tx, keel_arena *a, const char *id, const char *org_id,
                               const fin_year_input *in, fin_row *row);
/* A year with its periods, as its transaction's only statement. */
keel_err fin_year_store_get(keel_tx *tx, keel_arena *a, const char *id, fin_row *row);
/* Years and periods of org_id starting after the date after (NULL: from the first). */
keel_err fin_year_store_list(keel_tx *tx, keel_arena *a, const char *org_id, const char *after,
                             int limit, fin_date_page *page);
keel_err fin_period_store_list(keel_tx *tx, keel_arena *a, const char *org_id, const char *after,
                               int limit, fin_date_page *page);
/*
 * Close, reopen (with reason) or lock period id and enqueue its event.  KEEL_ENOTFOUND when
 * no period in the state the action starts from has that id (fin_period_store_status tells).
 */
keel_err fin_period_store_act(keel_tx *tx, keel_arena *a, fin_period_action action, const char *id,
                              const char *reason, fin_row *row);
/* The period's status; KEEL_ENOTFOUND when the tenant has no such period. */
keel_err fin_period_store_status(keel_tx *tx, keel_arena *a, const char *id, const char **status);
/*
 * Close fiscal year id (fin.close_fiscal_year, migration 0014): its closing entries posted
 * (each with keel.journal_entry.posted), the year read back into row with
 * keel.fiscal_year.closed.  The function's KF404/KF409 are for fin_fail.
 */
keel_err fin_year_store_close(keel_tx *tx, keel_arena *a, const char *id, fin_row *row);

/* ---- the parts' routes ---- */

void fin_ledger_routes(keel_router *r, keel_fin *fin);
void fin_period_routes(keel_router *r, keel_fin *fin);
void fin_entry_routes(keel_router *r, keel_fin *fin);
void fin_report_routes(keel_router *r, keel_fin *fin);
void fin_fx_routes(keel_router *r, keel_fin *fin);
void fin_statement_routes(keel_router *r, keel_fin *fin);
void fin_ic_routes(keel_router *r, keel_fin *fin);
void fin_reval_routes(keel_router *r, keel_fin *fin);

#endif
