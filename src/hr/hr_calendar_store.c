/*
 * The SQL of holiday calendars and their holidays.
 *
 * Rows leave PostgreSQL as the API's JSON (columns id, version, json: hr_store_row); each write
 * enqueues its event with that JSON in the same transaction, a delete the row as it was.  The
 * rules are migration 0019's: work days ISO 1..7, each once, at least one (hr.workdays_valid;
 * stored in ascending order), a calendar's name unique in its organization, one holiday per
 * calendar and date (holidays_date_key), a holiday in its calendar's organization (the
 * composite foreign key), a calendar an employee uses is not deleted (employees_calendar_fkey).
 */
#include "hr/hr_int.h"
#include "events/events.h"

#include <stdio.h>
#include <stdlib.h>

#define CURRENT "core.current_tenant_id()"
#define NIL     "00000000-0000-0000-0000-000000000000" /* before every id */

#define CALENDAR_JSON                                                                              \
	"json_build_object('id', c.id, 'organization_id', c.organization_id, 'name', c.name,"          \
	" 'workdays', to_json(c.workdays), 'version', c.version,"                                      \
	" 'created_at', " KEEL_DB_TS("c.created_at") ", 'updated_at', " KEEL_DB_TS(                    \
	    "c.updated_at") ")::text"
#define CALENDAR_ROW "c.id, c.version, " CALENDAR_JSON
#define SORTED(p)    "ARRAY(SELECT unnest(" p "::smallint[]) ORDER BY 1)"

#define HOLIDAY_JSON                                                                               \
	"json_build_object('id', h.id, 'calendar_id', h.calendar_id, 'date', h.date::text,"            \
	" 'name', h.name, 'half_day', h.half_day, 'version', h.version,"                               \
	" 'created_at', " KEEL_DB_TS("h.created_at") ", 'updated_at', " KEEL_DB_TS(                    \
	    "h.updated_at") ")::text"
#define HOLIDAY_ROW "h.id, h.version, " HOLIDAY_JSON

static const keel_stmt st_calendar_create = {
    "hr_calendar_create",
    "INSERT INTO hr.holiday_calendars AS c (tenant_id, id, organization_id, name, workdays)"
    " VALUES (" CURRENT ", $1, $2, $3, " SORTED("$4") ") RETURNING " CALENDAR_ROW,
    4};
static const keel_stmt st_calendar_get = {
    "hr_calendar_get",
    "SELECT " CALENDAR_ROW " FROM hr.holiday_calendars c WHERE c.tenant_id = " CURRENT
    " AND c.id = $1",
    1};
static const keel_stmt st_calendar_list = {
    "hr_calendar_list",
    "SELECT " CALENDAR_ROW " FROM hr.holiday_calendars c WHERE c.tenant_id = " CURRENT
    " AND c.organization_id = $1 AND c.id > $2::uuid ORDER BY c.id LIMIT $3::integer",
    3};
static const keel_stmt st_calendar_update = {
    "hr_calendar_update",
    "UPDATE hr.holiday_calendars AS c SET name = coalesce($2, c.name),"
    " workdays = CASE WHEN $3::smallint[] IS NULL THEN c.workdays ELSE " SORTED(
        "$3") " END,"
              " version = c.version + 1, updated_at = now()"
              " WHERE c.tenant_id = " CURRENT " AND c.id = $1"
              " AND ($4::integer IS NULL OR c.version = $4::integer) RETURNING " CALENDAR_ROW,
    4};
/* Its holidays first (their events), so that the delete of the calendar cascades to none. */
static const keel_stmt st_calendar_holidays_delete = {
    "hr_calendar_holidays_delete",
    "DELETE FROM hr.holidays h WHERE h.tenant_id = " CURRENT " AND h.calendar_id = $1"
    " RETURNING " HOLIDAY_ROW,
    1};
static const keel_stmt st_calendar_delete = {
    "hr_calendar_delete",
    "DELETE FROM hr.holiday_calendars c WHERE c.tenant_id = " CURRENT " AND c.id = $1"
    " AND ($2::integer IS NULL OR c.version = $2::integer) RETURNING " CALENDAR_ROW,
    2};
static const keel_stmt st_calendar_version = {
    "hr_calendar_version",
    "SELECT c.version FROM hr.holiday_calendars c WHERE c.tenant_id = " CURRENT " AND c.id = $1",
    1};

static const keel_stmt st_holiday_create = {
    "hr_holiday_create",
    "INSERT INTO hr.holidays AS h (tenant_id, id, organization_id, calendar_id, date, name,"
    " half_day) SELECT c.tenant_id, $1, c.organization_id, c.id, $3::date, $4, $5"
    " FROM hr.holiday_calendars c WHERE c.tenant_id = " CURRENT " AND c.id = $2"
    " RETURNING " HOLIDAY_ROW,
    5};
/* A page in date order (holidays_date_key) after $2, from $3 to $4. */
static const keel_stmt st_holiday_list = {
    "hr_holiday_list",
    "SELECT h.date::text, " HOLIDAY_JSON " FROM hr.holidays h WHERE h.tenant_id = " CURRENT
    " AND h.calendar_id = $1 AND h.date > $2::date"
    " AND h.date >= coalesce($3::date, '-infinity') AND h.date <= coalesce($4::date, 'infinity')"
    " ORDER BY h.date LIMIT $5::integer",
    5};
static const keel_stmt st_holiday_delete = {
    "hr_holiday_delete",
    "DELETE FROM hr.holidays h WHERE h.tenant_id = " CURRENT " AND h.id = $1"
    " AND ($2::integer IS NULL OR h.version = $2::integer) RETURNING " HOLIDAY_ROW,
    2};
static const keel_stmt st_holiday_version = {
    "hr_holiday_version",
    "SELECT h.version FROM hr.holidays h WHERE h.tenant_id = " CURRENT " AND h.id = $1", 1};

static keel_err
version_of(keel_tx *tx, const keel_stmt *st, const char *id, long *version)
{
	const char *p[] = {id};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, st, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	*version = strtol(keel_res_get(res, 0, 0), NULL, 10);
	return KEEL_OK;
}

keel_err
hr_store_calendar_create(keel_tx *tx, keel_arena *a, const char *id, const char *org_id,
                         const hr_calendar_input *in, hr_row *row)
{
	const char *p[] = {id, org_id, in->name, in->workdays};

	return hr_store_write(tx, a, &st_calendar_create, p, row, "keel.holiday_calendar.created");
}

keel_err
hr_store_calendar_get(keel_tx *tx, keel_arena *a, const char *id, hr_row *row)
{
	const char *p[] = {id};
	keel_res *res;
	keel_err err = keel_tx_exec_only(tx, &st_calendar_get, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	hr_store_row(res, 0, a, row);
	return KEEL_OK;
}

keel_err
hr_store_calendar_list(keel_tx *tx, keel_arena *a, const char *org_id, const char *after, int limit,
                       keel_svc_list *list, const char **last)
{
	char lim[16];
	const char *p[] = {org_id, after != NULL ? after : NIL, lim};
	keel_res *res;

	snprintf(lim, sizeof(lim), "%d", limit);
	keel_err err = keel_tx_exec(tx, &st_calendar_list, p, &res);

	*last = NULL;
	if (err != KEEL_OK)
		return err;
	int n = keel_res_rows(res);

	for (int i = 0; i < n; i++)
		keel_svc_list_add(list, keel_res_get(res, i, 2));
	if (n > 0)
		*last = keel_arena_strdup(a, keel_res_get(res, n - 1, 0));
	return KEEL_OK;
}

keel_err
hr_store_calendar_update(keel_tx *tx, keel_arena *a, const char *id, const hr_calendar_input *in,
                         const char *version, hr_row *row)
{
	const char *p[] = {id, in->name, in->workdays, version};

	return hr_store_write(tx, a, &st_calendar_update, p, row, "keel.holiday_calendar.updated");
}

keel_err
hr_store_calendar_delete(keel_tx *tx, keel_arena *a, const char *id, const char *version)
{
	const char *p[] = {id, version};
	keel_res *res;
	hr_row row;
	keel_err err = keel_tx_exec(tx, &st_calendar_holidays_delete, p, &res);

	for (int i = 0; err == KEEL_OK && i < keel_res_rows(res); i++) {
		hr_store_row(res, i, a, &row);
		err = keel_events_enqueue(tx, "keel.holiday.deleted", row.id, row.json);
	}
	if (err != KEEL_OK)
		return err;
	return hr_store_write(tx, a, &st_calendar_delete, p, &row, "keel.holiday_calendar.deleted");
}

keel_err
hr_store_calendar_version(keel_tx *tx, const char *id, long *version)
{
	return version_of(tx, &st_calendar_version, id, version);
}

keel_err
hr_store_holiday_create(keel_tx *tx, keel_arena *a, const char *id, const char *calendar_id,
                        const hr_holiday_input *in, hr_row *row)
{
	const char *p[] = {id, calendar_id, in->date, in->name, in->half_day};

	return hr_store_write(tx, a, &st_holiday_create, p, row, "keel.holiday.created");
}

keel_err
hr_store_holiday_list(keel_tx *tx, keel_arena *a, const char *calendar_id, const char *from,
                      const char *to, const char *after, int limit, keel_svc_list *list,
                      const char **last)
{
	char lim[16];
	const char *p[] = {calendar_id, after != NULL ? after : "-infinity", from, to, lim};
	keel_res *res;

	snprintf(lim, sizeof(lim), "%d", limit);
	keel_err err = keel_tx_exec(tx, &st_holiday_list, p, &res);

	*last = NULL;
	if (err != KEEL_OK)
		return err;
	int n = keel_res_rows(res);

	for (int i = 0; i < n; i++)
		keel_svc_list_add(list, keel_res_get(res, i, 1));
	if (n > 0)
		*last = keel_arena_strdup(a, keel_res_get(res, n - 1, 0));
	return KEEL_OK;
}

keel_err
hr_store_holiday_delete(keel_tx *tx, keel_arena *a, const char *id, const char *version)
{
	const char *p[] = {id, version};
	hr_row row;

	return hr_store_write(tx, a, &st_holiday_delete, p, &row, "keel.holiday.deleted");
}

keel_err
hr_store_holiday_version(keel_tx *tx, const char *id, long *version)
{
	return version_of(tx, &st_holiday_version, id, version);
}
