/*
 * Private to src/fin: exchange rates' store (fin_fx_store.c), for fin_fx_api.c and the
 * journal entries' foreign-currency lines.
 */
#ifndef KEEL_FIN_FIN_FX_H
#define KEEL_FIN_FIN_FX_H

#include "fin/fin_int.h"

/* A rate as a body gives it: currencies checked ^[A-Z]{3}$, rate canonical, date checked. */
typedef struct fin_fx_rate {
	const char *from, *to, *rate, *date;
} fin_fx_rate;

/*
 * Insert rate r (id) and enqueue keel.exchange_rate.created; *json the row as the API reads it
 * ({from, to, rate, date}).  Constraint errors as keel_tx_exec gives them.
 */
keel_err fin_fx_store_create(keel_tx *tx, keel_arena *a, const char *id, const fin_fx_rate *r,
                             const char **json);

/* The rate from -> to in force on date (the latest on or before it): KEEL_ENOTFOUND for none. */
keel_err fin_fx_store_in_force(keel_tx *tx, keel_arena *a, const char *from, const char *to,
                               const char *date, const char **json);

#endif
