/*
 * Private to src/tenancy.
 */
#ifndef KEEL_TENANCY_TENANCY_INT_H
#define KEEL_TENANCY_TENANCY_INT_H

#include "tenancy/tenancy.h"

keel_err tenancy_store_create(keel_tx *tx, keel_arena *a, const char *id, const char *name,
                              const char *slug, json_t **tenant);
keel_err tenancy_store_get(keel_tx *tx, keel_arena *a, json_t **tenant);

/* The id of the tenant of slug and whether it is suspended (the owner's connection). */
keel_err tenancy_store_id_by_slug(keel_db *db, keel_arena *a, const char *slug, const char **id,
                                  bool *suspended);

/*
 * Suspend (with reason, may be NULL) or resume the transaction's tenant, with its event;
 * KEEL_ENOTFOUND when it already is.
 */
keel_err tenancy_store_set_suspended(keel_tx *tx, keel_arena *a, bool suspend, const char *reason,
                                     json_t **tenant);
keel_err tenancy_store_rename(keel_tx *tx, keel_arena *a, const char *name, const char *version,
                              json_t **tenant);

#endif
