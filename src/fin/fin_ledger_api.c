/*
 * Finance: an organization's ledger, the currencies, and its chart of accounts.
 *
 * The ledger is opened once per organization in its functional currency, which never changes
 * (column grants); a PATCH sets its four special accounts.  Accounts form a tree of groups:
 * a child has its group parent's type (the composite foreign key accounts_parent_fkey), and
 * code, type, parent, group flag and currency are fixed at creation.  An account is deleted
 * only while nothing names it: journal lines, child accounts, the ledger.  The database
 * refuses everything else; the handlers turn its constraint names into fields and sentences.
 */
#include "fin/fin_int.h"
#include "access/access.h"
#include "core/uuid.h"

#include <string.h>

#define CODE_PATTERN     "^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"
#define CURRENCY_PATTERN "^[A-Z]{3}$"
#define CURSOR_KIND      0x10 /* the chart's cursor: the last code, NUL-padded */
#define CURSOR_BYTES     32

/* The ledger's account fields, in fin_ledger_input's order, and the foreign keys that check them.
 */
static const char *const ledger_fields[FIN_LEDGER_ACCOUNTS] = {
    "rounding_account_id", "retained_earnings_account_id", "intercompany_receivable_account_id",
    "intercompany_payable_account_id"};
static const char *const ledger_fkeys[FIN_LEDGER_ACCOUNTS] = {
    "ledgers_rounding_account_fkey", "ledgers_retained_earnings_account_fkey",
    "ledgers_intercompany_receivable_account_fkey", "ledgers_intercompany_payable_account_fkey"};

static const char *const type_choices[] = {"asset",  "liability", "equity",
                                           "income", "expense",   NULL};
static const char *const status_choices[] = {"active", "inactive", NULL};

static bool
alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* The migration's rule for account codes (accounts.code's CHECK). */
static bool
code_valid(const char *s)
{
	size_t len = strlen(s);

	if (len < 1 || len > 32 || !alnum(s[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

#define CURRENCY_FIELD(req)                                                                        \
	{                                                                                              \
		.name = "currency", .type = KEEL_F_STRING, .required = (req), .nullable = !(req),          \
		.min = 3, .max = 3, .check = fin_currency_valid,                                           \
		.check_msg = "must be an ISO 4217 code (GET /api/v1/currencies)",                          \
		.pattern = CURRENCY_PATTERN                                                                \
	}

static const keel_field_spec ledger_create_spec[] = {CURRENCY_FIELD(true)};

static const keel_field_spec ledger_update_spec[] = {
    {.name = "rounding_account_id", .type = KEEL_F_UUID, .nullable = true},
    {.name = "retained_earnings_account_id", .type = KEEL_F_UUID, .nullable = true},
    {.name = "intercompany_receivable_account_id", .type = KEEL_F_UUID, .nullable = true},
    {.name = "intercompany_payable_account_id", .type = KEEL_F_UUID, .nullable = true},
};

static const keel_field_spec account_create_spec[] = {
    {.name = "code",
     .type = KEEL_F_STRING,
     .required = true,
     .min = 1,
     .max = 32,
     .check = code_valid,
     .check_msg = "must match " CODE_PATTERN,
     .pattern = CODE_PATTERN},
    {.name = "name", .type = KEEL_F_STRING, .required = true, .trim = true, .min = 1, .max = 200},
    {.name = "type", .type = KEEL_F_ENUM, .required = true, .choices = type_choices},
    {.name = "parent_id", .type = KEEL_F_UUID, .nullable = true},
    {.name = "is_group", .type = KEEL_F_BOOLEAN},
    CURRENCY_FIELD(false),
    {.name = "requires_division", .type = KEEL_F_BOOLEAN},
    {.name = "revalue", .type = KEEL_F_BOOLEAN},
};

static const keel_field_spec account_update_spec[] = {
    {.name = "name", .type = KEEL_F_STRING, .trim = true, .min = 1, .max = 200},
    {.name = "status", .type = KEEL_F_ENUM, .choices = status_choices},
    {.name = "requires_division", .type = KEEL_F_BOOLEAN},
    {.name = "revalue", .type = KEEL_F_BOOLEAN},
};

/* The JSON body checked against spec (422 naming each bad field); partial: at least one field. */
static keel_err
parse_body(keel_req *req, const keel_field_spec *spec, size_t n, bool partial, const char *what,
           json_t **body)
{
	keel_err err;

	if ((err = keel_req_json_body(req, body)) != KEEL_OK)
		return err;
	if (keel_json_check(*body, spec, n, keel_req_errors(req)) > 0)
		return keel_req_fail(req, KEEL_EINVAL, NULL, "the %s is invalid", what);
	if (partial && json_object_size(*body) == 0)
		return keel_req_fail(req, KEEL_EINVAL, NULL, "give at least one field to change");
	return KEEL_OK;
}

/* A boolean member as a statement parameter: "true", "false", or NULL when absent. */
static const char *
bool_of(const json_t *body, const char *name)
{
	const json_t *v = json_object_get(body, name);

	return v == NULL ? NULL : json_is_true(v) ? "true" : "false";
}

/* ---- the ledger ---- */

static keel_err
ledger_create_failed(keel_req *req, keel_tx *tx, keel_err err)
{
	const char *c = keel_tx_constraint(tx);

	if (err == KEEL_ECONFLICT)
		return keel_req_fail(req, err, NULL, "the organization has a ledger already");
	if (err == KEEL_EINVAL && strcmp(c, "ledgers_currency_fkey") == 0)
		return keel_req_fail(req, err, "currency", "is not a currency of GET /api/v1/currencies");
	if (err == KEEL_EINVAL && strcmp(c, "ledgers_organization_fkey") == 0)
		return fin_not_found(req, "organization");
	return keel_svc_fail(req, err, NULL);
}

static keel_err
ledger_create(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *org_id = fin_path_id(req, "id"), *key;
	json_t *body;
	keel_tx *tx;
	fin_ledger ledger;
	fin_row row = {0};
	bool replayed;
	keel_err err;

	if (org_id == NULL)
		return fin_not_found(req, "organization");
	if ((err = parse_body(req, ledger_create_spec, KEEL_NELEM(ledger_create_spec), false, "ledger",
	                      &body)) != KEEL_OK ||
	    (err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK)
		return err;
	if ((err = keel_svc_idem_claim(req, tx, &key, &replayed)) != KEEL_OK || replayed)
		return err;
	err = fin_store_ledger(tx, keel_req_arena(req), org_id, &ledger);
	if (err == KEEL_OK)
		return keel_req_fail(req, KEEL_ECONFLICT, NULL, "the organization has a ledger already");
	if (err != KEEL_ECONFLICT)
		return fin_fail(req, tx, err, "organization");
	err = fin_store_ledger_create(tx, keel_req_arena(req), org_id, fin_str(body, "currency"), &row);
	if (err != KEEL_OK)
		return ledger_create_failed(req, tx, err);
	const char *location =
	    keel_arena_printf(keel_req_arena(req), "/api/v1/organizations/%s/ledger", org_id);

	return keel_svc_finish(req, tx, err, NULL, fin_reply(201, &row, location, key));
}

static keel_err
ledger_get(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *org_id = fin_path_id(req, "id");
	keel_tx *tx;
	fin_row row = {0};
	keel_err err;

	if (org_id == NULL)
		return fin_not_found(req, "organization");
	if ((err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK)
		return err;
	err = fin_store_ledger_get(tx, keel_req_arena(req), org_id, &row);
	if (err == KEEL_ECONFLICT)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "the organization has no ledger");
	return keel_svc_finish(req, tx, err, "organization", fin_reply(200, &row, NULL, NULL));
}

/* A ledger PATCH that changed nothing: 404 (no organization, no ledger) or 412. */
static keel_err
ledger_missed(keel_req *req, keel_tx *tx, const char *org_id, const char *version)
{
	fin_ledger ledger;
	keel_err err = fin_store_ledger(tx, keel_req_arena(req), org_id, &ledger);

	if (err == KEEL_ENOTFOUND)
		return fin_not_found(req, "organization");
	if (err == KEEL_ECONFLICT)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "the organization has no ledger");
	if (err == KEEL_OK)
		return keel_req_fail(req, KEEL_EPRECOND, NULL, "the ledger is not at version %s", version);
	return keel_svc_fail(req, err, NULL);
}

static keel_err
ledger_update_failed(keel_req *req, keel_tx *tx, keel_err err, const char *org_id,
                     const char *version)
{
	const char *c = keel_tx_constraint(tx);

	if (err == KEEL_ENOTFOUND)
		return ledger_missed(req, tx, org_id, version);
	for (int i = 0; err == KEEL_EINVAL && i < FIN_LEDGER_ACCOUNTS; i++)
		if (strcmp(c, ledger_fkeys[i]) == 0)
			return keel_req_fail(req, err, ledger_fields[i],
			                     "must be an account of this organization");
	return keel_svc_fail(req, err, NULL);
}

static keel_err
ledger_update(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *org_id = fin_path_id(req, "id"), *version;
	json_t *body;
	fin_ledger_input in = {0};
	keel_tx *tx;
	fin_row row = {0};
	keel_err err;

	if (org_id == NULL)
		return fin_not_found(req, "organization");
	if ((err = parse_body(req, ledger_update_spec, KEEL_NELEM(ledger_update_spec), true, "ledger",
	                      &body)) != KEEL_OK ||
	    (err = keel_svc_if_match(req, &version)) != KEEL_OK ||
	    (err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK)
		return err;
	for (int i = 0; i < FIN_LEDGER_ACCOUNTS; i++) {
		in.given[i] = json_object_get(body, ledger_fields[i]) != NULL;
		in.account[i] = fin_str(body, ledger_fields[i]);
	}
	err = fin_store_ledger_update(tx, keel_req_arena(req), org_id, &in, version, &row);
	if (err != KEEL_OK)
		return ledger_update_failed(req, tx, err, org_id, version);
	return keel_svc_finish(req, tx, err, NULL, fin_reply(200, &row, NULL, NULL));
}

/* ---- currencies ---- */

static keel_err
currency_list(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	keel_svc_list list;
	keel_tx *tx;
	keel_err err;

	if ((err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK)
		return err;
	keel_svc_list_begin(&list, keel_req_arena(req));
	err = fin_store_currencies(tx, &list);
	return keel_svc_finish(req, tx, err, NULL,
	                       (keel_svc_reply){.status = 200, .text = keel_svc_list_end(&list, NULL)});
}

/* ---- accounts ---- */

static void
account_input(const json_t *body, fin_account_input *in)
{
	memset(in, 0, sizeof(*in));
	in->code = fin_str(body, "code");
	in->name = fin_str(body, "name");
	in->type = fin_str(body, "type");
	in->parent_id = fin_str(body, "parent_id");
	in->currency = fin_str(body, "currency");
	in->status = fin_str(body, "status");
	in->is_group = bool_of(body, "is_group");
	in->requires_division = bool_of(body, "requires_division");
	in->revalue = bool_of(body, "revalue");
}

static keel_err
account_create_failed(keel_req *req, keel_tx *tx, keel_err err)
{
	const char *c = keel_tx_constraint(tx);

	if (err == KEEL_ECONFLICT && strcmp(c, "accounts_code_key") == 0)
		return keel_req_fail(req, err, "code", "is already used in this organization");
	if (err == KEEL_EINVAL && strcmp(c, "accounts_parent_fkey") == 0)
		return keel_req_fail(req, err, "parent_id",
		                     "must be a group account of the same type in this organization");
	if (err == KEEL_EINVAL && strcmp(c, "accounts_currency_fkey") == 0)
		return keel_req_fail(req, err, "currency", "is not a currency of GET /api/v1/currencies");
	return keel_svc_fail(req, err, NULL);
}

static keel_err
account_create(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *org_id = fin_path_id(req, "id"), *key;
	json_t *body;
	fin_account_input in;
	fin_ledger ledger;
	keel_tx *tx;
	fin_row row = {0};
	bool replayed;
	keel_uuid id;
	char text[KEEL_UUID_STRLEN + 1];
	keel_err err;

	if (org_id == NULL)
		return fin_not_found(req, "organization");
	if ((err = parse_body(req, account_create_spec, KEEL_NELEM(account_create_spec), false,
	                      "account", &body)) != KEEL_OK ||
	    (err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK ||
	    (err = fin_ledger_require(req, tx, org_id, &ledger)) != KEEL_OK)
		return err;
	if ((err = keel_svc_idem_claim(req, tx, &key, &replayed)) != KEEL_OK || replayed)
		return err;
	account_input(body, &in);
	keel_uuid_v7(&id);
	keel_uuid_format(&id, text);
	err = fin_store_account_create(tx, keel_req_arena(req), text, org_id, &in, &row);
	if (err != KEEL_OK)
		return account_create_failed(req, tx, err);
	const char *location = keel_arena_printf(keel_req_arena(req), "/api/v1/accounts/%s", row.id);

	return keel_svc_finish(req, tx, err, NULL, fin_reply(201, &row, location, key));
}

/* ?cursor= (the last code of the page before) into f->after_code; 400 when it is not one. */
static keel_err
parse_cursor(keel_req *req, fin_account_filter *f)
{
	char code[CURSOR_BYTES + 1] = {0};
	bool found;

	if (keel_svc_cursor_decode(req, CURSOR_KIND, code, CURSOR_BYTES, &found) != KEEL_OK)
		return KEEL_EMALFORMED;
	if (!found)
		return KEEL_OK;
	if (!code_valid(code))
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "cursor is invalid");
	f->after_code = keel_arena_strdup(keel_req_arena(req), code);
	return KEEL_OK;
}

/* ?type=, ?parent_id= (an account's id, or null: the top level) and ?cursor= into f. */
static keel_err
parse_filter(keel_req *req, fin_account_filter *f)
{
	const char *type = keel_req_query(req, "type");
	const char *parent = keel_req_query(req, "parent_id");

	memset(f, 0, sizeof(*f));
	if (parse_cursor(req, f) != KEEL_OK)
		return KEEL_EMALFORMED;
	for (int i = 0; type != NULL && type_choices[i] != NULL; i++)
		if (strcmp(type, type_choices[i]) == 0)
			f->type = type_choices[i];
	if (type != NULL && f->type == NULL)
		return keel_req_fail(req, KEEL_EMALFORMED, NULL,
		                     "type must be asset, liability, equity, income or expense");
	if (parent != NULL && strcmp(parent, "null") == 0)
		f->parent = 2;
	else if (parent != NULL && keel_uuid_valid(parent))
		f->parent = 1;
	else if (parent != NULL)
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "parent_id must be a UUID or null");
	f->parent_id = f->parent == 1 ? parent : NULL;
	return KEEL_OK;
}

static keel_err
account_list(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *org_id = fin_path_id(req, "id"), *next = NULL;
	fin_account_filter f;
	fin_account_page page = {0};
	fin_ledger ledger;
	keel_tx *tx;
	int limit;
	keel_err err;

	if (org_id == NULL)
		return fin_not_found(req, "organization");
	if ((err = keel_svc_page_limit(req, &limit)) != KEEL_OK ||
	    (err = parse_filter(req, &f)) != KEEL_OK ||
	    (err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK ||
	    (err = fin_ledger_require(req, tx, org_id, &ledger)) != KEEL_OK)
		return err;
	keel_svc_list_begin(&page.list, keel_req_arena(req));
	err = fin_store_account_list(tx, keel_req_arena(req), org_id, &f, limit, &page);
	if (err == KEEL_OK && page.list.count == limit && page.last_code != NULL) {
		char code[CURSOR_BYTES] = {0};

		memcpy(code, page.last_code, strnlen(page.last_code, CURSOR_BYTES));
		next = keel_svc_cursor_encode(req, CURSOR_KIND, code, CURSOR_BYTES);
	}
	return keel_svc_finish(
	    req, tx, err, NULL,
	    (keel_svc_reply){.status = 200, .text = keel_svc_list_end(&page.list, next)});
}

static keel_err
account_get(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *id = fin_path_id(req, "id");
	keel_tx *tx;
	fin_row row = {0};
	keel_err err;

	if (id == NULL)
		return fin_not_found(req, "account");
	if ((err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK)
		return err;
	err = fin_store_account_get(tx, keel_req_arena(req), id, &row);
	return keel_svc_finish(req, tx, err, "account", fin_reply(200, &row, NULL, NULL));
}

/* A guarded account write changed nothing: 412 when the account is at another version, else 404. */
static keel_err
account_missed(keel_req *req, keel_tx *tx, const char *id, const char *version)
{
	long current;
	keel_err err = version != NULL ? fin_store_account_version(tx, id, &current) : KEEL_ENOTFOUND;

	if (err == KEEL_OK)
		return keel_req_fail(req, KEEL_EPRECOND, NULL, "the account is at version %ld", current);
	if (err == KEEL_ENOTFOUND)
		return fin_not_found(req, "account");
	return keel_svc_fail(req, err, NULL);
}

static keel_err
account_update(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *id = fin_path_id(req, "id"), *version;
	json_t *body;
	fin_account_input in;
	keel_tx *tx;
	fin_row row = {0};
	keel_err err;

	if (id == NULL)
		return fin_not_found(req, "account");
	if ((err = parse_body(req, account_update_spec, KEEL_NELEM(account_update_spec), true,
	                      "account", &body)) != KEEL_OK ||
	    (err = keel_svc_if_match(req, &version)) != KEEL_OK ||
	    (err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK)
		return err;
	account_input(body, &in);
	err = fin_store_account_update(tx, keel_req_arena(req), id, &in, version, &row);
	if (err == KEEL_ENOTFOUND)
		return account_missed(req, tx, id, version);
	return keel_svc_finish(req, tx, err, NULL, fin_reply(200, &row, NULL, NULL));
}

/* What refuses an account's delete (a foreign key of constraint c), as the 409's sentence. */
static const char *
delete_refused(const char *c)
{
	if (strcmp(c, "journal_lines_account_fkey") == 0 || strcmp(c, "postings_account_fkey") == 0)
		return "journal lines (drafts or posted) name the account";
	if (strcmp(c, "accounts_parent_fkey") == 0)
		return "the account has child accounts";
	if (strcmp(c, "ledgers_rounding_account_fkey") == 0)
		return "the ledger names the account as its rounding account";
	if (strcmp(c, "ledgers_retained_earnings_account_fkey") == 0)
		return "the ledger names the account as its retained earnings account";
	if (strcmp(c, "ledgers_intercompany_receivable_account_fkey") == 0)
		return "the ledger names the account as its intercompany receivable account";
	if (strcmp(c, "ledgers_intercompany_payable_account_fkey") == 0)
		return "the ledger names the account as its intercompany payable account";
	return NULL;
}

static keel_err
account_delete(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *id = fin_path_id(req, "id"), *version, *why;
	keel_tx *tx;
	keel_err err;

	if (id == NULL)
		return fin_not_found(req, "account");
	if ((err = keel_svc_if_match(req, &version)) != KEEL_OK ||
	    (err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK)
		return err;
	err = fin_store_account_delete(tx, keel_req_arena(req), id, version);
	if (err == KEEL_ENOTFOUND)
		return account_missed(req, tx, id, version);
	if (err == KEEL_EINVAL && (why = delete_refused(keel_tx_constraint(tx))) != NULL)
		return keel_req_fail(req, KEEL_ECONFLICT, NULL, "%s", why);
	return keel_svc_finish(req, tx, err, NULL, (keel_svc_reply){.status = 204});
}

/* ---- routes ---- */

#define TYPE_ENUM                                                                                  \
	"{\"type\":\"string\",\"enum\":[\"asset\",\"liability\",\"equity\",\"income\",\"expense\"]}"

static const keel_schema ledger_schema = {
    .name = "Ledger",
    .json = "{\"type\":\"object\",\"required\":[\"organization_id\",\"currency\","
            "\"rounding_account_id\",\"retained_earnings_account_id\","
            "\"intercompany_receivable_account_id\",\"intercompany_payable_account_id\","
            "\"version\",\"created_at\",\"updated_at\"],\"properties\":{"
            "\"organization_id\":" FIN_UUID
            ",\"currency\":{\"type\":\"string\",\"pattern\":\"" CURRENCY_PATTERN
            "\"},\"rounding_account_id\":" FIN_UUID_NULL
            ",\"retained_earnings_account_id\":" FIN_UUID_NULL
            ",\"intercompany_receivable_account_id\":" FIN_UUID_NULL
            ",\"intercompany_payable_account_id\":" FIN_UUID_NULL
            ",\"version\":{\"type\":\"integer\"},\"created_at\":" FIN_TS ",\"updated_at\":" FIN_TS
            "}}"};

static const keel_schema currency_schema = {
    .name = "Currency",
    .json = "{\"type\":\"object\",\"required\":[\"code\",\"name\",\"minor_units\"],"
            "\"properties\":{\"code\":{\"type\":\"string\",\"pattern\":\"" CURRENCY_PATTERN "\"},"
            "\"name\":{\"type\":\"string\"},"
            "\"minor_units\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":4}}}"};

static const keel_schema account_schema = {
    .name = "Account",
    .json =
        "{\"type\":\"object\",\"required\":[\"id\",\"organization_id\",\"code\",\"name\","
        "\"type\",\"parent_id\",\"is_group\",\"currency\",\"requires_division\",\"revalue\","
        "\"status\",\"version\",\"created_at\",\"updated_at\"],\"properties\":{"
        "\"id\":" FIN_UUID ",\"organization_id\":" FIN_UUID
        ",\"code\":{\"type\":\"string\",\"pattern\":\"" CODE_PATTERN "\"},"
        "\"name\":{\"type\":\"string\"},\"type\":" TYPE_ENUM ",\"parent_id\":" FIN_UUID_NULL
        ",\"is_group\":{\"type\":\"boolean\"},\"currency\":{\"type\":[\"string\",\"null\"]},"
        "\"requires_division\":{\"type\":\"boolean\"},\"revalue\":{\"type\":\"boolean\"},"
        "\"status\":{\"type\":\"string\",\"enum\":[\"active\",\"inactive\"]},"
        "\"version\":{\"type\":\"integer\"},\"created_at\":" FIN_TS ",\"updated_at\":" FIN_TS "}}"};

static const keel_body ledger_create_body = KEEL_BODY("LedgerCreate", ledger_create_spec);
static const keel_body ledger_update_body = KEEL_BODY("LedgerUpdate", ledger_update_spec);
static const keel_body account_create_body = KEEL_BODY("AccountCreate", account_create_spec);
static const keel_body account_update_body = KEEL_BODY("AccountUpdate", account_update_spec);

static const keel_param org_param[] = {FIN_ORG_PARAM, {0}};
static const keel_param org_create_params[] = {FIN_ORG_PARAM, KEEL_SVC_IDEMPOTENCY_PARAM, {0}};
static const keel_param list_params[] = {
    FIN_ORG_PARAM,
    {"limit", "query",
     "{\"type\":\"integer\",\"minimum\":1,\"maximum\":" KEEL_SVC_STR(
         KEEL_PAGE_MAX) ",\"default\":" KEEL_SVC_STR(KEEL_PAGE_DEFAULT) "}",
     "Page size"},
    {"cursor", "query", "{\"type\":\"string\"}", "Opaque position: a page's next_cursor"},
    {"type", "query", TYPE_ENUM, "Only accounts of this type"},
    {"parent_id", "query", "{\"type\":\"string\"}",
     "An account's id (its children), or null (the top level)"},
    {0}};
static const keel_param account_param[] = {{"id", "path", FIN_UUID, "The account's id"}, {0}};

static const keel_route routes[] = {
    {.method = "POST",
     .path = "/api/v1/organizations/{id}/ledger",
     .handler = ledger_create,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Open an organization's ledger in its functional currency (once)",
     .operation_id = "createLedger",
     .body = &ledger_create_body,
     .reply = {201, KEEL_SHAPE_ONE, &ledger_schema},
     .params = org_create_params},
    {.method = "GET",
     .path = "/api/v1/organizations/{id}/ledger",
     .handler = ledger_get,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "An organization's ledger",
     .operation_id = "getLedger",
     .reply = {200, KEEL_SHAPE_ONE, &ledger_schema},
     .params = org_param},
    {.method = "PATCH",
     .path = "/api/v1/organizations/{id}/ledger",
     .handler = ledger_update,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Set or unset the ledger's rounding, retained-earnings and intercompany accounts",
     .operation_id = "updateLedger",
     .body = &ledger_update_body,
     .reply = {200, KEEL_SHAPE_ONE, &ledger_schema},
     .params = org_param},
    {.method = "GET",
     .path = "/api/v1/currencies",
     .handler = currency_list,
     .flags = KEEL_ROUTE_PUBLIC,
     .summary = "The ISO 4217 currencies a ledger or an account may use, in code order (one page)",
     .operation_id = "listCurrencies",
     .reply = {200, KEEL_SHAPE_LIST, &currency_schema},
     .problems = {503}}, /* it reads the database without authentication */
    {.method = "POST",
     .path = "/api/v1/organizations/{id}/accounts",
     .handler = account_create,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Create an account in an organization's chart of accounts",
     .operation_id = "createAccount",
     .body = &account_create_body,
     .reply = {201, KEEL_SHAPE_ONE, &account_schema},
     .params = org_create_params},
    {.method = "GET",
     .path = "/api/v1/organizations/{id}/accounts",
     .handler = account_list,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "An organization's chart of accounts in code order (?type=, ?parent_id=)",
     .operation_id = "listAccounts",
     .reply = {200, KEEL_SHAPE_LIST, &account_schema},
     .params = list_params,
     .problems = {409}},
    {.method = "GET",
     .path = "/api/v1/accounts/{id}",
     .handler = account_get,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "An account",
     .operation_id = "getAccount",
     .reply = {200, KEEL_SHAPE_ONE, &account_schema},
     .params = account_param},
    {.method = "PATCH",
     .path = "/api/v1/accounts/{id}",
     .handler = account_update,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Rename an account, (de)activate it, or change its division and revaluation flags",
     .operation_id = "updateAccount",
     .body = &account_update_body,
     .reply = {200, KEEL_SHAPE_ONE, &account_schema},
     .params = account_param},
    {.method = "DELETE",
     .path = "/api/v1/accounts/{id}",
     .handler = account_delete,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Delete an account that no journal line, child account or ledger names",
     .operation_id = "deleteAccount",
     .reply = {204, KEEL_SHAPE_NONE, NULL},
     .params = account_param},
};

void
fin_ledger_routes(keel_router *r, keel_fin *fin)
{
	keel_router_add_all(r, routes, KEEL_NELEM(routes), fin);
}
