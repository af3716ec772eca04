/*
 * keel fin: the general ledger of an organization.
 */
#ifndef KEEL_FIN_FIN_H
#define KEEL_FIN_FIN_H

#include "db/db.h"
#include "http/http.h"

typedef struct keel_fin {
	keel_db_pool *pool; /* borrowed */
} keel_fin;

/*
 * /api/v1/currencies, /api/v1/organizations/{id}/ledger|accounts|fiscal-years|periods|
 * journal-entries|trial-balance, /api/v1/accounts/{id}[/ledger], /api/v1/fiscal-years/{id},
 * /api/v1/periods/{id}/close|reopen|lock, /api/v1/journal-entries/{id}[/post|/reverse],
 * /api/v1/exchange-rates.
 */
void keel_fin_routes(keel_router *r, keel_fin *fin);

#endif
