/*
 * Finance: period routes.
 */
#include "fin/fin_int.h"

void
fin_period_routes(keel_router *r, keel_fin *fin)
{
	(void)r;
	(void)fin;
}
