#include "runtime/apply.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "runtime/gen.h"
#include "runtime/server.h"

static struct config_env apply_env;

void apply_init(const struct config_env *env)
{
    apply_env = *env;
}

/* The service's desired state is not inherited by its sites (each site has
 * its own); a stopped or paused service holds every started site. */
static void fold_service_state(struct mb *mb, struct gen *g)
{
    json_t *v = mb_value(mb, "/www", "state");
    const char *st = json_is_string(v) ? json_string_value(v) : "started";
    int svc = strcmp(st, "stopped") == 0 ? CONFIG_SITE_STOPPED
              : strcmp(st, "paused") == 0 ? CONFIG_SITE_PAUSED
                                           : CONFIG_SITE_STARTED;

    for (size_t i = 0; i < g->nsites; i++)
        if (g->sites[i].state == CONFIG_SITE_STARTED ||
            (svc == CONFIG_SITE_STOPPED && g->sites[i].state == CONFIG_SITE_PAUSED))
            g->sites[i].state = svc;
    json_decref(v);
}

/* A listener is matched to its site by address, so a site must name the
 * port it will be found on: port 0 ("any free port") would leave it unreachable. */
static int check_ports(const struct gen *g, struct mb_error *err)
{
    for (size_t i = 0; i < g->nsites; i++) {
        for (size_t b = 0; b < g->sites[i].nbindings; b++) {
            if (net_port((const struct sockaddr *)&g->sites[i].bindings[b].ss) != 0)
                continue;
            err->code = MB_E_APPLY_FAILED;
            snprintf(err->message, sizeof(err->message),
                     "site \"%s\": a binding needs a port number, not 0", g->sites[i].name);
            snprintf(err->key, sizeof(err->key), "/www/sites/%s", g->sites[i].name);
            return -1;
        }
    }
    return 0;
}

int apply_commit(struct mb *mb, void *arg, bool dry, struct mb_error *err)
{
    struct gen *g;

    (void)arg;
    g = config_compile(mb, &apply_env, err);
    if (g == NULL)
        return -1;
    if (check_ports(g, err) == -1) {
        gen_unref(g);
        return -1;
    }
    fold_service_state(mb, g);
    if (server_sync_listeners(g, dry, err->message, sizeof(err->message)) == -1) {
        err->code = MB_E_APPLY_FAILED;
        gen_unref(g);
        return -1;
    }
    if (dry) {
        gen_unref(g);
        return 0;
    }
    gen_publish(g);
    server_disconnect(0);
    return 0;
}
