/* Meta-store transactions built op by op. */
#include "core/metatxn.h"

void vdb_metatxn_add(vdb_metatxn *t, vdb_meta_op_kind kind, const char *key, vdb_buf *val)
{
    if (t->oom)
        return;
    if (val && val->oom) { /* the value's encoder ran out of memory: it is cut short */
        vdb_buf_free(val); /* taken, as on success */
        t->oom = true;
        return;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        vdb_meta_op *ops = vdb_realloc(t->ops, cap * sizeof *ops);
        char **keys = ops ? vdb_realloc(t->keys, cap * sizeof *keys) : NULL;
        vdb_buf *vals = keys ? vdb_realloc(t->vals, cap * sizeof *vals) : NULL;
        if (ops)
            t->ops = ops;
        if (keys)
            t->keys = keys;
        if (!vals) {
            t->oom = true;
            return;
        }
        t->vals = vals;
        t->cap = cap;
    }
    t->keys[t->n] = vdb_strdup(key);
    memset(&t->vals[t->n], 0, sizeof(vdb_buf));
    if (val) { /* take the buffer */
        t->vals[t->n] = *val;
        memset(val, 0, sizeof *val);
    }
    if (!t->keys[t->n]) {
        vdb_buf_free(&t->vals[t->n]);
        t->oom = true;
        return;
    }
    t->ops[t->n] = (vdb_meta_op){kind, t->keys[t->n], t->vals[t->n].p, t->vals[t->n].len};
    t->n++;
}

void vdb_metatxn_free(vdb_metatxn *t)
{
    for (size_t i = 0; i < t->n; i++) {
        vdb_free(t->keys[i]);
        vdb_buf_free(&t->vals[i]);
    }
    vdb_free(t->ops);
    vdb_free(t->keys);
    vdb_free(t->vals);
}

vdb_status vdb_metatxn_commit(vdb_db *db, vdb_metatxn *t)
{
    vdb_lock_forbid_io(VDB_RANK_COLL, "a meta-store transaction");
    if (t->oom)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    return t->n ? db->meta.be->txn(db->meta.h, t->ops, t->n) : VDB_OK;
}

