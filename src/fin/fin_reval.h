/*
 * Private to src/fin: the revaluation's store (fin_reval_store.c), for fin_reval_api.c.
 */
#ifndef KEEL_FIN_FIN_REVAL_H
#define KEEL_FIN_FIN_REVAL_H

#include "fin/fin_int.h"

/* A revaluation as the body gives it (checked: a date, two UUIDs). */
typedef struct fin_reval_in {
	const char *date;
	const char *gain_account_id, *loss_account_id;
} fin_reval_in;

/*
 * Revalue organization org_id (fin.revalue, migration 0016): the revaluation and its reversal
 * posted, each with keel.journal_entry.posted, the revaluation's keel.journal_entry.reversed,
 * and the revaluation as it now reads into row.  The function's KF404/KF422 are for fin_fail.
 */
keel_err fin_reval_store_run(keel_tx *tx, keel_arena *a, const char *org_id, const fin_reval_in *in,
                             fin_row *row);

#endif
