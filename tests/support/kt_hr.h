/*
 * HR rows for tests whose subject is something else (another part's route, a race, the
 * isolation walk, a benchmark's fixture): made by SQL as keel_app in one tenant, through
 * migration 0019's own rules and triggers, never around them.  A test of an HR route makes
 * its rows through that route instead.  Each fails the test on error; returned ids are
 * malloc'd.  Optional arguments are NULL for none.
 */
#ifndef KT_HR_H
#define KT_HR_H

#include <libpq-fe.h>

/* The user the next statements on app act as (app.user_id, session-wide; NULL: none). */
void kt_hr_as_user(PGconn *app, const char *user_id);

/* A holiday calendar with workdays as a PostgreSQL array ("{1,2,3,4,5}").  Its id. */
char *kt_hr_calendar(PGconn *app, const char *tenant, const char *org, const char *name,
                     const char *workdays);

/* A holiday of the calendar; half_day "am", "pm" or NULL (the whole day). */
void kt_hr_holiday(PGconn *app, const char *tenant, const char *org, const char *calendar,
                   const char *date, const char *half_day);

/* An employee hired on hire_date (YYYY-MM-DD), linked to user_id, managed by manager_id, on
 * calendar_id.  Its id. */
char *kt_hr_employee(PGconn *app, const char *tenant, const char *org, const char *user_id,
                     const char *manager_id, const char *calendar_id, const char *hire_date);

/* A position in the division.  Its id. */
char *kt_hr_position(PGconn *app, const char *tenant, const char *org, const char *division,
                     const char *title, int headcount);

/* A leave type; carry_max ("5") and carry_months ("3") NULL for no carry-forward / no expiry. */
char *kt_hr_leave_type(PGconn *app, const char *tenant, const char *org, const char *code,
                       int approval_levels, int allow_negative, const char *carry_max,
                       const char *carry_months);

/* An allocation (or, negative, a correction) of days ("20", "-1.5") from..to.  Its id. */
char *kt_hr_allocate(PGconn *app, const char *tenant, const char *org, const char *employee,
                     const char *leave_type, const char *days, const char *from, const char *to);

/*
 * A leave request from start to end (whole days), submitted as the user kt_hr_as_user() set
 * (the employee's own or an admin, which the database checks).  Its id.
 */
char *kt_hr_request(PGconn *app, const char *tenant, const char *org, const char *employee,
                    const char *leave_type, const char *start, const char *end);

#endif
