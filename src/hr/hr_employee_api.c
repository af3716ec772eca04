/*
 * hr: employees.
 */
#include "hr/hr_int.h"

void
hr_employee_routes(keel_router *r, keel_hr *hr)
{
	(void)r;
	(void)hr;
}
