/*
 * Finance: intercompany entries.  One request books a pair of general entries, one in each
 * organization's ledger: the sender debits its intercompany receivable and credits the account
 * given; the receiver debits the account given and credits its intercompany payable.  Each
 * line is in the body's currency, converted into each ledger's own functional currency at the
 * rate in force on the date (migration 0013, as any foreign line), and both entries are posted
 * by fin.post_entry in the request's one transaction: both or neither.
 *
 * Every refusal of one side is a 422 whose field names that side: from_account_id or
 * to_account_id for the account given, from_organization_id or to_organization_id for the
 * rest of that side (its ledger, intercompany account, rates, periods), the message saying
 * which entry it was.  The entries are posted in the order of their organizations' ids, so two
 * intercompany entries between the same organizations, either way round, take the journals'
 * counters in one order and never deadlock.  The link (migration 0017) is the last write.
 */
#include "fin/fin_entry.h"
#include "fin/fin_ic.h"
#include "access/access.h"
#include "core/money.h"
#include "core/uuid.h"
#include "events/events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INVALID "the intercompany entry is invalid"

static const keel_field_spec create_spec[] = {
    {.name = "from_organization_id",
     .type = KEEL_F_UUID,
     .required = true,
     .description = "The sending organization: debits its intercompany receivable"},
    {.name = "to_organization_id",
     .type = KEEL_F_UUID,
     .required = true,
     .description = "The receiving organization (another one): credits its intercompany payable"},
    {.name = "date",
     .type = KEEL_F_STRING,
     .required = true,
     .check = fin_date_valid,
     .check_msg = FIN_DATE_RULE,
     .format = "date",
     .description = "Both entries' date, in an open period of each ledger"},
    {.name = "memo", .type = KEEL_F_STRING, .max = 1000},
    {.name = "amount",
     .type = KEEL_F_STRING,
     .required = true,
     .description = "A positive decimal string with exactly the currency's minor digits"},
    {.name = "currency",
     .type = KEEL_F_STRING,
     .required = true,
     .check = fin_currency_valid,
     .check_msg = FIN_CURRENCY_RULE,
     .pattern = "^[A-Z]{3}$",
     .description = "The lines' currency; each ledger converts it at the rate in force"},
    {.name = "from_account_id",
     .type = KEEL_F_UUID,
     .required = true,
     .description = "The sender's account credited"},
    {.name = "to_account_id",
     .type = KEEL_F_UUID,
     .required = true,
     .description = "The receiver's account debited"},
};

/* One side of the pair: its body fields, its ledger, and the entry made for it. */
typedef struct ic_side {
	const char *who;           /* "sender", "receiver" */
	const char *org_field;     /* "from_organization_id" */
	const char *account_field; /* "from_account_id" */
	int account_line;          /* the line on the account given (the other: intercompany) */
	const char *org_id, *account_id;
	fin_ic_ledger lg;
	fin_line_in lines[2];
	fin_entry_in in;
	const char *entry_id;
	fin_row row; /* the posted entry as it reads */
} ic_side;

static const char *
new_id(keel_req *req)
{
	keel_uuid u;
	char *text = keel_arena_alloc(keel_req_arena(req), KEEL_UUID_STRLEN + 1);

	keel_uuid_v7(&u);
	keel_uuid_format(&u, text);
	return text;
}

/* The body, checked against create_spec and the two organizations told apart: 400 or 422. */
static keel_err
body_of(keel_req *req, json_t **body)
{
	keel_err err = keel_req_json_body(req, body);

	if (err != KEEL_OK)
		return err;
	if (keel_json_check(*body, create_spec, KEEL_NELEM(create_spec), keel_req_errors(req)) == 0 &&
	    strcmp(fin_str(*body, "from_organization_id"), fin_str(*body, "to_organization_id")) == 0)
		keel_field_error(keel_req_errors(req), "to_organization_id",
		                 "must be another organization than from_organization_id");
	return keel_req_invalid(req, INVALID);
}

/* The amount in the currency's minor units into *amount; a field error when it is none. */
static keel_err
amount_of(keel_req *req, keel_tx *tx, const json_t *body, int64_t *amount)
{
	const char *currency = fin_str(body, "currency"), *s = fin_str(body, "amount");
	int units;
	keel_err err = fin_entry_store_units(tx, keel_req_arena(req), &currency, 1, &units);

	if (err != KEEL_OK)
		return err;
	if (units < 0)
		keel_field_error(keel_req_errors(req), "currency",
		                 "is not a currency of GET /api/v1/currencies");
	else if (!keel_money_parse(s, units, false, amount))
		keel_field_error(keel_req_errors(req), "amount",
		                 "%s, positive and within the range of amounts", keel_money_rule(units));
	else if (*amount == 0)
		keel_field_error(keel_req_errors(req), "amount", "must be positive");
	return KEEL_OK;
}

/* The side's organization, ledger and intercompany account: a field error each that is amiss. */
static void
side_check(keel_req *req, const ic_side *s, const char *account, const char *which)
{
	json_t *errors = keel_req_errors(req);

	if (!s->lg.found)
		keel_field_error(errors, s->org_field, "must be an organization of the tenant");
	else if (!s->lg.has_ledger)
		keel_field_error(errors, s->org_field,
		                 "the organization has no ledger: open it with POST "
		                 "/api/v1/organizations/%s/ledger",
		                 s->org_id);
	else if (account == NULL)
		keel_field_error(errors, s->org_field,
		                 "the %s's ledger has no intercompany %s account: set "
		                 "intercompany_%s_account_id with PATCH /api/v1/organizations/%s/ledger",
		                 s->who, which, which, s->org_id);
}

/* The side's entry: a general draft of two lines of amount, debit first, in currency. */
static void
side_entry(ic_side *s, const json_t *body, const char *debit_account, const char *credit_account,
           int64_t amount)
{
	const char *currency = fin_str(body, "currency");

	s->lines[0] = (fin_line_in){.account_id = debit_account, .currency = currency, .debit = amount};
	s->lines[1] =
	    (fin_line_in){.account_id = credit_account, .currency = currency, .credit = amount};
	s->in = (fin_entry_in){.journal = "general",
	                       .date = fin_str(body, "date"),
	                       .memo = fin_str(body, "memo"),
	                       .currency = currency,
	                       .lines = s->lines,
	                       .nlines = 2};
}

/* The line number of a field the entries' checks name ("lines[1].account_id"), else -1. */
static int
line_of(const char *field)
{
	int i;

	return field != NULL && sscanf(field, "lines[%d]", &i) == 1 ? i : -1;
}

/* The body field that names the part of side s a line field of its entry names. */
static const char *
side_field(const ic_side *s, const char *field)
{
	return line_of(field) == s->account_line ? s->account_field : s->org_field;
}

/*
 * The side's accounts and conversion, checked before anything is written: the account given
 * not the organization's, no rate in force into its ledger's currency, past the largest
 * amount.  Field errors appended, their number into *bad.
 */
static keel_err
side_refs(keel_req *req, keel_tx *tx, const ic_side *s, const char *currency, size_t *bad)
{
	keel_arena *a = keel_req_arena(req);
	json_t *mine = json_array(), *e;
	size_t n = 0, k;
	keel_err err = fin_entry_store_bad_refs(tx, a, s->org_id, &s->in, mine, &n);

	if (err == KEEL_OK && n == 0)
		err = fin_entry_store_bad_fx(tx, a, s->lg.currency, s->in.date, &s->in, mine, &n);
	json_array_foreach(mine, k, e)
	{
		const char *field = json_string_value(json_object_get(e, "field"));

		if (strstr(field, "account_id") != NULL)
			keel_field_error(keel_req_errors(req), side_field(s, field),
			                 "must be an account of the %s's organization", s->who);
		else if (strstr(field, ".currency") != NULL)
			keel_field_error(keel_req_errors(req), s->org_field,
			                 "the %s's ledger has no exchange rate from %s into %s on or before %s",
			                 s->who, currency, s->lg.currency, s->in.date);
		else
			keel_field_error(keel_req_errors(req), s->org_field,
			                 "the amount converted into the %s's currency %s is past the largest "
			                 "amount",
			                 s->who, s->lg.currency);
	}
	json_decref(mine);
	*bad += n;
	return err;
}

/*
 * Post the side's draft.  A refusal of the database's own rules (KF...: an inactive account,
 * a currency the account does not take, a period not open ...) is a 422 naming the side.
 */
static keel_err
side_post(keel_req *req, keel_tx *tx, const ic_side *s)
{
	keel_err err = fin_entry_store_post(tx, s->entry_id);

	if (err == KEEL_OK)
		return KEEL_OK;
	if (strncmp(keel_tx_sqlstate(tx), "KF", 2) != 0)
		return fin_fail(req, tx, err, NULL);
	keel_field_error(keel_req_errors(req), side_field(s, keel_tx_column(tx)), "the %s's entry: %s",
	                 s->who, keel_tx_message(tx));
	return keel_req_invalid(req, INVALID);
}

/* Both drafts made, then posted in the order of their organizations' ids. */
static keel_err
pair_write(keel_req *req, keel_tx *tx, ic_side *from, ic_side *to)
{
	keel_arena *a = keel_req_arena(req);
	ic_side *first = strcmp(from->org_id, to->org_id) < 0 ? from : to;
	ic_side *second = first == from ? to : from;
	keel_err err;

	from->entry_id = new_id(req);
	to->entry_id = new_id(req);
	if ((err = fin_entry_store_create(tx, a, from->entry_id, from->org_id, from->lg.currency,
	                                  &from->in)) != KEEL_OK ||
	    (err = fin_entry_store_create(tx, a, to->entry_id, to->org_id, to->lg.currency, &to->in)) !=
	        KEEL_OK)
		return fin_fail(req, tx, err, NULL);
	if ((err = side_post(req, tx, first)) != KEEL_OK ||
	    (err = side_post(req, tx, second)) != KEEL_OK)
		return err;
	return KEEL_OK;
}

/* The posted entry of side s as it reads, and its keel.journal_entry.posted. */
static keel_err
side_read_back(keel_req *req, keel_tx *tx, ic_side *s)
{
	return fin_entry_store_event(tx, keel_req_arena(req), s->entry_id, "keel.journal_entry.posted",
	                             &s->row);
}

/* The sides of the body, their ledgers read and checked, their entries built: 422 when amiss. */
static keel_err
sides_of(keel_req *req, keel_tx *tx, const json_t *body, ic_side *from, ic_side *to)
{
	fin_ic_ledger lg[2];
	int64_t amount = 0;
	size_t bad = 0;
	keel_err err;

	if ((err = amount_of(req, tx, body, &amount)) != KEEL_OK ||
	    (err = fin_ic_store_ledgers(tx, keel_req_arena(req), from->org_id, to->org_id, lg)) !=
	        KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	from->lg = lg[0];
	to->lg = lg[1];
	side_check(req, from, from->lg.receivable, "receivable");
	side_check(req, to, to->lg.payable, "payable");
	if ((err = keel_req_invalid(req, INVALID)) != KEEL_OK)
		return err;
	side_entry(from, body, from->lg.receivable, from->account_id, amount);
	side_entry(to, body, to->account_id, to->lg.payable, amount);
	if ((err = side_refs(req, tx, from, fin_str(body, "currency"), &bad)) != KEEL_OK ||
	    (err = side_refs(req, tx, to, fin_str(body, "currency"), &bad)) != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	return keel_req_invalid(req, INVALID);
}

static keel_err
ic_create(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *key, *id;
	json_t *body;
	fin_row row = {0};
	keel_tx *tx;
	bool replayed;
	keel_err err;

	if ((err = body_of(req, &body)) != KEEL_OK)
		return err;
	ic_side from = {.who = "sender",
	                .org_field = "from_organization_id",
	                .account_field = "from_account_id",
	                .account_line = 1,
	                .org_id = fin_str(body, "from_organization_id"),
	                .account_id = fin_str(body, "from_account_id")};
	ic_side to = {.who = "receiver",
	              .org_field = "to_organization_id",
	              .account_field = "to_account_id",
	              .account_line = 0,
	              .org_id = fin_str(body, "to_organization_id"),
	              .account_id = fin_str(body, "to_account_id")};

	if ((err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK)
		return err;
	if ((err = keel_svc_idem_claim(req, tx, &key, &replayed)) != KEEL_OK || replayed)
		return err;
	if ((err = sides_of(req, tx, body, &from, &to)) != KEEL_OK ||
	    (err = pair_write(req, tx, &from, &to)) != KEEL_OK)
		return err;
	id = new_id(req);
	err = fin_ic_store_link(tx, keel_req_arena(req), id, from.org_id, to.org_id, from.entry_id,
	                        to.entry_id, &row);
	if (err != KEEL_OK)
		return fin_fail(req, tx, err, NULL);
	if ((err = side_read_back(req, tx, &from)) == KEEL_OK &&
	    (err = side_read_back(req, tx, &to)) == KEEL_OK)
		err = keel_events_enqueue(tx, "keel.intercompany_entry.created", row.id, row.json);
	return keel_svc_finish(
	    req, tx, err, NULL,
	    fin_reply(201, &row,
	              keel_arena_printf(keel_req_arena(req), "/api/v1/intercompany-entries/%s", id),
	              key));
}

static keel_err
ic_get(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *id = fin_path_id(req, "id");
	fin_row row = {0};
	keel_tx *tx;
	keel_err err;

	if (id == NULL)
		return fin_not_found(req, "intercompany entry");
	if ((err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK)
		return err;
	err = fin_ic_store_get(tx, keel_req_arena(req), id, &row);
	return keel_svc_finish(req, tx, err, "intercompany entry", fin_reply(200, &row, NULL, NULL));
}

/* ---- routes ---- */

static const keel_schema ic_schema = {
    .name = "IntercompanyEntry",
    .json = "{\"type\":\"object\",\"required\":[\"id\",\"from_entry_id\",\"to_entry_id\"],"
            "\"properties\":{\"id\":" FIN_UUID ",\"from_entry_id\":{\"type\":\"string\","
            "\"format\":\"uuid\",\"description\":\"The sender's posted general entry\"},"
            "\"to_entry_id\":{\"type\":\"string\",\"format\":\"uuid\",\"description\":"
            "\"The receiver's posted general entry\"}}}"};

static const keel_body create_body = KEEL_BODY("IntercompanyEntryCreate", create_spec);

static const keel_param create_params[] = {KEEL_SVC_IDEMPOTENCY_PARAM, {0}};
static const keel_param id_params[] = {{"id", "path", FIN_UUID, "The intercompany entry's id"},
                                       {0}};

static const keel_route routes[] = {
    {.method = "POST",
     .path = "/api/v1/intercompany-entries",
     .handler = ic_create,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Book an intercompany entry: a posted general entry in each organization's "
                "ledger, both or neither",
     .operation_id = "createIntercompanyEntry",
     .body = &create_body,
     .reply = {201, KEEL_SHAPE_ONE, &ic_schema},
     .params = create_params},
    {.method = "GET",
     .path = "/api/v1/intercompany-entries/{id}",
     .handler = ic_get,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "An intercompany entry: the ids of its two journal entries",
     .operation_id = "getIntercompanyEntry",
     .reply = {200, KEEL_SHAPE_ONE, &ic_schema},
     .params = id_params},
};

void
fin_ic_routes(keel_router *r, keel_fin *fin)
{
	keel_router_add_all(r, routes, KEEL_NELEM(routes), fin);
}
