/*
 * api_certs: the certificates of TLS sites over the admin API — listed with
 * their expiry and ACME state, and renewed on demand (tls_acme sites).
 * Admin thread, under the API lock, like every handler.
 */
#include <string.h>

#include "acme/acme.h"
#include "admin/api.h"
#include "admin/api_int.h"

static void certs_renew(const struct api_request *rq, struct api_response *rs)
{
    static const char *const fields[] = {"site", NULL};
    json_t *body = api_body_object(rq, rs);
    const char *site;
    char err[400];

    if (body == NULL || !api_body_known(body, fields, rs)) {
        json_decref(body);
        return;
    }
    site = json_string_value(json_object_get(body, "site"));
    if (site == NULL)
        api_error(rs, 400, "bad_request", "the body needs \"site\": the site's key, "
                                          "like \"/www/sites/shop\"");
    else if (acme_renew(site, err, sizeof(err)) == -1)
        api_error(rs, 404, "not_found", "%s", err);
    else {
        mb_audit_add(api_metabase(), &(struct mb_actor){rq->identity, rq->address}, "cert.renew",
                     site, "ok", NULL);
        api_reply_json(rs, 202, json_pack("{s:s,s:b}", "site", site, "queued", 1));
    }
    json_decref(body);
}

void api_route_certificates(const struct api_request *rq, struct api_response *rs)
{
    const char *rest = rq->path + strlen("/api/v1/certificates");

    if (*rest == '\0' && (strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0))
        api_reply_json(rs, 200, acme_certificates_json());
    else if (strcmp(rest, "/renew") == 0 && strcmp(rq->method, "POST") == 0)
        certs_renew(rq, rs);
    else
        api_error(rs, 404, "not_found", "no endpoint %s %s", rq->method, rq->path);
}
