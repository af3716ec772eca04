/*
 * HR rows by SQL as keel_app (kt_hr.h).
 */
#include "kt_hr.h"
#include "kt.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

/* A fresh UUIDv7 from the database, as keel would make it. */
static char *
new_id(PGconn *app, const char *tenant)
{
	return kt_pg_tenant_value(app, tenant, "SELECT audit.uuid_v7(clock_timestamp())::text", NULL);
}

/* Run sql with n params as tenant; fails the test unless it succeeds. */
static void
run(PGconn *app, const char *tenant, const char *sql, int n, const char *const *params)
{
	kt_pg_set_tenant(app, tenant);
	PGresult *res = PQexecParams(app, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(app));
	PQclear(res);
}

void
kt_hr_as_user(PGconn *app, const char *user_id)
{
	const char *p[] = {user_id != NULL ? user_id : ""};
	PGresult *res =
	    PQexecParams(app, "SELECT set_config('app.user_id', $1, false)", 1, NULL, p, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("app.user_id: %s", PQerrorMessage(app));
	PQclear(res);
}

char *
kt_hr_calendar(PGconn *app, const char *tenant, const char *org, const char *name,
               const char *workdays)
{
	char *id = new_id(app, tenant);
	const char *p[] = {id, org, name, workdays};

	run(app, tenant,
	    "INSERT INTO hr.holiday_calendars (tenant_id, id, organization_id, name, workdays)"
	    " VALUES (core.current_tenant_id(), $1, $2, $3, $4::smallint[])",
	    4, p);
	return id;
}

void
kt_hr_holiday(PGconn *app, const char *tenant, const char *org, const char *calendar,
              const char *date, const char *half_day)
{
	char *id = new_id(app, tenant);
	const char *p[] = {id, org, calendar, date, half_day};

	run(app, tenant,
	    "INSERT INTO hr.holidays (tenant_id, id, organization_id, calendar_id, date, name, "
	    "half_day)"
	    " VALUES (core.current_tenant_id(), $1, $2, $3, $4, 'Holiday', $5)",
	    5, p);
	free(id);
}

char *
kt_hr_employee(PGconn *app, const char *tenant, const char *org, const char *user_id,
               const char *manager_id, const char *calendar_id, const char *hire_date)
{
	char *id = new_id(app, tenant);
	const char *p[] = {id, org, user_id, manager_id, calendar_id, hire_date};

	run(app, tenant,
	    "INSERT INTO hr.employees (tenant_id, id, organization_id, first_name, last_name,"
	    " user_id, manager_id, calendar_id, hire_date)"
	    " VALUES (core.current_tenant_id(), $1, $2, 'Test', 'Employee', $3, $4, $5, $6)",
	    6, p);
	return id;
}

char *
kt_hr_position(PGconn *app, const char *tenant, const char *org, const char *division,
               const char *title, int headcount)
{
	char *id = new_id(app, tenant);
	char count[16];

	snprintf(count, sizeof(count), "%d", headcount);
	const char *p[] = {id, org, division, title, count};

	run(app, tenant,
	    "INSERT INTO hr.positions (tenant_id, id, organization_id, division_id, title, headcount)"
	    " VALUES (core.current_tenant_id(), $1, $2, $3, $4, $5)",
	    5, p);
	return id;
}

char *
kt_hr_leave_type(PGconn *app, const char *tenant, const char *org, const char *code,
                 int approval_levels, int allow_negative, const char *carry_max,
                 const char *carry_months)
{
	char *id = new_id(app, tenant);
	char levels[8];

	snprintf(levels, sizeof(levels), "%d", approval_levels);
	const char *p[] = {id,        org,         code, levels, allow_negative ? "true" : "false",
	                   carry_max, carry_months};

	run(app, tenant,
	    "INSERT INTO hr.leave_types (tenant_id, id, organization_id, code, name, approval_levels,"
	    " allow_negative, carry_forward_max, carry_forward_expires_after)"
	    " VALUES (core.current_tenant_id(), $1, $2, $3, $3, $4, $5, $6, $7)",
	    7, p);
	return id;
}

char *
kt_hr_allocate(PGconn *app, const char *tenant, const char *org, const char *employee,
               const char *leave_type, const char *days, const char *from, const char *to)
{
	char *id = new_id(app, tenant);
	const char *p[] = {id, org, employee, leave_type, days, from, to};

	run(app, tenant,
	    "INSERT INTO hr.leave_entries (tenant_id, id, organization_id, employee_id, leave_type_id,"
	    " kind, days, date, valid_from, valid_to, reason)"
	    " VALUES (core.current_tenant_id(), $1, $2, $3, $4, 'allocation', $5, $6, $6, $7,"
	    " 'test allocation')",
	    7, p);
	return id;
}

char *
kt_hr_request(PGconn *app, const char *tenant, const char *org, const char *employee,
              const char *leave_type, const char *start, const char *end)
{
	char *id = new_id(app, tenant);
	const char *p[] = {id, org, employee, leave_type, start, end};

	run(app, tenant,
	    "INSERT INTO hr.leave_requests (tenant_id, id, organization_id, employee_id,"
	    " leave_type_id, start_date, end_date)"
	    " VALUES (core.current_tenant_id(), $1, $2, $3, $4, $5, $6)",
	    6, p);
	return id;
}
