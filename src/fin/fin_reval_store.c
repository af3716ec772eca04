/*
 * The revaluation's SQL: one call of migration 0016's fin.revalue, which computes the
 * restatement, writes both entries and posts them (the rule lives in PostgreSQL), then both
 * entries read back as the API's JSON (fin_entry_store_get) for their events.
 */
#include "fin/fin_reval.h"
#include "core/uuid.h"
#include "events/events.h"
#include "fin/fin_entry.h"

static const keel_stmt st_revalue = {"fin_reval_run",
                                     "SELECT fin.revalue($1, $2::date, $3, $4, $5, $6)", 6};

static void
uuid_new(char out[KEEL_UUID_STRLEN + 1])
{
	keel_uuid u;

	keel_uuid_v7(&u);
	keel_uuid_format(&u, out);
}

keel_err
fin_reval_store_run(keel_tx *tx, keel_arena *a, const char *org_id, const fin_reval_in *in,
                    fin_row *row)
{
	char id[KEEL_UUID_STRLEN + 1], rev[KEEL_UUID_STRLEN + 1];
	fin_row reversal = {0}, posted = {0};
	keel_err err;

	uuid_new(id);
	uuid_new(rev);
	const char *p[] = {org_id, in->date, in->gain_account_id, in->loss_account_id, id, rev};

	if ((err = keel_tx_exec(tx, &st_revalue, p, NULL)) != KEEL_OK ||
	    (err = fin_entry_store_event(tx, a, id, "keel.journal_entry.posted", &posted)) != KEEL_OK ||
	    (err = fin_entry_store_event(tx, a, rev, "keel.journal_entry.posted", &reversal)) !=
	        KEEL_OK)
		return err;
	return fin_entry_store_event(tx, a, id, "keel.journal_entry.reversed", row);
}
