/*
 * The hr module's routes, and what its parts share: path ids, the organization and employee
 * lookups the routes start with, and the answer of the module's own database errors.
 */
#include "hr/hr_int.h"
#include "access/access.h"
#include "core/date.h"
#include "core/uuid.h"

const char *
hr_path_id(keel_req *req, const char *name)
{
	const char *id = keel_req_param(req, name);

	return id != NULL && keel_uuid_valid(id) ? id : NULL;
}

bool
hr_date_valid(const char *s)
{
	int32_t days;

	return keel_date_parse(s, &days);
}

keel_err
hr_employee_missing(keel_req *req)
{
	return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such employee");
}

keel_err
hr_fail(keel_req *req, keel_tx *tx, keel_err err, const char *what)
{
	return keel_svc_fail_tx(req, tx, err, what);
}

keel_svc_reply
hr_reply(int status, const hr_row *row, const char *location, const char *idem_key)
{
	return (keel_svc_reply){.status = status,
	                        .text = row->json,
	                        .version = row->version,
	                        .location = location,
	                        .idem_key = idem_key};
}

keel_err
hr_org_require(keel_req *req, keel_tx *tx, const char *org_id)
{
	keel_err err = hr_store_org_exists(tx, org_id);

	if (err == KEEL_ENOTFOUND)
		return keel_req_fail(req, err, NULL, "no such organization");
	return err == KEEL_OK ? KEEL_OK : keel_svc_fail(req, err, NULL);
}

keel_err
hr_employee_require(keel_req *req, keel_tx *tx, const char *id, hr_access need, hr_employee *out)
{
	keel_err err = hr_store_employee_access(tx, keel_req_arena(req), id, out);

	if (err == KEEL_ENOTFOUND)
		return hr_employee_missing(req);
	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (out->access < need)
		return keel_req_fail(req, KEEL_EDENIED, NULL,
		                     need == HR_SEE_ADMIN
		                         ? "this requires the admin role or higher"
		                         : "an employee's records are its own user's, its manager's "
		                           "and the admins'");
	return KEEL_OK;
}

bool
hr_caller_admin(keel_req *req)
{
	return keel_access_principal(req)->role >= KEEL_ROLE_ADMIN;
}

void
keel_hr_routes(keel_router *r, keel_hr *hr)
{
	hr_employee_routes(r, hr);
	hr_position_routes(r, hr);
	hr_calendar_routes(r, hr);
	hr_leave_routes(r, hr);
	hr_request_routes(r, hr);
}
