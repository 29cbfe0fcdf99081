/* DDL records on the "ddl" channel. */
#include <stdio.h>

#include "core/ddl.h"
#include "log/log.h"

vdb_status vdb_ddl_log(vdb_db *db, const char *what, const char *name, uint64_t coll)
{
    uint64_t ts;
    vdb_status st = vdb_tso_next(db->tso, &ts);
    if (st != VDB_OK)
        return st;
    char text[600];
    int n = snprintf(text, sizeof text, "%s %s", what, name);
    vdb_rec_header h = {.type = VDB_REC_DDL, .parts = 1, .ts = ts, .collection_id = coll};
    vdb_buf b = {0};
    vdb_rec_encode(&h, text, (size_t)n, &b);
    uint64_t pos;
    st = b.oom ? vdb_set_errmsg(VDB_ENOMEM, "out of memory")
               : db->log.be->append(db->log.h, "ddl", b.p, b.len, &pos);
    vdb_buf_free(&b);
    return st;
}
