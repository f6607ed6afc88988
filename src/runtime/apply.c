#include "runtime/apply.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "runtime/gen.h"
#include "runtime/server.h"
#include "runtime/service.h"

static struct config_env apply_env;
static struct gen *prepared; /* between PREPARE and PUBLISH or ABORT */

void apply_init(const struct config_env *env)
{
    apply_env = *env;
}

/* A listener is matched to its sites by address, so a site must name the
 * port it will be found on: port 0 ("any free port") would leave it unreachable. */
static int check_ports(const struct gen *g, struct mb_error *err)
{
    char key[256];

    for (size_t i = 0; i < g->nsites; i++) {
        const struct site *s = &g->sites[i];
        for (size_t b = 0; b < s->nbindings; b++) {
            if (net_port((const struct sockaddr *)&s->bindings[b].addr.ss) != 0)
                continue;
            snprintf(key, sizeof(key), "/%s/sites/%s", s->svc->name, s->name);
            return mb_fail(err, MB_E_APPLY_FAILED, key, "bindings",
                           "site \"%s\": a binding needs a port number, not 0", s->name);
        }
    }
    return 0;
}

static struct gen *compile(struct mb *mb, struct mb_error *err)
{
    struct gen *g = config_compile(mb, &apply_env, err);

    if (g == NULL)
        return NULL;
    if (check_ports(g, err) == -1) {
        gen_unref(g);
        return NULL;
    }
    gen_build_bindings(g);
    return g;
}

static int prepare(struct mb *mb, bool dry, struct mb_error *err)
{
    struct gen *g = compile(mb, err);

    if (g == NULL)
        return -1;
    if (server_prepare(g, dry, err->message, sizeof(err->message)) == -1) {
        err->code = MB_E_APPLY_FAILED;
        gen_unref(g);
        return -1;
    }
    if (dry)
        gen_unref(g);
    else
        prepared = g;
    return 0;
}

int apply_commit(struct mb *mb, void *arg, enum mb_apply_phase phase, struct mb_error *err)
{
    (void)arg;
    switch (phase) {
    case MB_APPLY_CHECK:
    case MB_APPLY_PREPARE:
        gen_unref(prepared); /* a prepare never published: cannot happen, but stay clean */
        prepared = NULL;
        return prepare(mb, phase == MB_APPLY_CHECK, err);
    case MB_APPLY_PUBLISH:
        if (prepared)
            server_publish(prepared);
        if (prepared && apply_env.published)
            apply_env.published();
        prepared = NULL;
        return 0;
    case MB_APPLY_ABORT:
        server_abort();
        gen_unref(prepared);
        prepared = NULL;
        return 0;
    }
    return -1;
}

int apply_current(struct mb *mb, struct mb_error *err)
{
    if (apply_commit(mb, NULL, MB_APPLY_PREPARE, err) == -1)
        return -1;
    return apply_commit(mb, NULL, MB_APPLY_PUBLISH, err);
}
