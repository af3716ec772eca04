/*
 * Private to src/tenancy.
 */
#ifndef KEEL_TENANCY_TENANCY_INT_H
#define KEEL_TENANCY_TENANCY_INT_H

#include "tenancy/tenancy.h"

keel_err tenancy_store_create(keel_tx *tx, keel_arena *a, const char *id, const char *name,
                              const char *slug, json_t **tenant);
keel_err tenancy_store_get(keel_tx *tx, keel_arena *a, json_t **tenant);
keel_err tenancy_store_rename(keel_tx *tx, keel_arena *a, const char *name, const char *version,
                              json_t **tenant);

#endif
