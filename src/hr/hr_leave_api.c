/*
 * hr: leave types, allocations and balances.
 */
#include "hr/hr_int.h"

void
hr_leave_routes(keel_router *r, keel_hr *hr)
{
	(void)r;
	(void)hr;
}
