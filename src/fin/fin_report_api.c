/*
 * Finance: report routes (viewer and up).
 *
 *   GET /api/v1/organizations/{id}/trial-balance?from=&to=[&division_id=]
 *   GET /api/v1/accounts/{id}/ledger?[from=][&to=][&limit=][&cursor=]
 *
 * Both read the posted lines (fin.postings) and nothing else: drafts never count, reversals
 * do (they are posted entries).  Bad query values are 400, as ?limit= is (a missing or
 * malformed date, from after to, a division_id that is no UUID); a well-formed division_id
 * that is not one of the organization's divisions is 422.
 *
 * The trial balance lists, in code order (bytewise), the accounts with an opening balance or
 * a movement in the range, and every group above one of them with its descendants rolled up;
 * accounts without either are left out, as accountants' tools do by default.  Totals are of
 * the leaf accounts only.
 *
 * The account ledger is a leaf account's: a group has no postings of its own (422; its
 * children's sum is its trial balance row).  An item's memo is its line's, or the entry's
 * when the line has none.  Without from it starts at the first posting (opening 0), without
 * to it runs to the last.  Pages are keyset-paged in (date, journal, sequence, line_no)
 * order, which is date and number order.  The cursor (kind 0x4c of the generic codec,
 * svc/page.c) carries the position of a page's last posting AND the running balance there
 * and the report's opening, 31 bytes big-endian: date (4, days since 1970-01-01), journal (1,
 * fin_report_journal_code), sequence (8), line_no (2), balance (8), opening (8).  So a later
 * page neither sums the postings before it nor recomputes the opening: every page costs the
 * same.  A tampered cursor misleads only its bearer, who may read the same account anyway
 * (every page is read under the caller's tenant).
 *
 * With Accept: text/csv both answer the same page as CSV records (fin_csv.h): the trial
 * balance's accounts, the ledger's postings with the next cursor in Keel-Next-Cursor.
 */
#include "fin/fin_int.h"
#include "access/access.h"
#include "fin/fin_csv.h"
#include "core/date.h"
#include "core/money.h"
#include "core/uuid.h"

#include <string.h>

#define CURSOR_KIND  0x4c
#define CURSOR_BYTES 31

/* The journals in their sort order (as PostgreSQL sorts the text; the entry numbers too). */
static const char *const journals[] = {"",        "adjustment", "cash", "general",
                                       "payroll", "purchases",  "sales"};

int
fin_report_journal_code(const char *journal)
{
	for (int i = 1; i < (int)KEEL_NELEM(journals); i++)
		if (strcmp(journal, journals[i]) == 0)
			return i;
	return 0;
}

const char *
fin_report_journal_name(int code)
{
	return code >= 0 && code < (int)KEEL_NELEM(journals) ? journals[code] : NULL;
}

/* ---- query values ---- */

/* ?name= as a date: *text NULL when absent (400 when required); 400 when malformed. */
static keel_err
query_date(keel_req *req, const char *name, bool required, const char **text, int32_t *days)
{
	const char *t = keel_req_query(req, name);

	*text = NULL;
	if (t == NULL && !required)
		return KEEL_OK;
	if (t == NULL)
		return keel_req_fail(req, KEEL_EMALFORMED, name, "%s is required: a date YYYY-MM-DD", name);
	if (!keel_date_parse(t, days))
		return keel_req_fail(req, KEEL_EMALFORMED, name, "%s must be a date YYYY-MM-DD", name);
	*text = t;
	return KEEL_OK;
}

/* ?from= and ?to=, from not after to. */
static keel_err
query_range(keel_req *req, bool required, const char **from, const char **to)
{
	int32_t f = 0, t = 0;

	if (query_date(req, "from", required, from, &f) != KEEL_OK ||
	    query_date(req, "to", required, to, &t) != KEEL_OK)
		return KEEL_EMALFORMED;
	if (*from != NULL && *to != NULL && f > t)
		return keel_req_fail(req, KEEL_EMALFORMED, "from", "from must not be after to");
	return KEEL_OK;
}

/* ---- the trial balance ---- */

/* Its CSV: one record per account (the totals are the sum of the leaf accounts' records). */
static const fin_csv_col trial_balance_csv[] = {{"account_id", false}, {"code", true},
                                                {"name", true},        {"type", false},
                                                {"is_group", false},   {"opening", false},
                                                {"debit", false},      {"credit", false},
                                                {"closing", false},    {0}};

static keel_err
trial_balance(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *org = fin_path_id(req, "id");
	const char *from, *to, *division = keel_req_query(req, "division_id"), *json = NULL;
	fin_ledger ledger;
	keel_tx *tx;
	keel_err err;
	bool csv = fin_csv_wanted(req);

	if (org == NULL)
		return fin_not_found(req, "organization");
	if ((err = query_range(req, true, &from, &to)) != KEEL_OK)
		return err;
	if (division != NULL && !keel_uuid_valid(division))
		return keel_req_fail(req, KEEL_EMALFORMED, "division_id", "division_id must be a UUID");
	if ((err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK ||
	    (err = fin_ledger_require(req, tx, org, &ledger)) != KEEL_OK)
		return err;
	err =
	    fin_report_store_trial_balance(tx, keel_req_arena(req), &ledger, from, to, division, &json);
	if (err == KEEL_EINVAL)
		return keel_req_fail(req, err, "division_id", "is not a division of the organization");
	if (csv)
		return fin_csv_finish(req, tx, err, NULL, json, "accounts", NULL, trial_balance_csv, NULL);
	return keel_svc_finish(req, tx, err, NULL, (keel_svc_reply){.status = 200, .text = json});
}

/* ---- the account ledger ---- */

/* Its CSV: one record per posting (the opening is the first balance less its movement). */
static const fin_csv_col ledger_csv[] = {
    {"entry_id", false}, {"number", false}, {"date", false},    {"memo", true},
    {"debit", false},    {"credit", false}, {"balance", false}, {0}};

static void
put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}

static uint64_t
get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* The cursor after pos, with the report's opening. */
static const char *
cursor_encode(keel_req *req, const fin_report_pos *pos, int64_t opening)
{
	unsigned char b[CURSOR_BYTES];

	put_be(b, (uint32_t)pos->date, 4);
	b[4] = (unsigned char)pos->journal;
	put_be(b + 5, (uint64_t)pos->sequence, 8);
	put_be(b + 13, (uint16_t)pos->line_no, 2);
	put_be(b + 15, (uint64_t)pos->balance, 8);
	put_be(b + 23, (uint64_t)opening, 8);
	return keel_svc_cursor_encode(req, CURSOR_KIND, b, sizeof(b));
}

/* ?cursor= into rg->after and *opening (*found: there was one); 400 when it is not ours. */
static keel_err
cursor_decode(keel_req *req, fin_report_range *rg, int64_t *opening, bool *found)
{
	unsigned char b[CURSOR_BYTES];
	fin_report_pos *pos = &rg->after;

	if (keel_svc_cursor_decode(req, CURSOR_KIND, b, sizeof(b), found) != KEEL_OK)
		return KEEL_EMALFORMED;
	if (!*found)
		return KEEL_OK;
	pos->date = (int32_t)(uint32_t)get_be(b, 4);
	pos->journal = b[4];
	pos->sequence = (int64_t)get_be(b + 5, 8);
	pos->line_no = (int)get_be(b + 13, 2);
	pos->balance = (int64_t)get_be(b + 15, 8);
	*opening = (int64_t)get_be(b + 23, 8);
	char *date = keel_arena_alloc(keel_req_arena(req), KEEL_DATE_STRLEN + 1);

	if (keel_date_format(pos->date, date, KEEL_DATE_STRLEN + 1) != KEEL_DATE_STRLEN ||
	    pos->journal < 1 || fin_report_journal_name(pos->journal) == NULL || pos->sequence < 1)
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "cursor is invalid");
	rg->after_date = date;
	rg->after_journal = fin_report_journal_name(pos->journal);
	return KEEL_OK;
}

/* The query of a ledger page: range, page size, the cursor's position and opening. */
static keel_err
ledger_query(keel_req *req, fin_report_range *rg, int64_t *opening, bool *resumed)
{
	memset(rg, 0, sizeof(*rg));
	*opening = 0;
	if (keel_svc_page_limit(req, &rg->limit) != KEEL_OK ||
	    query_range(req, false, &rg->from, &rg->to) != KEEL_OK ||
	    cursor_decode(req, rg, opening, resumed) != KEEL_OK)
		return KEEL_EMALFORMED;
	if (rg->to == NULL)
		rg->to = "infinity";
	if (!*resumed) {
		/* the first page starts before the range's first posting */
		rg->after_date = rg->from != NULL ? rg->from : "-infinity";
		rg->after_journal = "";
	}
	return KEEL_OK;
}

/* {"opening":"...","data":[ : the page's list (in a) begun with the opening before its items. */
static void
page_begin(keel_arena *a, fin_report_page *pg, int64_t opening, int units)
{
	char text[KEEL_MONEY_STRLEN + 1];

	memset(pg, 0, sizeof(*pg));
	keel_money_format(opening, units, text, sizeof(text));
	keel_buf_init(&pg->list.out, a);
	keel_buf_printf(&pg->list.out, "{\"opening\":\"%s\",\"data\":[", text);
}

/* A ledger streamed whole as CSV: the account, and the range from after the last page. */
typedef struct ledger_stream {
	keel_fin *fin;
	fin_report_account acct;
	fin_report_range rg;
	char after_date[KEEL_DATE_STRLEN + 1];
} ledger_stream;

/* Go on after the page pg; false when it was the last (not full). */
static bool
ledger_advance(ledger_stream *st, const fin_report_page *pg)
{
	if (pg->list.count < st->rg.limit)
		return false;
	st->rg.after = pg->last;
	keel_date_format(pg->last.date, st->after_date, sizeof(st->after_date));
	st->rg.after_date = st->after_date;
	st->rg.after_journal = fin_report_journal_name(pg->last.journal);
	return true;
}

/* The next page of a streamed ledger, as CSV records, in a transaction of its own. */
static keel_err
ledger_next(keel_req *req, void *arg, keel_arena *a, keel_buf *out, bool *done)
{
	ledger_stream *st = arg;
	fin_report_page pg;
	keel_tx *tx;
	keel_err err;

	if ((err = keel_svc_tx_chunk(req, st->fin->pool, a, &tx)) != KEEL_OK)
		return err;
	page_begin(a, &pg, 0, st->acct.minor_units);
	if ((err = fin_report_store_ledger(tx, &st->acct, &st->rg, &pg)) != KEEL_OK)
		return err;
	if (!fin_csv_write(out, keel_svc_list_end(&pg.list, NULL), "data", NULL, ledger_csv, false))
		return KEEL_EINTERNAL;
	*done = !ledger_advance(st, &pg);
	return KEEL_OK;
}

static keel_err
account_ledger(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *id = fin_path_id(req, "id");
	fin_report_range rg;
	fin_report_account acct;
	fin_report_page pg;
	int64_t opening;
	bool resumed;
	keel_tx *tx;
	keel_err err;
	bool csv = fin_csv_wanted(req);

	if (id == NULL)
		return fin_not_found(req, "account");
	if ((err = ledger_query(req, &rg, &opening, &resumed)) != KEEL_OK ||
	    (err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK)
		return err;
	err = fin_report_store_account(tx, keel_req_arena(req), id, &acct);
	if (err == KEEL_OK && acct.is_group)
		return keel_req_fail(req, KEEL_EINVAL, NULL,
		                     "a group account has no postings: read its children's ledgers, or "
		                     "its roll-up in the trial balance");
	if (err == KEEL_OK && !resumed && rg.from != NULL)
		err = fin_report_store_opening(tx, &acct, rg.from, &opening);
	if (err != KEEL_OK)
		return keel_svc_finish(req, tx, err, "account", (keel_svc_reply){0});
	if (!resumed)
		rg.after.balance = opening;
	if (csv && fin_csv_whole(req)) {
		ledger_stream *st = keel_arena_alloc(keel_req_arena(req), sizeof(*st));

		*st = (ledger_stream){.fin = fin, .acct = acct, .rg = rg};
		st->rg.limit = FIN_CSV_PAGE;
		page_begin(keel_req_arena(req), &pg, opening, acct.minor_units);
		err = fin_report_store_ledger(tx, &acct, &st->rg, &pg);
		return fin_csv_stream(req, tx, err, NULL, keel_svc_list_end(&pg.list, NULL), "data", NULL,
		                      ledger_csv, err == KEEL_OK && ledger_advance(st, &pg), ledger_next,
		                      st);
	}
	page_begin(keel_req_arena(req), &pg, opening, acct.minor_units);
	err = fin_report_store_ledger(tx, &acct, &rg, &pg);
	const char *next = pg.list.count == rg.limit ? cursor_encode(req, &pg.last, opening) : NULL;

	if (csv)
		return fin_csv_finish(req, tx, err, NULL, keel_svc_list_end(&pg.list, next), "data", NULL,
		                      ledger_csv, next);
	return keel_svc_finish(
	    req, tx, err, NULL,
	    (keel_svc_reply){.status = 200, .text = keel_svc_list_end(&pg.list, next)});
}

/* ---- routes ---- */

static const keel_schema trial_balance_schema = {
    .name = "TrialBalance",
    .json = "{\"type\":\"object\",\"required\":[\"currency\",\"from\",\"to\",\"accounts\","
            "\"totals\"],\"properties\":{\"currency\":{\"type\":\"string\"},\"from\":" FIN_DATE
            ",\"to\":" FIN_DATE ",\"accounts\":{\"type\":\"array\",\"items\":{\"type\":"
            "\"object\",\"required\":[\"account_id\",\"code\",\"name\",\"type\",\"is_group\","
            "\"opening\",\"debit\",\"credit\",\"closing\"],\"properties\":{\"account_id\":" FIN_UUID
            ",\"code\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"},\"type\":{\"type\":"
            "\"string\",\"enum\":[\"asset\",\"liability\",\"equity\",\"income\",\"expense\"]},"
            "\"is_group\":{\"type\":\"boolean\"},\"opening\":" FIN_AMOUNT ",\"debit\":" FIN_AMOUNT
            ",\"credit\":" FIN_AMOUNT ",\"closing\":" FIN_AMOUNT "}}},\"totals\":{\"type\":"
            "\"object\",\"required\":[\"opening\",\"debit\",\"credit\",\"closing\"],\"properties\":"
            "{\"opening\":" FIN_AMOUNT ",\"debit\":" FIN_AMOUNT ",\"credit\":" FIN_AMOUNT
            ",\"closing\":" FIN_AMOUNT "}}}}"};

static const keel_schema account_ledger_schema = {
    .name = "AccountLedger",
    .json = "{\"type\":\"object\",\"required\":[\"opening\",\"data\",\"next_cursor\"],"
            "\"properties\":{\"opening\":" FIN_AMOUNT ",\"data\":{\"type\":\"array\",\"items\":{"
            "\"type\":\"object\",\"required\":[\"entry_id\",\"number\",\"date\",\"memo\","
            "\"debit\",\"credit\",\"balance\"],\"properties\":{\"entry_id\":" FIN_UUID
            ",\"number\":{\"type\":\"string\"},\"date\":" FIN_DATE
            ",\"memo\":{\"type\":\"string\"},\"debit\":" FIN_AMOUNT ",\"credit\":" FIN_AMOUNT
            ",\"balance\":" FIN_AMOUNT "}}},\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}"};

static const keel_param trial_balance_params[] = {
    FIN_ORG_PARAM,
    {"from", "query", FIN_DATE, "First day (required); opening is the balance before it"},
    {"to", "query", FIN_DATE, "Last day (required), not before from"},
    {"division_id", "query", FIN_UUID, "Only the postings of this division of the organization"},
    {0}};

static const keel_param ledger_params[] = {
    {"id", "path", FIN_UUID, "The account's id (a leaf account)"},
    {"from", "query", FIN_DATE, "First day; opening is the balance before it (default: all)"},
    {"to", "query", FIN_DATE, "Last day (default: all)"},
    KEEL_SVC_PAGE_PARAMS,
    {0}};

static const keel_route routes[] = {
    {.method = "GET",
     .path = "/api/v1/organizations/{id}/trial-balance",
     .handler = trial_balance,
     .flags = KEEL_ROUTE_CSV,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "The trial balance: opening, debit, credit and closing per account, groups "
                "rolled up (?from=, ?to=, ?division_id=)",
     .operation_id = "getTrialBalance",
     .reply = {200, KEEL_SHAPE_ONE, &trial_balance_schema},
     .params = trial_balance_params,
     .problems = {409, 422}},
    {.method = "GET",
     .path = "/api/v1/accounts/{id}/ledger",
     .handler = account_ledger,
     .flags = KEEL_ROUTE_CSV,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "An account's postings in date and number order with the running balance "
                "(?from=, ?to=, pagination)",
     .operation_id = "getAccountLedger",
     .reply = {200, KEEL_SHAPE_ONE, &account_ledger_schema},
     .params = ledger_params,
     .problems = {422}},
};

void
fin_report_routes(keel_router *r, keel_fin *fin)
{
	keel_router_add_all(r, routes, KEEL_NELEM(routes), fin);
}
