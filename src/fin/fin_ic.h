/*
 * Private to src/fin: intercompany entries' store (fin_ic_store.c), for fin_ic_api.c.
 */
#ifndef KEEL_FIN_FIN_IC_H
#define KEEL_FIN_FIN_IC_H

#include "fin/fin_int.h"

/* One side's organization and its ledger, as an intercompany entry needs them. */
typedef struct fin_ic_ledger {
	bool found;                       /* the organization is the tenant's */
	bool has_ledger;                  /* it has a ledger (then currency is set) */
	char currency[4];                 /* the ledger's functional currency */
	const char *receivable, *payable; /* its intercompany accounts; NULL: not set */
} fin_ic_ledger;

/* The ledgers of organizations from_org and to_org into out[0] and out[1]: one statement. */
keel_err fin_ic_store_ledgers(keel_tx *tx, keel_arena *a, const char *from_org, const char *to_org,
                              fin_ic_ledger out[2]);

/*
 * Link the posted entries from_entry (of from_org) and to_entry (of to_org) as intercompany
 * entry id; row its JSON ({id, from_entry_id, to_entry_id}).  The table's trigger (migration
 * 0017) checks both are posted general entries.
 */
keel_err fin_ic_store_link(keel_tx *tx, keel_arena *a, const char *id, const char *from_org,
                           const char *to_org, const char *from_entry, const char *to_entry,
                           fin_row *row);

/* Intercompany entry id as the transaction's only statement; KEEL_ENOTFOUND when not the tenant's.
 */
keel_err fin_ic_store_get(keel_tx *tx, keel_arena *a, const char *id, fin_row *row);

#endif
