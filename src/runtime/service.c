#include "runtime/service.h"

#include <string.h>

#include "core/log.h"

static const struct service *services[SERVICES_MAX];
static size_t nservices;

void service_register(const struct service *svc)
{
    if (service_find(svc->name) == svc)
        return;
    if (nservices == SERVICES_MAX)
        fatalx("service: too many services (at most %d)", SERVICES_MAX);
    services[nservices++] = svc;
}

const struct service *service_find(const char *name)
{
    for (size_t i = 0; i < nservices; i++)
        if (strcmp(services[i]->name, name) == 0)
            return services[i];
    return NULL;
}

const struct service *service_at(size_t i)
{
    return i < nservices ? services[i] : NULL;
}

int service_index(const struct service *svc)
{
    for (size_t i = 0; i < nservices; i++)
        if (services[i] == svc)
            return (int)i;
    return -1;
}
