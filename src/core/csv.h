/*
 * CSV text (RFC 4180): fields separated by commas, records ended by CRLF, a field quoted
 * when it holds a comma, a double quote, CR or LF, its quotes doubled.  Any bytes may be
 * written (NUL too): the writer changes nothing but the quoting.
 *
 * Spreadsheets evaluate a cell that begins with = + - @ TAB or CR as a formula, so free
 * text a user typed (names, memos) is written with keel_csv_text(): such a field, and one
 * that begins with a single quote, gets one more single quote in front.  A program reading
 * the file gives the text back exactly by removing one leading single quote from those
 * columns when there is one.  Money, dates, ids and numbers are written as they are
 * (keel_csv_field): a negative amount begins with '-' and stays a number.
 */
#ifndef KEEL_CORE_CSV_H
#define KEEL_CORE_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"

/* Whether a text field of these bytes is written with a leading single quote. */
bool keel_csv_guarded(const char *s, size_t n);

/* Append a field (a comma before it unless first), quoted when it must be. */
void keel_csv_field(keel_buf *b, bool first, const char *s, size_t n);

/* Append a field of free text: keel_csv_field() with the guard above. */
void keel_csv_text(keel_buf *b, bool first, const char *s, size_t n);

/* End the record (CRLF). */
void keel_csv_end(keel_buf *b);

#endif
