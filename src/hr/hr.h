/*
 * keel hr: employees, positions and assignments, holiday calendars, leave.
 */
#ifndef KEEL_HR_HR_H
#define KEEL_HR_HR_H

#include "db/db.h"
#include "http/http.h"

typedef struct keel_hr {
	keel_db_pool *pool; /* borrowed */
} keel_hr;

/*
 * /api/v1/organizations/{id}/employees|holiday-calendars|leave-types, /api/v1/employees/{id}
 * [/assignments|/leave-allocations|/leave-balances|/leave-requests],
 * /api/v1/divisions/{id}/positions, /api/v1/positions/{id}, /api/v1/holiday-calendars/{id}
 * [/holidays], /api/v1/leave-requests/{id}[/approve|/reject|/withdraw|/cancel].
 */
void keel_hr_routes(keel_router *r, keel_hr *hr);

#endif
