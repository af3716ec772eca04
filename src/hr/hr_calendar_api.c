/*
 * hr: holiday calendars and holidays.
 */
#include "hr/hr_int.h"

void
hr_calendar_routes(keel_router *r, keel_hr *hr)
{
	(void)r;
	(void)hr;
}
