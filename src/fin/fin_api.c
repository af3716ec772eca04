/*
 * The fin module's routes, and what its parts share: path ids, the ledger every
 * organization-scoped route starts with, and the answer of the module's own database errors.
 */
#include "fin/fin_int.h"
#include "core/date.h"
#include "core/uuid.h"

#include <string.h>

const char *
fin_path_id(keel_req *req, const char *name)
{
	const char *id = keel_req_param(req, name);

	return id != NULL && keel_uuid_valid(id) ? id : NULL;
}

bool
fin_date_valid(const char *s)
{
	int32_t days;

	return keel_date_parse(s, &days);
}

bool
fin_currency_valid(const char *s)
{
	return strlen(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' &&
	       s[2] >= 'A' && s[2] <= 'Z';
}

const char *
fin_str(const json_t *body, const char *name)
{
	return json_string_value(json_object_get(body, name));
}

keel_err
fin_not_found(keel_req *req, const char *what)
{
	return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such %s", what);
}

keel_err
fin_fail(keel_req *req, keel_tx *tx, keel_err err, const char *what)
{
	return keel_svc_fail_tx(req, tx, err, what);
}

keel_err
fin_ledger_require(keel_req *req, keel_tx *tx, const char *org_id, fin_ledger *out)
{
	keel_err err = fin_store_ledger(tx, keel_req_arena(req), org_id, out);

	if (err == KEEL_ENOTFOUND)
		return keel_req_fail(req, err, NULL, "no such organization");
	if (err == KEEL_ECONFLICT)
		return keel_req_fail(req, err, NULL,
		                     "the organization has no ledger: open it with POST "
		                     "/api/v1/organizations/%s/ledger",
		                     org_id);
	return err == KEEL_OK ? KEEL_OK : keel_svc_fail(req, err, NULL);
}

keel_svc_reply
fin_reply(int status, const fin_row *row, const char *location, const char *idem_key)
{
	return (keel_svc_reply){.status = status,
	                        .text = row->json,
	                        .version = row->version,
	                        .location = location,
	                        .idem_key = idem_key};
}

void
keel_fin_routes(keel_router *r, keel_fin *fin)
{
	fin_ledger_routes(r, fin);
	fin_period_routes(r, fin);
	fin_entry_routes(r, fin);
	fin_report_routes(r, fin);
	fin_fx_routes(r, fin);
	fin_statement_routes(r, fin);
	fin_ic_routes(r, fin);
	fin_reval_routes(r, fin);
}
