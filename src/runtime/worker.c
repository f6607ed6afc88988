#include "runtime/worker.h"

#include <stdlib.h>

#include "core/alloc.h"

struct buf *worker_buf_get(struct worker *w)
{
    if (w->npool > 0)
        return w->pool[--w->npool];
    return xcalloc(1, sizeof(struct buf));
}

void worker_buf_put(struct worker *w, struct buf *b)
{
    if (b == NULL)
        return;
    if (w->npool < WORKER_POOL_MAX && b->cap <= WORKER_POOL_BUF_MAX) {
        buf_reset(b);
        w->pool[w->npool++] = b;
        return;
    }
    buf_free(b);
    free(b);
}

void worker_post(struct worker *w, loop_fn fn, void *arg)
{
    loop_post(w->loop, fn, arg);
}

void worker_listener_unref(struct worker *w, struct listener *li)
{
    if (--li->refs > 0 || !li->closed)
        return;
    for (size_t i = 0; i < w->nlisteners; i++) {
        if (w->listeners[i] == li) {
            w->listeners[i] = w->listeners[--w->nlisteners];
            break;
        }
    }
    /* Freed once the loop is idle: an accept event of this listener may still
     * wait in the batch being handled (a close posted by another thread). */
    li->next_dead = w->dead_listeners;
    w->dead_listeners = li;
}
