/*
 * Finance: journal entries.  Drafts are made, changed and deleted by members; posting (with a
 * gapless number) and reversal by admins.  Amounts arrive as decimal strings with exactly the
 * line currency's minor digits (keel_money_parse) and are stored as integer minor units.  A line
 * in another currency than the ledger's takes its rate (rate.h) or the rate in force on the
 * entry's date; PostgreSQL converts it (migration 0013) and posting books the rounding leftover.
 * The database holds every rule of a posted entry (migrations 0012, 0013): these handlers
 * check what they can say precisely first.
 * The list answers Accept: text/csv with one record per line (fin_csv.h).
 */
#include "fin/fin_entry.h"
#include "access/access.h"
#include "core/date.h"
#include "core/money.h"
#include "core/rate.h"
#include "core/uuid.h"
#include "events/events.h"
#include "fin/fin_csv.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CURSOR_KIND 0x4a /* journal-entry lists: date, journal, sequence, id */
#define CURSOR_LEN  30

static const char *const journals[] = {"adjustment", "cash",  "general", "payroll",
                                       "purchases",  "sales", NULL};
static const char *const statuses[] = {"draft", "posted", NULL};

#define AMOUNT_NOTE                                                                                \
	"A positive decimal string with exactly the line currency's minor digits; exactly one of "     \
	"debit and credit"

#define LINE_SCHEMA                                                                                \
	"{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"account_id\"],"           \
	"\"properties\":{\"account_id\":" FIN_UUID ",\"debit\":{\"type\":[\"string\",\"null\"],"       \
	"\"description\":\"" AMOUNT_NOTE "\"},\"credit\":{\"type\":[\"string\",\"null\"],"             \
	"\"description\":\"" AMOUNT_NOTE "\"},\"currency\":{\"type\":\"string\",\"description\":"      \
	"\"Default: the entry's; one the ledger's account may take\",\"pattern\":\"^[A-Z]{3}$\"},"     \
	"\"rate\":{\"type\":[\"string\",\"null\"],\"pattern\":\"^(0|[1-9][0-9]{0,11})"                 \
	"(\\\\.[0-9]{1,12})?$\",\"description\":\"Ledger currency units per one unit of the "          \
	"line's, for a line in another currency (default: the rate in force on the entry's date)\"},"  \
	"\"division_id\":" FIN_UUID_NULL ",\"memo\":{\"type\":\"string\",\"maxLength\":500}}}"

static const keel_field_spec line_spec[] = {
    {.name = "account_id", .type = KEEL_F_UUID, .required = true},
    {.name = "debit", .type = KEEL_F_STRING, .nullable = true},
    {.name = "credit", .type = KEEL_F_STRING, .nullable = true},
    {.name = "currency",
     .type = KEEL_F_STRING,
     .check = fin_currency_valid,
     .check_msg = FIN_CURRENCY_RULE},
    {.name = "rate", .type = KEEL_F_STRING, .nullable = true},
    {.name = "division_id", .type = KEEL_F_UUID, .nullable = true},
    {.name = "memo", .type = KEEL_F_STRING, .max = 500},
};

#define JOURNAL_FIELD(req)                                                                         \
	{                                                                                              \
		.name = "journal", .type = KEEL_F_ENUM, .required = (req), .choices = journals             \
	}
#define DATE_FIELD(req)                                                                            \
	{                                                                                              \
		.name = "date", .type = KEEL_F_STRING, .required = (req), .check = fin_date_valid,         \
		.check_msg = FIN_DATE_RULE, .format = "date"                                               \
	}
#define LINES_FIELD(req)                                                                           \
	{                                                                                              \
		.name = "lines", .type = KEEL_F_ARRAY, .required = (req), .min = 2,                        \
		.max = FIN_ENTRY_LINES_MAX, .items = LINE_SCHEMA                                           \
	}

static const keel_field_spec create_spec[] = {
    JOURNAL_FIELD(true),
    DATE_FIELD(true),
    {.name = "memo", .type = KEEL_F_STRING, .max = 1000},
    {.name = "currency",
     .type = KEEL_F_STRING,
     .check = fin_currency_valid,
     .check_msg = FIN_CURRENCY_RULE,
     .pattern = "^[A-Z]{3}$",
     .description = "The lines' default currency (default: the ledger's)"},
    LINES_FIELD(true),
    {.name = "post", .type = KEEL_F_BOOLEAN, .description = "Post the entry at once (needs admin)"},
};

static const keel_field_spec update_spec[] = {
    JOURNAL_FIELD(false),
    DATE_FIELD(false),
    {.name = "memo", .type = KEEL_F_STRING, .max = 1000},
    LINES_FIELD(false),
};

static const keel_field_spec reverse_spec[] = {
    DATE_FIELD(true),
    {.name = "memo",
     .type = KEEL_F_STRING,
     .max = 1000,
     .description = "Default: \"Reversal of <number>\""},
};

/* Lines as they are being read: the field errors go to errors. */
typedef struct line_reader {
	json_t *errors;
	const fin_ledger *ledger;
	const char *currency; /* the entry's: the lines' default */
	int *units;           /* per line: its currency's minor units, -1 for no currency */
} line_reader;

__attribute__((format(printf, 4, 5))) static size_t
line_error(line_reader *lr, size_t i, const char *name, const char *fmt, ...)
{
	char field[64], msg[256];
	va_list ap;

	snprintf(field, sizeof(field), "lines[%zu]%s%s", i, name[0] ? "." : "", name);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return keel_field_error(lr->errors, field, "%s", msg);
}

/* One side's amount into *out (0 when absent or null); 1 when it is no positive amount. */
static size_t
line_amount(line_reader *lr, json_t *line, size_t i, const char *side, int64_t *out)
{
	const char *s = json_string_value(json_object_get(line, side));
	int units = lr->units[i];

	*out = 0;
	if (s == NULL)
		return 0;
	if (!keel_money_parse(s, units, false, out))
		return line_error(lr, i, side, "%s, positive and within the range of amounts",
		                  keel_money_rule(units));
	if (*out == 0)
		return line_error(lr, i, side, "must be positive");
	return 0;
}

/* The line's rate: none in the ledger's currency, else given (canonical) or NULL (in force). */
static size_t
line_rate(line_reader *lr, keel_arena *a, json_t *line, size_t i, fin_line_in *out)
{
	const char *s = json_string_value(json_object_get(line, "rate"));
	char canon[KEEL_RATE_STRLEN + 1];

	out->rate = NULL;
	if (s == NULL)
		return 0;
	if (strcmp(out->currency, lr->ledger->currency) == 0)
		return line_error(lr, i, "rate", "a line in the ledger's currency (%s) takes no rate",
		                  lr->ledger->currency);
	if (!keel_rate_parse(s, canon))
		return line_error(lr, i, "rate", "%s", keel_rate_rule());
	out->rate = keel_arena_strdup(a, canon);
	return 0;
}

/* Line i's shape (line_spec); its currency, the line's or the entry's, into *currency. */
static size_t
check_line(line_reader *lr, json_t *line, size_t i, const char **currency)
{
	json_t *mine;
	size_t bad, k;
	json_t *e;

	*currency = lr->currency;
	if (!json_is_object(line))
		return line_error(lr, i, "", "must be an object");
	mine = json_array();
	bad = keel_json_check(line, line_spec, KEEL_NELEM(line_spec), mine);
	json_array_foreach(mine, k, e)
	    line_error(lr, i, json_string_value(json_object_get(e, "field")), "%s",
	               json_string_value(json_object_get(e, "message")));
	json_decref(mine);
	if (json_object_get(line, "currency") != NULL && bad == 0)
		*currency = json_string_value(json_object_get(line, "currency"));
	return bad;
}

/* Line i of the body, of shape and currency checked, into *out; the number of errors it has. */
static size_t
read_line(line_reader *lr, keel_arena *a, json_t *line, size_t i, fin_line_in *out)
{
	size_t bad = 0;

	if (lr->units[i] < 0)
		return line_error(lr, i, json_object_get(line, "currency") ? "currency" : "",
		                  "%s is not a currency of GET /api/v1/currencies", out->currency);
	bad += line_rate(lr, a, line, i, out);
	bad += line_amount(lr, line, i, "debit", &out->debit);
	bad += line_amount(lr, line, i, "credit", &out->credit);
	if (bad == 0 && out->debit > 0 && out->credit > 0)
		bad += line_error(lr, i, "credit", "a line has one side: debit or credit, not both");
	if (bad == 0 && out->debit == 0 && out->credit == 0)
		bad += line_error(lr, i, "debit", "a line needs a debit or a credit");
	out->account_id = keel_arena_strdup(a, json_string_value(json_object_get(line, "account_id")));
	out->division_id = json_string_value(json_object_get(line, "division_id"));
	out->division_id = out->division_id ? keel_arena_strdup(a, out->division_id) : NULL;
	out->memo = json_string_value(json_object_get(line, "memo"));
	out->memo = out->memo ? keel_arena_strdup(a, out->memo) : NULL;
	return bad;
}

/* The debits and the credits of the lines in the ledger's currency fit int64_t. */
static bool
ledger_sums_fit(const line_reader *lr, const fin_entry_in *in)
{
	int64_t debit = 0, credit = 0;
	bool fits = true;

	for (int i = 0; i < in->nlines; i++)
		if (strcmp(in->lines[i].currency, lr->ledger->currency) == 0)
			fits = fits && keel_money_add(debit, in->lines[i].debit, &debit) &&
			       keel_money_add(credit, in->lines[i].credit, &credit);
	return fits;
}

/* The body's lines into in, their currencies' minor units looked up in tx; the number of errors. */
static size_t
read_lines(line_reader *lr, keel_tx *tx, keel_arena *a, json_t *lines, fin_entry_in *in,
           keel_err *err)
{
	size_t n = json_array_size(lines), bad = 0;
	const char **codes = keel_arena_calloc(a, n + 1, sizeof(*codes));

	in->nlines = (int)n;
	in->lines = keel_arena_calloc(a, n, sizeof(*in->lines));
	lr->units = keel_arena_calloc(a, n + 1, sizeof(*lr->units));
	for (size_t i = 0; i < n; i++)
		bad += check_line(lr, json_array_get(lines, i), i, &codes[i]);
	if (bad > 0)
		return bad;
	codes[n] = lr->currency;
	if ((*err = fin_entry_store_units(tx, a, codes, (int)n + 1, lr->units)) != KEEL_OK)
		return 1;
	if (lr->units[n] < 0)
		return keel_field_error(lr->errors, "currency",
		                        "is not a currency of GET /api/v1/currencies");
	for (size_t i = 0; i < n; i++) {
		in->lines[i].currency = keel_arena_strdup(a, codes[i]);
		bad += read_line(lr, a, json_array_get(lines, i), i, &in->lines[i]);
	}
	if (bad == 0 && !ledger_sums_fit(lr, in))
		bad += keel_field_error(lr->errors, "lines", "%s", FIN_ENTRY_OVERFLOW);
	return bad;
}

/*
 * The body's fields into in, its lines (when given) in currency (the entry's) converted into the
 * currency of ledger lg on the entry's date (the body's, else date); fails the request with 422
 * when any is invalid, the lines' accounts, divisions and rates checked in tx.
 */
static keel_err
read_entry(keel_req *req, keel_tx *tx, json_t *body, const fin_ledger *lg, const char *org_id,
           const char *currency, const char *date, fin_entry_in *in)
{
	line_reader lr = {.errors = keel_req_errors(req), .ledger = lg, .currency = currency};
	json_t *lines = json_object_get(body, "lines");
	keel_arena *a = keel_req_arena(req);
	size_t bad = 0;
	keel_err err = KEEL_OK;

	in->journal = json_string_value(json_object_get(body, "journal"));
	in->date = json_string_value(json_object_get(body, "date"));
	in->memo = json_string_value(json_object_get(body, "memo"));
	in->currency = currency;
	if (lines == NULL)
		return KEEL_OK;
	bad += read_lines(&lr, tx, a, lines, in, &err);
	if (bad == 0 && err == KEEL_OK)
		err = fin_entry_store_bad_refs(tx, a, org_id, in, lr.errors, &bad);
	if (bad == 0 && err == KEEL_OK)
		err = fin_entry_store_bad_fx(tx, a, lg->currency, in->date ? in->date : date, in, lr.errors,
		                             &bad);
	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (bad == 0)
		return KEEL_OK;
	return keel_req_fail(req, KEEL_EINVAL, NULL, "the journal entry is invalid");
}

/* The body, checked against spec: 400 or 422 answered. */
static keel_err
body_of(keel_req *req, const keel_field_spec *spec, size_t n, json_t **body)
{
	keel_err err = keel_req_json_body(req, body);

	if (err != KEEL_OK)
		return err;
	if (keel_json_check(*body, spec, n, keel_req_errors(req)) > 0)
		return keel_req_fail(req, KEEL_EINVAL, NULL, "the journal entry is invalid");
	return KEEL_OK;
}

/*
 * A write of lines failed: an account or division that stopped being the organization's after
 * the check (the composite foreign keys) is 422 naming the lines; the rest as fin_fail.
 */
static keel_err
write_failed(keel_req *req, keel_tx *tx, keel_err err)
{
	const char *c = keel_tx_constraint(tx);

	if (err == KEEL_EINVAL && strcmp(c, "journal_lines_account_fkey") == 0)
		return keel_req_fail(req, err, "lines", "must name accounts of the organization");
	if (err == KEEL_EINVAL && strcmp(c, "journal_lines_division_fkey") == 0)
		return keel_req_fail(req, err, "lines", "must name divisions of the organization");
	return fin_fail(req, tx, err, NULL);
}

static const char *
new_id(keel_req *req)
{
	keel_uuid u;
	char *text = keel_arena_alloc(keel_req_arena(req), KEEL_UUID_STRLEN + 1);

	keel_uuid_v7(&u);
	keel_uuid_format(&u, text);
	return text;
}

static const char *
entry_location(keel_req *req, const char *id)
{
	return keel_arena_printf(keel_req_arena(req), "/api/v1/journal-entries/%s", id);
}

static keel_err
entry_create(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *org_id = fin_path_id(req, "id"), *key, *id, *currency;
	json_t *body;
	fin_entry_in in = {0};
	fin_ledger lg;
	fin_row row = {0};
	keel_tx *tx;
	bool replayed, post;
	keel_err err;

	if (org_id == NULL)
		return fin_not_found(req, "organization");
	if ((err = body_of(req, create_spec, KEEL_NELEM(create_spec), &body)) != KEEL_OK)
		return err;
	post = json_is_true(json_object_get(body, "post"));
	if ((err = keel_svc_tx_role(req, fin->pool, post ? KEEL_ROLE_ADMIN : KEEL_ROLE_MEMBER, &tx)) !=
	        KEEL_OK ||
	    (err = fin_ledger_require(req, tx, org_id, &lg)) != KEEL_OK)
		return err;
	if ((err = keel_svc_idem_claim(req, tx, &key, &replayed)) != KEEL_OK || replayed)
		return err;
	currency = json_string_value(json_object_get(body, "currency"));
	if ((err = read_entry(req, tx, body, &lg, org_id, currency ? currency : lg.currency, NULL,
	                      &in)) != KEEL_OK)
		return err;
	id = new_id(req);
	err = fin_entry_store_create(tx, keel_req_arena(req), id, org_id, lg.currency, &in);
	if (err == KEEL_OK && post)
		err = fin_entry_store_post(tx, id);
	if (err != KEEL_OK)
		return write_failed(req, tx, err);
	err = fin_entry_store_event(tx, keel_req_arena(req), id,
	                            post ? "keel.journal_entry.posted" : "keel.journal_entry.created",
	                            &row);
	return keel_svc_finish(req, tx, err, NULL, fin_reply(201, &row, entry_location(req, id), key));
}

static keel_err
entry_get(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *id = fin_path_id(req, "id");
	fin_row row = {0};
	keel_tx *tx;
	keel_err err;

	if (id == NULL)
		return fin_not_found(req, "journal entry");
	if ((err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK)
		return err;
	err = fin_entry_store_get(tx, keel_req_arena(req), id, true, &row);
	return keel_svc_finish(req, tx, err, "journal entry", fin_reply(200, &row, NULL, NULL));
}

/* The draft id locked for a write at version (NULL: any): 404, 412, or 409 when posted. */
static keel_err
lock_draft(keel_req *req, keel_tx *tx, const char *id, const char *version, fin_entry_state *st)
{
	keel_err err = fin_entry_store_lock(tx, keel_req_arena(req), id, st);

	if (err == KEEL_ENOTFOUND)
		return fin_not_found(req, "journal entry");
	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (version != NULL && st->version != strtol(version, NULL, 10))
		return keel_req_fail(req, KEEL_EPRECOND, NULL, "the journal entry is at version %ld",
		                     st->version);
	if (strcmp(st->status, "draft") != 0)
		return keel_req_fail(req, KEEL_ECONFLICT, NULL, "the entry is %s", st->status);
	return KEEL_OK;
}

static keel_err
entry_update(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *id = fin_path_id(req, "id"), *version;
	json_t *body;
	fin_entry_in in = {0};
	fin_entry_state st = {0};
	fin_ledger lg = {0};
	fin_row row = {0};
	keel_tx *tx;
	keel_err err;

	if (id == NULL)
		return fin_not_found(req, "journal entry");
	if ((err = body_of(req, update_spec, KEEL_NELEM(update_spec), &body)) != KEEL_OK)
		return err;
	if (json_object_size(body) == 0)
		return keel_req_fail(req, KEEL_EINVAL, NULL, "give at least one field to change");
	if ((err = keel_svc_if_match(req, &version)) != KEEL_OK ||
	    (err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK ||
	    (err = lock_draft(req, tx, id, version, &st)) != KEEL_OK)
		return err;
	if (json_object_get(body, "lines") != NULL &&
	    (err = fin_ledger_require(req, tx, st.organization_id, &lg)) != KEEL_OK)
		return err;
	if ((err = read_entry(req, tx, body, &lg, st.organization_id, st.currency, st.date, &in)) !=
	    KEEL_OK)
		return err;
	err = fin_entry_store_update(tx, keel_req_arena(req), id, st.organization_id, lg.currency, &in);
	if (err != KEEL_OK)
		return write_failed(req, tx, err);
	err = fin_entry_store_event(tx, keel_req_arena(req), id, "keel.journal_entry.updated", &row);
	return keel_svc_finish(req, tx, err, NULL, fin_reply(200, &row, NULL, NULL));
}

static keel_err
entry_delete(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *id = fin_path_id(req, "id"), *version;
	fin_entry_state st = {0};
	keel_tx *tx;
	keel_err err;

	if (id == NULL)
		return fin_not_found(req, "journal entry");
	if ((err = keel_svc_if_match(req, &version)) != KEEL_OK ||
	    (err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK ||
	    (err = lock_draft(req, tx, id, version, &st)) != KEEL_OK)
		return err;
	if ((err = fin_entry_store_delete(tx, id)) != KEEL_OK)
		return fin_fail(req, tx, err, NULL);
	err = keel_events_enqueue(tx, "keel.journal_entry.deleted", id, st.row.json);
	return keel_svc_finish(req, tx, err, NULL, (keel_svc_reply){.status = 204});
}

static keel_err
entry_post(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *id = fin_path_id(req, "id");
	fin_row row = {0};
	keel_tx *tx;
	keel_err err;

	if (id == NULL)
		return fin_not_found(req, "journal entry");
	if ((err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK)
		return err;
	if ((err = fin_entry_store_post(tx, id)) != KEEL_OK)
		return fin_fail(req, tx, err, "journal entry");
	err = fin_entry_store_event(tx, keel_req_arena(req), id, "keel.journal_entry.posted", &row);
	return keel_svc_finish(req, tx, err, NULL, fin_reply(200, &row, NULL, NULL));
}

static keel_err
entry_reverse(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *id = fin_path_id(req, "id"), *key, *rev;
	json_t *body;
	fin_row row = {0}, orig = {0};
	keel_tx *tx;
	bool replayed;
	keel_err err;

	if (id == NULL)
		return fin_not_found(req, "journal entry");
	if ((err = body_of(req, reverse_spec, KEEL_NELEM(reverse_spec), &body)) != KEEL_OK ||
	    (err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK)
		return err;
	if ((err = keel_svc_idem_claim(req, tx, &key, &replayed)) != KEEL_OK || replayed)
		return err;
	rev = new_id(req);
	err = fin_entry_store_reverse(tx, id, rev, json_string_value(json_object_get(body, "date")),
	                              json_string_value(json_object_get(body, "memo")));
	if (err == KEEL_ECONFLICT && strcmp(keel_tx_sqlstate(tx), "23505") == 0)
		return keel_req_fail(req, err, NULL,
		                     "the entry is reversed"); /* journal_entries_reverses_key */
	if (err != KEEL_OK)
		return fin_fail(req, tx, err, "journal entry");
	if ((err = fin_entry_store_event(tx, keel_req_arena(req), rev, "keel.journal_entry.posted",
	                                 &row)) == KEEL_OK)
		err = fin_entry_store_event(tx, keel_req_arena(req), id, "keel.journal_entry.reversed",
		                            &orig);
	return keel_svc_finish(req, tx, err, NULL, fin_reply(201, &row, entry_location(req, rev), key));
}

/* ---- the list ---- */

static int
journal_index(const char *journal)
{
	for (int i = 0; journals[i] != NULL; i++)
		if (strcmp(journals[i], journal) == 0)
			return i;
	return -1;
}

static const char *
cursor_of(keel_req *req, const fin_entry_key *k)
{
	unsigned char bin[CURSOR_LEN] = {0};
	int32_t days = 0;
	int64_t seq = k->sequence[0] ? strtoll(k->sequence, NULL, 10) : 0;
	keel_uuid u;

	keel_date_parse(k->date, &days);
	for (int i = 0; i < 4; i++)
		bin[i] = (unsigned char)((uint32_t)days >> (24 - 8 * i));
	bin[4] = (unsigned char)journal_index(k->journal);
	for (int i = 0; i < 8; i++)
		bin[5 + i] = (unsigned char)((uint64_t)seq >> (56 - 8 * i));
	keel_uuid_parse(k->id, &u);
	memcpy(bin + 13, u.b, 16);
	bin[29] = k->sequence[0] ? 1 : 0;
	return keel_svc_cursor_encode(req, CURSOR_KIND, bin, sizeof(bin));
}

/* ?cursor= into *k; *found false when none.  400 when it is not one of this list's. */
static keel_err
cursor_read(keel_req *req, fin_entry_key *k, bool *found)
{
	unsigned char bin[CURSOR_LEN];
	uint32_t days = 0;
	uint64_t seq = 0;
	keel_uuid u;
	keel_err err = keel_svc_cursor_decode(req, CURSOR_KIND, bin, sizeof(bin), found);

	if (err != KEEL_OK || !*found)
		return err;
	for (int i = 0; i < 4; i++)
		days = days << 8 | bin[i];
	for (int i = 0; i < 8; i++)
		seq = seq << 8 | bin[5 + i];
	if (bin[4] >= KEEL_NELEM(journals) - 1 || bin[29] > 1 ||
	    keel_date_format((int32_t)days, k->date, sizeof(k->date)) == 0 ||
	    (bin[29] == 1 && (int64_t)seq <= 0))
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "cursor is invalid");
	snprintf(k->journal, sizeof(k->journal), "%s", journals[bin[4]]);
	if (bin[29] == 1)
		snprintf(k->sequence, sizeof(k->sequence), "%" PRId64, (int64_t)seq);
	memcpy(u.b, bin + 13, 16);
	keel_uuid_format(&u, k->id);
	return KEEL_OK;
}

/* A query filter: NULL when absent, 400 when it breaks its rule. */
static keel_err
query_of(keel_req *req, const char *name, bool (*valid)(const char *), const char *rule,
         const char **out)
{
	*out = keel_req_query(req, name);
	if (*out == NULL || valid(*out))
		return KEEL_OK;
	return keel_req_fail(req, KEEL_EMALFORMED, NULL, "%s %s", name, rule);
}

static bool
journal_valid(const char *s)
{
	return journal_index(s) >= 0;
}

static bool
status_valid(const char *s)
{
	return strcmp(s, statuses[0]) == 0 || strcmp(s, statuses[1]) == 0;
}

static keel_err
list_filter(keel_req *req, fin_entry_filter *f, fin_entry_key *after)
{
	bool found;
	keel_err err;

	if ((err = keel_svc_page_limit(req, &f->limit)) != KEEL_OK ||
	    (err = cursor_read(req, after, &found)) != KEEL_OK ||
	    (err = query_of(req, "status", status_valid, "must be draft or posted", &f->status)) !=
	        KEEL_OK ||
	    (err = query_of(req, "journal", journal_valid, "must be a journal", &f->journal)) !=
	        KEEL_OK ||
	    (err = query_of(req, "from", fin_date_valid, FIN_DATE_RULE, &f->from)) != KEEL_OK ||
	    (err = query_of(req, "to", fin_date_valid, FIN_DATE_RULE, &f->to)) != KEEL_OK ||
	    (err = query_of(req, "account_id", keel_uuid_valid, "must be a UUID", &f->account_id)) !=
	        KEEL_OK)
		return err;
	f->after = found ? after : NULL;
	return KEEL_OK;
}

/* The list's CSV: one record per line, its entry's fields repeated (csv.h: memo guarded). */
static const fin_csv_col list_csv[] = {{"id", false},
                                       {"organization_id", false},
                                       {"journal", false},
                                       {"kind", false},
                                       {"number", false},
                                       {"date", false},
                                       {"memo", true},
                                       {"currency", false},
                                       {"status", false},
                                       {"reverses_id", false},
                                       {"reversed_by_id", false},
                                       {"posted_at", false},
                                       {"posted_by", false},
                                       {"version", false},
                                       {"created_at", false},
                                       {"updated_at", false},
                                       {"lines.id", false},
                                       {"lines.account_id", false},
                                       {"lines.debit", false},
                                       {"lines.credit", false},
                                       {"lines.currency", false},
                                       {"lines.rate", false},
                                       {"lines.functional_debit", false},
                                       {"lines.functional_credit", false},
                                       {"lines.division_id", false},
                                       {"lines.memo", true},
                                       {0}};

/* A list streamed whole as CSV: the filter, from after the last page's last entry. */
typedef struct list_stream {
	keel_fin *fin;
	fin_entry_filter f;
	fin_entry_key after;
} list_stream;

/* Rows of entries per streamed page (each with up to FIN_ENTRY_LINES_MAX lines). */
#define LIST_STREAM_PAGE 100

/* Go on after a page of count entries that ended at last; false when it was the last. */
static bool
list_advance(list_stream *st, int count, const fin_entry_key *last)
{
	if (count < st->f.limit)
		return false;
	st->after = *last;
	st->f.after = &st->after;
	return true;
}

/* The next page of a streamed list, as CSV records, in a transaction of its own. */
static keel_err
list_next(keel_req *req, void *arg, keel_arena *a, keel_buf *out, bool *done)
{
	list_stream *st = arg;
	fin_entry_key last = {0};
	keel_svc_list list;
	keel_tx *tx;
	keel_err err;

	if ((err = keel_svc_tx_chunk(req, st->fin->pool, a, &tx)) != KEEL_OK)
		return err;
	keel_svc_list_begin(&list, a);
	if ((err = fin_entry_store_list(tx, &st->f, &list, &last)) != KEEL_OK)
		return err;
	if (!fin_csv_write(out, keel_svc_list_end(&list, NULL), "data", "lines", list_csv, false))
		return KEEL_EINTERNAL;
	*done = !list_advance(st, list.count, &last);
	return KEEL_OK;
}

/* The whole list as CSV, streamed a page at a time. */
static keel_err
list_stream_start(keel_req *req, keel_fin *fin, keel_tx *tx, const fin_entry_filter *f)
{
	list_stream *st = keel_arena_alloc(keel_req_arena(req), sizeof(*st));
	fin_entry_key last = {0};
	keel_svc_list list;

	*st = (list_stream){.fin = fin, .f = *f};
	st->f.limit = LIST_STREAM_PAGE;
	keel_svc_list_begin(&list, keel_req_arena(req));
	keel_err err = fin_entry_store_list(tx, &st->f, &list, &last);

	return fin_csv_stream(req, tx, err, NULL, keel_svc_list_end(&list, NULL), "data", "lines",
	                      list_csv, err == KEEL_OK && list_advance(st, list.count, &last),
	                      list_next, st);
}

static keel_err
entry_list(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	fin_entry_filter f = {.organization_id = fin_path_id(req, "id")};
	fin_entry_key after = {0}, last = {0};
	keel_svc_list list;
	fin_ledger lg;
	keel_tx *tx;
	keel_err err;

	f.lines = fin_csv_wanted(req);
	if (f.organization_id == NULL)
		return fin_not_found(req, "organization");
	if ((err = list_filter(req, &f, &after)) != KEEL_OK ||
	    (err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK ||
	    (err = fin_ledger_require(req, tx, f.organization_id, &lg)) != KEEL_OK)
		return err;
	if (f.lines && fin_csv_whole(req))
		return list_stream_start(req, fin, tx, &f);
	keel_svc_list_begin(&list, keel_req_arena(req));
	err = fin_entry_store_list(tx, &f, &list, &last);
	const char *next = err == KEEL_OK && list.count == f.limit ? cursor_of(req, &last) : NULL;

	if (f.lines)
		return fin_csv_finish(req, tx, err, NULL, keel_svc_list_end(&list, next), "data", "lines",
		                      list_csv, next);

	return keel_svc_finish(req, tx, err, NULL,
	                       (keel_svc_reply){.status = 200, .text = keel_svc_list_end(&list, next)});
}

/* ---- routes ---- */

#define STR      "{\"type\":\"string\"}"
#define STR_NULL "{\"type\":[\"string\",\"null\"]}"
#define AMOUNT   FIN_AMOUNT
#define ENTRY_REQUIRED                                                                             \
	"\"id\",\"organization_id\",\"journal\",\"kind\",\"number\",\"date\",\"memo\",\"currency\","   \
	"\"status\",\"reverses_id\",\"reversed_by_id\",\"posted_at\",\"posted_by\",\"version\","       \
	"\"created_at\",\"updated_at\""
#define ENTRY_PROPS                                                                                \
	"\"id\":" FIN_UUID ",\"organization_id\":" FIN_UUID ",\"journal\":{\"type\":\"string\","       \
	"\"enum\":[\"general\",\"sales\",\"purchases\",\"cash\",\"payroll\",\"adjustment\"]},"         \
	"\"kind\":{\"type\":\"string\",\"enum\":[\"normal\",\"reversal\",\"closing\","                 \
	"\"revaluation\"]},\"number\":" STR_NULL ",\"date\":" FIN_DATE ",\"memo\":" STR                \
	",\"currency\":" STR ",\"status\":{\"type\":\"string\",\"enum\":[\"draft\",\"posted\"]},"      \
	"\"reverses_id\":" FIN_UUID_NULL ",\"reversed_by_id\":" FIN_UUID_NULL                          \
	",\"posted_at\":" FIN_TS_NULL ",\"posted_by\":" FIN_UUID_NULL                                  \
	",\"version\":{\"type\":\"integer\"},\"created_at\":" FIN_TS ",\"updated_at\":" FIN_TS
#define LINE_OUT                                                                                   \
	"{\"type\":\"object\",\"required\":[\"id\",\"account_id\",\"debit\",\"credit\",\"currency\","  \
	"\"rate\",\"functional_debit\",\"functional_credit\",\"division_id\",\"memo\"],"               \
	"\"properties\":{\"id\":" FIN_UUID ",\"account_id\":" FIN_UUID ",\"debit\":" AMOUNT            \
	",\"credit\":" AMOUNT ",\"currency\":" STR ",\"rate\":{\"type\":\"string\",\"description\":"   \
	"\"Functional units per unit of the line's currency, a decimal string\"},"                     \
	"\"functional_debit\":" AMOUNT ",\"functional_credit\":" AMOUNT                                \
	",\"division_id\":" FIN_UUID_NULL ",\"memo\":" STR "}}"

static const keel_schema entry_schema = {
    .name = "JournalEntry",
    .json = "{\"type\":\"object\",\"required\":[" ENTRY_REQUIRED
            ",\"lines\"],\"properties\":{" ENTRY_PROPS
            ",\"lines\":{\"type\":\"array\",\"items\":" LINE_OUT "}}}"};

static const keel_schema summary_schema = {
    .name = "JournalEntrySummary",
    .json = "{\"type\":\"object\",\"description\":\"A journal entry without its lines (GET "
            "/api/v1/journal-entries/{id} has them)\",\"required\":[" ENTRY_REQUIRED
            "],\"properties\":{" ENTRY_PROPS "}}"};

static const keel_body create_body = KEEL_BODY("JournalEntryCreate", create_spec);
static const keel_body update_body = KEEL_BODY("JournalEntryUpdate", update_spec);
static const keel_body reverse_body = KEEL_BODY("JournalEntryReverse", reverse_spec);

#define ORG_PARAM                                                                                  \
	{                                                                                              \
		"id", "path", FIN_UUID, "The organization's id"                                            \
	}
#define ENTRY_PARAM                                                                                \
	{                                                                                              \
		"id", "path", FIN_UUID, "The journal entry's id"                                           \
	}

static const keel_param create_params[] = {ORG_PARAM, KEEL_SVC_IDEMPOTENCY_PARAM, {0}};
static const keel_param reverse_params[] = {ENTRY_PARAM, KEEL_SVC_IDEMPOTENCY_PARAM, {0}};
static const keel_param id_params[] = {ENTRY_PARAM, {0}};
static const keel_param list_params[] = {
    ORG_PARAM,
    KEEL_SVC_PAGE_PARAMS,
    {"status", "query", "{\"type\":\"string\",\"enum\":[\"draft\",\"posted\"]}", "Only these"},
    {"journal", "query",
     "{\"type\":\"string\",\"enum\":[\"general\",\"sales\",\"purchases\",\"cash\",\"payroll\","
     "\"adjustment\"]}",
     "Only this journal's"},
    {"from", "query", FIN_DATE, "Dated on or after"},
    {"to", "query", FIN_DATE, "Dated on or before"},
    {"account_id", "query", FIN_UUID, "Only entries with a line on this account"},
    {0}};

static const keel_route routes[] = {
    {.method = "POST",
     .path = "/api/v1/organizations/{id}/journal-entries",
     .handler = entry_create,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_MEMBER,
     .summary = "Create a journal entry: a draft, or posted at once with post: true (admin)",
     .operation_id = "createJournalEntry",
     .body = &create_body,
     .reply = {201, KEEL_SHAPE_ONE, &entry_schema},
     .params = create_params},
    {.method = "GET",
     .path = "/api/v1/organizations/{id}/journal-entries",
     .handler = entry_list,
     .flags = KEEL_ROUTE_CSV,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "List an organization's journal entries, without their lines, by date and number",
     .operation_id = "listJournalEntries",
     .reply = {200, KEEL_SHAPE_LIST, &summary_schema},
     .params = list_params,
     .problems = {409}},
    {.method = "GET",
     .path = "/api/v1/journal-entries/{id}",
     .handler = entry_get,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "A journal entry with its lines",
     .operation_id = "getJournalEntry",
     .reply = {200, KEEL_SHAPE_ONE, &entry_schema},
     .params = id_params},
    {.method = "PATCH",
     .path = "/api/v1/journal-entries/{id}",
     .handler = entry_update,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_MEMBER,
     .summary = "Change a draft (its lines are replaced as a whole)",
     .operation_id = "updateJournalEntry",
     .body = &update_body,
     .reply = {200, KEEL_SHAPE_ONE, &entry_schema},
     .params = id_params},
    {.method = "DELETE",
     .path = "/api/v1/journal-entries/{id}",
     .handler = entry_delete,
     .min_role = KEEL_ROLE_MEMBER,
     .summary = "Delete a draft",
     .operation_id = "deleteJournalEntry",
     .reply = {204, KEEL_SHAPE_NONE, NULL},
     .params = id_params},
    {.method = "POST",
     .path = "/api/v1/journal-entries/{id}/post",
     .handler = entry_post,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Post a draft: its number is the journal's next in the fiscal year",
     .operation_id = "postJournalEntry",
     .reply = {200, KEEL_SHAPE_ONE, &entry_schema},
     .params = id_params,
     .problems = {422}},
    {.method = "POST",
     .path = "/api/v1/journal-entries/{id}/reverse",
     .handler = entry_reverse,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Reverse a posted entry: a new posted entry with the sides swapped",
     .operation_id = "reverseJournalEntry",
     .body = &reverse_body,
     .reply = {201, KEEL_SHAPE_ONE, &entry_schema},
     .params = reverse_params},
};

void
fin_entry_routes(keel_router *r, keel_fin *fin)
{
	keel_router_add_all(r, routes, KEEL_NELEM(routes), fin);
}
