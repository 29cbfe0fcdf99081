/* Users and roles (rbac.c): the in-memory copy of the meta records "rbac/user/<name>" and
 * "rbac/role/<name>", behind its own leaf mutex (meta writes happen under it, no other lock
 * is taken inside). */
#ifndef VDB_CORE_RBAC_H
#define VDB_CORE_RBAC_H

#include "core/db.h"

/* Reads the records at open (db->rbac is allocated here). */
vdb_status vdb_load_rbac(vdb_db *db);
void vdb_rbac_free(struct vdb_rbac *r);

#endif
