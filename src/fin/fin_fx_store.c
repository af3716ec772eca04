/*
 * Exchange rates' SQL.  A rate leaves PostgreSQL as the API's JSON, its numeric rendered as
 * text (the canonical text it was given: rate.h); the rate in force is migration 0013's
 * fin.rate_in_force's reading (the latest on or before the day, never inverted).
 */
#include "fin/fin_fx.h"
#include "events/events.h"

#define CURRENT "core.current_tenant_id()"

#define RATE_JSON                                                                                  \
	"json_build_object('from', r.from_currency, 'to', r.to_currency, 'rate', r.rate::text,"        \
	" 'date', to_char(r.date, 'YYYY-MM-DD'))::text"

static const keel_stmt st_create = {
    "fin_fx_create",
    "INSERT INTO fin.exchange_rates AS r (tenant_id, id, from_currency, to_currency, rate, date)"
    " VALUES (" CURRENT ", $1, $2, $3, $4::numeric, $5::date) RETURNING " RATE_JSON,
    5};

static const keel_stmt st_in_force = {
    "fin_fx_in_force",
    "SELECT " RATE_JSON " FROM fin.exchange_rates r WHERE r.tenant_id = " CURRENT
    " AND r.from_currency = $1 AND r.to_currency = $2 AND r.date <= $3::date"
    " ORDER BY r.date DESC LIMIT 1",
    3};

keel_err
fin_fx_store_create(keel_tx *tx, keel_arena *a, const char *id, const fin_fx_rate *r,
                    const char **json)
{
	const char *p[] = {id, r->from, r->to, r->rate, r->date};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_create, p, &res);

	if (err != KEEL_OK)
		return err;
	*json = keel_res_json(res, 0, 0, a);
	return keel_events_enqueue(tx, "keel.exchange_rate.created", id, *json);
}

keel_err
fin_fx_store_in_force(keel_tx *tx, keel_arena *a, const char *from, const char *to,
                      const char *date, const char **json)
{
	const char *p[] = {from, to, date};
	keel_res *res;
	keel_err err = keel_tx_exec_only(tx, &st_in_force, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	*json = keel_res_json(res, 0, 0, a);
	return KEEL_OK;
}
