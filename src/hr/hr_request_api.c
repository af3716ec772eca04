/*
 * hr: leave requests and their approvals.
 */
#include "hr/hr_int.h"

void
hr_request_routes(keel_router *r, keel_hr *hr)
{
	(void)r;
	(void)hr;
}
