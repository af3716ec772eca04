/*
 * Private to src/fin: the reports' answers as text/csv (fin_csv.c).
 *
 * A route that can answer CSV asks fin_csv_wanted() and, when so, ends with fin_csv_finish()
 * instead of keel_svc_finish(): the page's JSON text, rendered as it always is, is written as
 * RFC 4180 records (src/core/csv.h), one per item of its array member, columns named as the
 * JSON fields.  A list asked for whole (fin_csv_whole) ends with fin_csv_stream() instead: its
 * pages are read and sent one after the other as the client takes them.  Every answer of such
 * a route says Vary: Accept.
 */
#ifndef KEEL_FIN_FIN_CSV_H
#define KEEL_FIN_FIN_CSV_H

#include <stdbool.h>

#include "svc/svc.h"

/*
 * A column: the JSON field it is ("code"; "lines.memo" for the member memo of an item's
 * lines), and whether it is free text a person typed (guarded against spreadsheet formulas,
 * csv.h).  A list of columns ends with {0}.
 */
typedef struct fin_csv_col {
	const char *name;
	bool text;
} fin_csv_col;

/*
 * Whether the request's Accept prefers text/csv to application/json: text/csv (or text/any)
 * with a greater q than application/json has (or application/any, any/any), or the same q by a
 * more specific range.  Any other Accept, or none, is JSON, as on every keel route.
 * Sets Vary: Accept.
 */
bool fin_csv_wanted(keel_req *req);

/*
 * The handler's end for a CSV answer: err answered as keel_svc_finish() does (what names
 * the row of a 404); else the items of json's member rows written with cols (nested: the
 * member array of each item whose elements each make a record, the item's fields repeated;
 * an item with none makes one record with those columns empty; NULL: none), tx committed,
 * 200 text/csv sent, with Keel-Next-Cursor: next when next is not NULL.
 */
keel_err fin_csv_finish(keel_req *req, keel_tx *tx, keel_err err, const char *what,
                        const char *json, const char *rows, const char *nested,
                        const fin_csv_col *cols, const char *next);

#define FIN_CSV_TYPE "text/csv; charset=utf-8"

/* Rows of a streamed CSV chunk: pages this long are read one at a time. */
#define FIN_CSV_PAGE 1000

/*
 * The records of json's member rows (as fin_csv_finish writes them) appended to out, the
 * header record first when header; false when json has no such array.
 */
bool fin_csv_write(keel_buf *out, const char *json, const char *rows, const char *nested,
                   const fin_csv_col *cols, bool header);

/*
 * Whether the CSV asked for is the whole result (no ?limit= and no ?cursor=): streamed with
 * fin_csv_stream(), where a page (with Keel-Next-Cursor) is fin_csv_finish()'s.
 */
bool fin_csv_whole(keel_req *req);

/*
 * fin_csv_finish() for the whole result: the first page's records, header first, then, while
 * more, the records next() appends a page at a time (keel_req_stream: next begins its own
 * transaction per page with keel_svc_tx_chunk() and sets *done after the last page).
 */
keel_err fin_csv_stream(keel_req *req, keel_tx *tx, keel_err err, const char *what,
                        const char *json, const char *rows, const char *nested,
                        const fin_csv_col *cols, bool more, keel_req_stream_fn next, void *arg);

#endif
