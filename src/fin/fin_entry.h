/*
 * Private to src/fin: journal entries' store (fin_entry_store.c), for fin_entry_api.c.
 */
#ifndef KEEL_FIN_FIN_ENTRY_H
#define KEEL_FIN_FIN_ENTRY_H

#include "fin/fin_int.h"

#define FIN_ENTRY_LINES_MAX 1000

/* The debits or the credits of an entry past int64_t. */
#define FIN_ENTRY_OVERFLOW "the debits or the credits add up past the largest amount"

/* A line as the API gave it, amounts in its currency's minor units (one of them 0). */
typedef struct fin_line_in {
	const char *account_id;
	const char *division_id; /* NULL: none */
	const char *memo;        /* NULL: "" */
	const char *currency;    /* the line's, or else the entry's */
	const char *rate;        /* canonical (rate.h); NULL: 1 or the rate in force on the date */
	int64_t debit, credit;
} fin_line_in;

/* An entry's writable fields; NULL (lines: nlines 0): not given. */
typedef struct fin_entry_in {
	const char *journal;
	const char *date; /* YYYY-MM-DD, checked */
	const char *memo;
	const char *currency; /* the entry's (create only; the lines' default) */
	fin_line_in *lines;
	int nlines;
} fin_entry_in;

/* An entry as a write finds it, locked (fin_entry_store_lock). */
typedef struct fin_entry_state {
	const char *organization_id;
	const char *status;
	const char *currency; /* the entry's */
	const char *date;     /* the entry's, YYYY-MM-DD */
	long version;
	fin_row row; /* as it reads now */
} fin_entry_state;

/* Where a page of entries ended: its last row's key in the list's order, as SQL text. */
typedef struct fin_entry_key {
	char date[16];
	char journal[16];
	char sequence[24]; /* "" for a draft */
	char id[40];
} fin_entry_key;

typedef struct fin_entry_filter {
	const char *organization_id;
	const char *status, *journal, *from, *to, *account_id; /* NULL: any */
	const fin_entry_key *after;                            /* NULL: from the start */
	int limit;
	bool lines; /* the entries with their lines (the CSV answer) */
} fin_entry_filter;

/*
 * The lines of in whose account or division is not one of organization org_id (another
 * organization's or tenant's, or none): a field error each ("lines[3].account_id") appended to
 * errors.  Their number.
 */
keel_err fin_entry_store_bad_refs(keel_tx *tx, keel_arena *a, const char *org_id,
                                  const fin_entry_in *in, json_t *errors, size_t *bad);

/*
 * The minor units of each of codes[0..n) into units[i], -1 for a code that is no currency.
 */
keel_err fin_entry_store_units(keel_tx *tx, keel_arena *a, const char *const *codes, int n,
                               int *units);

/*
 * The lines of in that cannot be converted into ledger_currency on date: a foreign line without
 * a rate and no rate in force ("lines[2].currency"), a line or the totals past the largest
 * amount once converted; a field error each appended to errors.  Their number.
 */
keel_err fin_entry_store_bad_fx(keel_tx *tx, keel_arena *a, const char *ledger_currency,
                                const char *date, const fin_entry_in *in, json_t *errors,
                                size_t *bad);

/*
 * A draft with in's lines in the entry's currency in->currency; the lines' functional amounts
 * in ledger_currency at their rates.
 */
keel_err fin_entry_store_create(keel_tx *tx, keel_arena *a, const char *id, const char *org_id,
                                const char *currency, const fin_entry_in *in);

/* The entry as it reads (one statement: the transaction's only one when only). */
keel_err fin_entry_store_get(keel_tx *tx, keel_arena *a, const char *id, bool only, fin_row *row);

/* The entry as it reads into row, and its event (keel.journal_entry.<event>; NULL: none). */
keel_err fin_entry_store_event(keel_tx *tx, keel_arena *a, const char *id, const char *event,
                               fin_row *row);

/* The entry locked for a write; KEEL_ENOTFOUND when it is not the tenant's. */
keel_err fin_entry_store_lock(keel_tx *tx, keel_arena *a, const char *id, fin_entry_state *st);

/* Change a draft: the fields given, the lines replaced when given (as create converts them). */
keel_err fin_entry_store_update(keel_tx *tx, keel_arena *a, const char *id, const char *org_id,
                                const char *currency, const fin_entry_in *in);

keel_err fin_entry_store_delete(keel_tx *tx, const char *id);

/* fin.post_entry(id): its KF404/KF409/KF422 errors for fin_fail. */
keel_err fin_entry_store_post(keel_tx *tx, const char *id);

/* fin.reverse_entry(id, new_id, date, memo). */
keel_err fin_entry_store_reverse(keel_tx *tx, const char *id, const char *new_id, const char *date,
                                 const char *memo);

/* A page of entries (without lines) added to list; *last the key of its last row. */
keel_err fin_entry_store_list(keel_tx *tx, const fin_entry_filter *f, keel_svc_list *list,
                              fin_entry_key *last);

#endif
