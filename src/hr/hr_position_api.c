/*
 * hr: positions and assignments.
 */
#include "hr/hr_int.h"

void
hr_position_routes(keel_router *r, keel_hr *hr)
{
	(void)r;
	(void)hr;
}
