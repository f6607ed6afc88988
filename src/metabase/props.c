/* props: the property table and the validation every write goes through. */
#include "metabase/props.h"

#include <ctype.h>
#include <string.h>

#include "core/net.h"
#include "metabase/mb_int.h"

#define TiB (1LL << 40)

/* The table reads best as one compact entry per property. */
/* clang-format off */
static const char *const symlink_values[] = {"inside", "never", "any", NULL};
static const char *const log_format_values[] = {"w3c", "ncsa", "sqlite", "none", NULL};
static const char *const log_period_values[] = {"hourly", "daily",  "weekly", "monthly",
                                                "size",   "none",   NULL};
static const char *const state_values[] = {"started", "stopped", "paused", NULL};
static const char *const tls_protocol_values[] = {"tls1.2", "tls1.3", NULL};
static const char *const listing_values[] = {"unix", "msdos", NULL};
static const char *const ftp_tls_values[] = {"off", "allow", "require", NULL};
static const char *const off_on_values[] = {"off", "on", NULL};
static const char *const acme_challenge_values[] = {"http-01", "tls-alpn-01", NULL};
static const char *const ip_default_values[] = {"grant", "deny", NULL};
static const char *const compression_values[] = {"off", "static", "on", NULL};

/* Letters, digits and the other characters of a media type's names (RFC 6838 4.2). */
static size_t media_name_len(const char *s)
{
    size_t n = 0;

    while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
           (s[n] >= '0' && s[n] <= '9') || (s[n] != '\0' && strchr("!#$&^_.+-", s[n])))
        n++;
    return n;
}

/* A media type without parameters: "type/subtype", or "type/" and a star (a whole type). */
static const char *media_type_check(const char *s)
{
    static const char want[] = "a media type \"type/subtype\" or \"type/*\", without parameters";
    size_t n = media_name_len(s);

    if (n == 0 || s[n] != '/')
        return want;
    s += n + 1;
    n = strcmp(s, "*") == 0 ? 1 : media_name_len(s);
    return n > 0 && s[n] == '\0' ? NULL : want;
}

/* A realm goes inside a quoted string of WWW-Authenticate. */
static const char *realm_check(const char *s)
{
    return strpbrk(s, "\"\\") ? "a realm without '\"' or '\\'" : NULL;
}

/* An IPv4 or IPv6 address or network, as net_parse_cidr takes it. */
static const char *cidr_check(const char *s)
{
    unsigned char addr[16];
    unsigned bits;
    const char *why;

    return net_parse_cidr(s, addr, &bits, &why) == 0 ? NULL : why;
}

/* A DNS name as a client sends it in Host or SNI: letters, digits, '-' and
 * dots between labels of 1 to 63 bytes, compared without regard to case. */
static const char *host_name_check(const char *s)
{
    static const char want[] = "a host name (labels of letters, digits and '-', separated by dots)";
    size_t label = 0;

    for (; *s; s++) {
        bool alnum = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9');
        if (*s == '.') {
            if (label == 0)
                return want;
            label = 0;
        } else if (alnum || (*s == '-' && label > 0)) {
            if (++label > 63)
                return want;
        } else {
            return want;
        }
    }
    return label == 0 ? want : NULL;
}

/* binding_overrides: "ADDR:PORT" -> "ADDR:PORT", a fixed port on each side. */
static const char *override_check(const char *name, const char *value)
{
    static const char want[] = "an \"ADDR:PORT\" mapped to an \"ADDR:PORT\" (ports from 1)";
    struct net_addr a;
    const char *why;

    if (net_parse_addr(name, &a, &why) == -1 || net_port((const struct sockaddr *)&a.ss) == 0 ||
        net_parse_addr(value, &a, &why) == -1 || net_port((const struct sockaddr *)&a.ss) == 0)
        return want;
    return NULL;
}

/* An etcd client URL: the scheme, a host and a port, nothing after them. */
static const char *endpoint_check(const char *s)
{
    static const char want[] = "an etcd client URL, \"http://HOST:PORT\" or \"https://HOST:PORT\"";
    const char *host = strncmp(s, "http://", 7) == 0    ? s + 7
                       : strncmp(s, "https://", 8) == 0 ? s + 8
                                                        : NULL;
    const char *colon = host ? strrchr(host, ':') : NULL;
    size_t ndigits;

    if (colon == NULL || colon == host || strpbrk(host, "/?#@ ") != NULL)
        return want;
    ndigits = strspn(colon + 1, "0123456789");
    if (ndigits == 0 || ndigits > 5 || colon[1 + ndigits] != '\0')
        return want;
    return NULL;
}

/* An etcd key prefix: "/" and segments of letters, digits, '-', '_' and '.'. */
static const char *farm_name_check(const char *s)
{
    static const char want[] =
        "an etcd key prefix like \"/infosrv/farms/web\" (segments of letters, digits, '-', "
        "'_' and '.', at most 200 bytes)";
    size_t seg = 0, n = strlen(s);

    if (n < 2 || n > 200 || s[0] != '/' || s[n - 1] == '/')
        return want;
    for (size_t i = 1; i < n; i++) {
        if (s[i] == '/') {
            if (seg == 0)
                return want;
            seg = 0;
        } else if (isalnum((unsigned char)s[i]) || strchr("-_.", s[i])) {
            seg++;
        } else {
            return want;
        }
    }
    return NULL;
}

/* A member name goes into an etcd key and a commit's identity. */
static const char *member_name_check(const char *s)
{
    static const char want[] =
        "a member name of 1-63 letters, digits, '-', '_' and '.', starting with a letter or digit";
    size_t n = strlen(s);

    if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]))
        return want;
    for (size_t i = 1; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
            return want;
    return NULL;
}

#define MACHINE MB_KIND_MACHINE
#define SERVICE MB_KIND_SERVICE
#define SITE MB_KIND_SITE
#define VDIR MB_KIND_VDIR
#define ANYWHERE (SERVICE | SITE | VDIR)
#define USER MB_KIND_USER

/* Keep the table ordered machine, service and site, then directory settings:
 * docs/properties.md lists it in this order. */
static const struct prop table[] = {
    /* machine */
    {.name = "cache_size", .type = PROP_INT, .def = "67108864", .min = 0, .max = TiB,
     .where = MACHINE, .services = MB_SVC_ALL, .apply = PROP_RESTART,
     .doc = "Bytes of small files the open-file cache keeps in memory, split between the "
            "workers (0 = serve every file from its descriptor)."},
    {.name = "cache_revalidate", .type = PROP_INT, .def = "1000", .min = 0, .max = 60000,
     .where = MACHINE, .services = MB_SVC_ALL, .apply = PROP_RESTART,
     .doc = "Milliseconds a cached file's metadata is trusted before the file is checked "
            "again."},
    {.name = "bandwidth_limit", .type = PROP_INT, .def = "0", .min = 0, .max = TiB,
     .where = MACHINE, .services = MB_SVC_ALL,
     .doc = "Outgoing bandwidth of the whole server in bytes per second, every service's "
            "sending counted (0 = no limit); connections share it in turns."},
    {.name = "compression_cache_size", .type = PROP_INT, .def = "134217728", .min = 0,
     .max = TiB, .where = MACHINE, .services = MB_SVC_WWW,
     .doc = "Bytes of gzip copies kept in STATE_DIR/cache/gzip for compression \"on\", least "
            "recently used removed first (0 = no copies: only precompressed files are sent "
            "coded)."},
    {.name = "worker_threads", .type = PROP_INT, .def = "0", .min = 0, .max = 64,
     .where = MACHINE, .services = MB_SVC_ALL, .apply = PROP_RESTART,
     .doc = "Worker threads, each with its own event loop (0 = one per CPU, at most 64)."},
    {.name = "server_comment", .type = PROP_STRING, .where = MACHINE, .services = MB_SVC_ALL,
     .doc = "Free-text description of this server, shown by consoles."},
    {.name = "admin_name", .type = PROP_STRING, .where = MACHINE | SERVICE | SITE,
     .services = MB_SVC_ALL, .inherit = true,
     .doc = "Name of the person who administers the server, service or site (Gopher+ "
            "+ADMIN)."},
    {.name = "admin_email", .type = PROP_STRING, .where = MACHINE | SERVICE | SITE,
     .services = MB_SVC_ALL, .inherit = true,
     .doc = "E-mail address of the administrator, shown on error pages, in FTP messages and "
            "in Gopher+ +ADMIN."},
    {.name = "binding_overrides", .type = PROP_MAP, .def = "{}", .where = MACHINE,
     .services = MB_SVC_ALL, .entry_check = override_check,
     .doc = "This machine's own address for bindings the configuration names, "
            "{\"0.0.0.0:80\": \"10.1.2.3:80\"}: a site binding on ADDR:PORT listed here "
            "(plain or TLS) listens on the address it maps to instead, so that farm members "
            "can share sites whose addresses differ from host to host."},
    /* farms (docs/farm.md) */
    {.name = "farm_endpoints", .type = PROP_STRLIST, .def = "[]", .where = MACHINE,
     .services = MB_SVC_ALL, .item_check = endpoint_check, .apply = PROP_RESTART,
     .doc = "Client URLs of the etcd cluster keeping the farm's configuration "
            "(\"http://HOST:PORT\" or \"https://HOST:PORT\"); empty: the server is standalone."},
    {.name = "farm_name", .type = PROP_STRING, .where = MACHINE, .services = MB_SVC_ALL,
     .item_check = farm_name_check, .apply = PROP_RESTART,
     .doc = "The farm's etcd key prefix (\"/infosrv/farms/web\"): members of one farm share "
            "every key under /www, /ftp and /gopher (FTP users included); the machine key "
            "stays each member's own."},
    {.name = "member_name", .type = PROP_STRING, .where = MACHINE, .services = MB_SVC_ALL,
     .item_check = member_name_check, .apply = PROP_RESTART,
     .doc = "This server's name in its farm (default: the host name)."},
    {.name = "farm_ca_certificate", .type = PROP_PATH, .where = MACHINE, .services = MB_SVC_ALL,
     .apply = PROP_RESTART,
     .doc = "PEM file of the CA certificates trusted for https:// farm_endpoints (default: the "
            "system's)."},
    {.name = "farm_client_certificate", .type = PROP_PATH, .where = MACHINE,
     .services = MB_SVC_ALL, .apply = PROP_RESTART,
     .doc = "PEM client certificate shown to etcd (with farm_client_key), for etcd's "
            "--client-cert-auth."},
    {.name = "farm_client_key", .type = PROP_PATH, .where = MACHINE, .services = MB_SVC_ALL,
     .apply = PROP_RESTART, .doc = "PEM private key of farm_client_certificate (unencrypted)."},
    {.name = "farm_user", .type = PROP_STRING, .where = MACHINE, .services = MB_SVC_ALL,
     .apply = PROP_RESTART,
     .doc = "etcd user the member logs in as (with farm_password); unset: etcd without "
            "authentication."},
    {.name = "farm_password", .type = PROP_STRING, .where = MACHINE, .services = MB_SVC_ALL,
     .secret = true, .apply = PROP_RESTART, .doc = "Password of farm_user (write-only)."},
    /* services and sites */
    {.name = "state", .type = PROP_ENUM, .def = "\"started\"", .values = state_values,
     .where = SERVICE | SITE, .services = MB_SVC_ALL,
     .doc = "Desired state of the service or site, kept across restarts."},
    {.name = "bindings", .type = PROP_ADDRLIST, .where = SITE, .services = MB_SVC_ALL,
     .doc = "Addresses the site listens on, each \"ADDR:PORT\", or for TLS \"https://ADDR:PORT\" "
            "(www), \"ftps://\" (ftp), \"gophers://\" (gopher); \"[::1]:80\" for IPv6. Several "
            "sites may share one, told apart by host_names."},
    {.name = "host_names", .type = PROP_STRLIST, .def = "[]", .where = SITE,
     .services = MB_SVC_ALL, .item_check = host_name_check,
     .doc = "Host names the site answers on its bindings (HTTP Host, TLS SNI); a site without "
            "any is the default of its bindings."},
    {.name = "tls_certificate_file", .type = PROP_PATH, .where = SITE, .services = MB_SVC_ALL,
     .doc = "PEM certificate chain of the site's TLS bindings (without one, a "
            "self-signed certificate is generated into the state directory)."},
    {.name = "tls_key_file", .type = PROP_PATH, .where = SITE, .services = MB_SVC_ALL,
     .doc = "PEM private key of tls_certificate_file (unencrypted)."},
    {.name = "tls_protocols", .type = PROP_STRLIST, .def = "[\"tls1.2\", \"tls1.3\"]",
     .values = tls_protocol_values, .where = SITE, .services = MB_SVC_ALL,
     .doc = "TLS versions the site's TLS bindings accept: \"tls1.2\", \"tls1.3\"."},
    {.name = "tls_acme", .type = PROP_ENUM, .def = "\"off\"", .values = off_on_values,
     .where = SITE, .services = MB_SVC_ALL,
     .doc = "\"on\": certificates for the site's host_names come from the ACME CA of "
            "acme_directory, renewed before they expire (tls_certificate_file still wins)."},
    {.name = "acme_directory", .type = PROP_STRING, .where = MACHINE | SERVICE | SITE,
     .services = MB_SVC_ALL, .inherit = true,
     .doc = "https:// URL of the ACME CA's directory used by sites with tls_acme on."},
    {.name = "acme_email", .type = PROP_STRING, .where = MACHINE | SERVICE | SITE,
     .services = MB_SVC_ALL, .inherit = true,
     .doc = "Contact address given to the ACME CA for the account (optional)."},
    {.name = "acme_ca_certificate", .type = PROP_PATH, .where = MACHINE | SERVICE | SITE,
     .services = MB_SVC_ALL, .inherit = true,
     .doc = "PEM file of the CA certificates trusted for acme_directory's HTTPS (default: "
            "the system's)."},
    {.name = "acme_challenges", .type = PROP_STRLIST, .def = "[\"http-01\", \"tls-alpn-01\"]",
     .values = acme_challenge_values, .where = MACHINE | SERVICE | SITE,
     .services = MB_SVC_ALL, .inherit = true,
     .doc = "ACME challenge types the site may answer, in order of preference: \"http-01\" "
            "(on a WWW binding the CA reaches on port 80), \"tls-alpn-01\" (on a TLS "
            "binding, port 443)."},
    {.name = "require_tls", .type = PROP_BOOL, .def = "false", .where = SITE | VDIR,
     .services = MB_SVC_WWW, .inherit = true,
     .doc = "Plain HTTP requests get a 301 to the same URL on the site's https:// binding."},
    {.name = "ip_default", .type = PROP_ENUM, .def = "\"grant\"", .values = ip_default_values,
     .where = SITE | VDIR, .services = MB_SVC_WWW, .inherit = true,
     .capability = "www.ip_restrictions",
     .doc = "Whether clients not listed in ip_exceptions are granted or denied access (403)."},
    {.name = "ip_exceptions", .type = PROP_STRLIST, .def = "[]", .item_check = cidr_check,
     .where = SITE | VDIR, .services = MB_SVC_WWW, .inherit = true,
     .capability = "www.ip_restrictions",
     .doc = "Client addresses or networks (\"10.0.0.0/8\", \"2001:db8::/32\", \"127.0.0.1\") "
            "that get the opposite of ip_default."},
    {.name = "auth_anonymous", .type = PROP_BOOL, .def = "true", .where = SITE | VDIR,
     .services = MB_SVC_WWW, .inherit = true,
     .capability = "www.auth",
     .doc = "Requests without credentials are served (as anonymous_user)."},
    {.name = "auth_basic", .type = PROP_BOOL, .def = "false", .where = SITE | VDIR,
     .services = MB_SVC_WWW, .inherit = true,
     .capability = "www.auth",
     .doc = "Users (infoadm user add) may log in with HTTP Basic authentication; with "
            "auth_anonymous off, only they are served (401 for others)."},
    {.name = "auth_realm", .type = PROP_STRING, .def = "\"\"", .item_check = realm_check,
     .where = SITE | VDIR, .services = MB_SVC_WWW, .inherit = true,
     .capability = "www.auth",
     .doc = "The realm Basic authentication names (empty: the site's name)."},
    {.name = "auth_basic_insecure", .type = PROP_BOOL, .def = "false", .where = SITE | VDIR,
     .services = MB_SVC_WWW, .inherit = true,
     .capability = "www.auth",
     .doc = "Accept Basic credentials over plain HTTP, where anyone on the path can read "
            "them (else 403: use HTTPS)."},
    {.name = "script_map", .type = PROP_MAP, .def = "{}", .where = ANYWHERE,
     .services = MB_SVC_WWW, .inherit = true,
     .capability = "www.cgi",
     .doc = "File extension -> interpreter (absolute path) for access_script and "
            "access_execute directories, e.g. {\"py\": \"/usr/bin/python3\"}."},
    {.name = "cgi_timeout", .type = PROP_INT, .def = "60", .min = 1, .max = 86400,
     .where = ANYWHERE, .services = MB_SVC_WWW, .inherit = true,
     .capability = "www.cgi",
     .doc = "Seconds a CGI program may run before it is killed (504 if it sent nothing)."},
    {.name = "cgi_max_processes", .type = PROP_INT, .def = "32", .min = 1, .max = 4096,
     .where = ANYWHERE, .services = MB_SVC_WWW, .inherit = true,
     .capability = "www.cgi",
     .doc = "CGI programs running at once in the whole server; beyond it requests get 503."},
    {.name = "http_headers", .type = PROP_MAP, .def = "{}", .where = SITE | VDIR,
     .services = MB_SVC_WWW, .inherit = true,
     .capability = "www.headers",
     .doc = "Response headers added to every response (name -> value), e.g. "
            "{\"X-Frame-Options\": \"DENY\"}; framing headers may not be set."},
    {.name = "expires", .type = PROP_STRING, .def = "\"off\"", .where = SITE | VDIR,
     .services = MB_SVC_WWW, .inherit = true,
     .capability = "www.headers",
     .doc = "Content expiration of files: \"off\", \"immediate\" (no-cache), \"after "
            "SECONDS\" (Cache-Control max-age and Expires), or \"on DATE\" (an HTTP-date)."},
    {.name = "error_pages", .type = PROP_MAP, .def = "{}", .where = SITE | VDIR,
     .services = MB_SVC_WWW, .inherit = true,
     .capability = "www.error_pages",
     .doc = "Pages sent instead of the built-in ones, by status: {\"404\": "
            "\"/srv/errors/404.html\"} (files of at most 64 KiB, read when applied)."},
    {.name = "header_timeout", .type = PROP_INT, .def = "10", .min = 1, .max = 3600,
     .where = SERVICE | SITE, .services = MB_SVC_WWW, .inherit = true,
     .doc = "Seconds allowed to receive a request head before 408 and close."},
    {.name = "connection_timeout", .type = PROP_INT, .def = "15", .min = 1, .max = 86400,
     .where = SERVICE | SITE, .services = MB_SVC_ALL, .inherit = true,
     .doc = "Seconds an idle connection is kept open (HTTP keep-alive, FTP control "
            "connection, a Gopher client's selector)."},
    {.name = "max_connections", .type = PROP_INT, .def = "0", .min = 0, .max = 1000000,
     .where = SERVICE | SITE, .services = MB_SVC_ALL, .inherit = true,
     .doc = "Most simultaneous connections to a site (0 = unlimited); set on the service "
            "for every site."},
    {.name = "max_bandwidth", .capability = "bandwidth", .type = PROP_INT, .def = "0", .min = 0, .max = TiB,
     .where = SERVICE | SITE, .services = MB_SVC_ALL, .inherit = true,
     .doc = "Outgoing bandwidth of a site in bytes per second, shared by its connections "
            "(0 = no limit); set on the service for each of its sites."},
    {.name = "max_body", .type = PROP_INT, .def = "1048576", .min = 0, .max = TiB,
     .where = SERVICE | SITE, .services = MB_SVC_WWW, .inherit = true,
     .doc = "Largest request body accepted, in bytes; a larger one gets 413."},
    {.name = "log_format", .type = PROP_ENUM, .def = "\"w3c\"", .values = log_format_values,
     .where = SERVICE | SITE, .services = MB_SVC_ALL, .inherit = true,
     .doc = "Access log format: W3C extended, NCSA common, SQLite databases that infoadm log "
            "queries (docs/logdb.md), or no access log."},
    {.name = "log_period", .type = PROP_ENUM, .def = "\"daily\"", .values = log_period_values,
     .where = SERVICE | SITE, .services = MB_SVC_ALL, .inherit = true,
     .doc = "When the access log starts a new file: by time, by size (log_size), or never."},
    {.name = "log_size", .type = PROP_INT, .def = "10485760", .min = 1024, .max = TiB,
     .where = SERVICE | SITE, .services = MB_SVC_ALL, .inherit = true,
     .doc = "File size in bytes at which log_period \"size\" starts a new access log file."},
    {.name = "log_keep_periods", .capability = "log.query", .type = PROP_INT, .def = "30", .min = 0, .max = 100000,
     .where = SERVICE | SITE, .services = MB_SVC_ALL, .inherit = true,
     .doc = "Old periods (files) of a log_format \"sqlite\" access log kept beside the "
            "current one; older ones are deleted whole (0 = the current period only). Text "
            "logs are never deleted."},
    {.name = "gopher_site", .type = PROP_STRING, .where = SERVICE | SITE,
     .services = MB_SVC_GOPHER, .inherit = true,
     .doc = "Name of the Gopher site, in Gopher+ +ADMIN (Site:) and caps.txt."},
    {.name = "gopher_organization", .type = PROP_STRING, .where = SERVICE | SITE,
     .services = MB_SVC_GOPHER, .inherit = true,
     .doc = "Organization running the Gopher site, in Gopher+ +ADMIN (Org:)."},
    {.name = "gopher_location", .type = PROP_STRING, .where = SERVICE | SITE,
     .services = MB_SVC_GOPHER, .inherit = true,
     .doc = "Where the Gopher site is (\"City, Country\"), in Gopher+ +ADMIN (Loc:)."},
    {.name = "gopher_geography", .type = PROP_STRING, .where = SERVICE | SITE,
     .services = MB_SVC_GOPHER, .inherit = true,
     .doc = "Latitude and longitude of the site, in Gopher+ +ADMIN (Geog:)."},
    {.name = "gopher_language", .type = PROP_STRING, .where = SERVICE | SITE,
     .services = MB_SVC_GOPHER, .inherit = true,
     .doc = "Language of the site's documents (\"En_US\"), in Gopher+ +ADMIN (Language:)."},
    {.name = "allow_anonymous", .type = PROP_BOOL, .def = "true", .where = SERVICE | SITE,
     .services = MB_SVC_FTP, .inherit = true,
     .doc = "Anonymous FTP logins (USER anonymous or ftp, any password) are accepted."},
    {.name = "anonymous_only", .type = PROP_BOOL, .def = "false", .where = SERVICE | SITE,
     .services = MB_SVC_FTP, .inherit = true,
     .doc = "Only anonymous FTP logins are accepted; named users get 530."},
    {.name = "ftp_greeting", .type = PROP_STRLIST, .def = "[]", .where = SERVICE | SITE,
     .services = MB_SVC_FTP, .inherit = true,
     .doc = "Lines of the 220 greeting sent on connect (empty: \"infosrv FTP service ready\")."},
    {.name = "ftp_welcome", .type = PROP_STRLIST, .def = "[]", .where = SERVICE | SITE,
     .services = MB_SVC_FTP, .inherit = true,
     .doc = "Lines sent with the 230 reply of a successful login."},
    {.name = "ftp_exit_message", .type = PROP_STRLIST, .def = "[]", .where = SERVICE | SITE,
     .services = MB_SVC_FTP, .inherit = true, .doc = "Lines of the 221 reply to QUIT."},
    {.name = "ftp_max_clients_message", .type = PROP_STRLIST, .def = "[]",
     .where = SERVICE | SITE, .services = MB_SVC_FTP, .inherit = true,
     .doc = "Lines of the 421 reply to a client refused because the site or its address has "
            "too many connections."},
    {.name = "listing_style", .type = PROP_ENUM, .def = "\"unix\"", .values = listing_values,
     .where = SERVICE | SITE, .services = MB_SVC_FTP, .inherit = true,
     .doc = "LIST output: \"unix\" (ls -l) or \"msdos\" (the original server's MS-DOS style)."},
    {.name = "passive_port_min", .type = PROP_INT, .def = "0", .min = 0, .max = 65535,
     .where = SERVICE | SITE, .services = MB_SVC_FTP, .inherit = true,
     .doc = "Lowest port of passive data connections (0 with passive_port_max 0: any free port)."},
    {.name = "passive_port_max", .type = PROP_INT, .def = "0", .min = 0, .max = 65535,
     .where = SERVICE | SITE, .services = MB_SVC_FTP, .inherit = true,
     .doc = "Highest port of passive data connections."},
    {.name = "data_timeout", .type = PROP_INT, .def = "120", .min = 1, .max = 86400,
     .where = SERVICE | SITE, .services = MB_SVC_FTP, .inherit = true,
     .doc = "Seconds a data connection may wait to open or stall before the transfer ends with "
            "425 or 426."},
    {.name = "max_connections_per_address", .type = PROP_INT, .def = "0", .min = 0,
     .max = 1000000, .where = SERVICE | SITE, .services = MB_SVC_FTP, .inherit = true,
     .doc = "Most simultaneous FTP control connections from one client address (0 = unlimited)."},
    {.name = "ftp_tls", .type = PROP_ENUM, .def = "\"allow\"", .values = ftp_tls_values,
     .where = SERVICE | SITE, .services = MB_SVC_FTP, .inherit = true,
     .doc = "Explicit FTPS (AUTH TLS): \"off\", \"allow\", or \"require\" (no login and no "
            "data connection without TLS)."},
    {.name = "password_hash", .type = PROP_STRING, .where = USER, .services = MB_SVC_FTP,
     .secret = true,
     .capability = "ftp.users",
     .doc = "The FTP user's password as an argon2id hash (written by infoadm user add and "
            "passwd; write-only)."},
    {.name = "home_directory", .type = PROP_PATH, .def = "\"/\"", .where = USER,
     .services = MB_SVC_FTP,
     .capability = "ftp.users",
     .doc = "The FTP user's home: a directory under each FTP site's root that the user sees as "
            "/ and cannot leave (\"/\": the whole site)."},
    {.name = "enabled", .type = PROP_BOOL, .def = "true", .where = USER, .services = MB_SVC_FTP,
     .capability = "ftp.users",
     .doc = "The FTP user may log in."},
    {.name = "anonymous_user", .type = PROP_STRING, .where = ANYWHERE, .services = MB_SVC_ALL,
     .inherit = true, .doc = "Local account that anonymous requests and FTP logins run as."},
    {.name = "anonymous_password", .type = PROP_STRING, .where = ANYWHERE,
     .services = MB_SVC_ALL, .inherit = true, .secret = true,
     .doc = "Password of anonymous_user (write-only)."},
    {.name = "comment", .type = PROP_STRING, .where = ANYWHERE | USER, .services = MB_SVC_ALL,
     .doc = "Free-text note about this key."},
    /* directories */
    {.name = "path", .type = PROP_PATH, .where = VDIR, .services = MB_SVC_ALL,
     .required = PROP_REQUIRED_ON_ROOT,
     .doc = "Directory on disk served here; required on a site's root. A directory key "
            "without it is the subdirectory of the same name under its parent."},
    {.name = "access_read", .type = PROP_BOOL, .def = "true", .where = VDIR,
     .services = MB_SVC_ALL, .inherit = true, .doc = "Files here may be read (else 403)."},
    {.name = "access_write", .type = PROP_BOOL, .def = "false", .where = VDIR,
     .services = MB_SVC_WWW | MB_SVC_FTP, .inherit = true,
     .doc = "Files here may be uploaded, replaced and deleted."},
    {.name = "access_execute", .type = PROP_BOOL, .def = "false", .where = VDIR,
     .services = MB_SVC_WWW, .inherit = true,
     .doc = "Programs here run as CGI instead of being sent."},
    {.name = "access_script", .type = PROP_BOOL, .def = "false", .where = VDIR,
     .services = MB_SVC_WWW, .inherit = true,
     .doc = "Scripts here run through their script-map interpreter."},
    {.name = "default_documents", .type = PROP_STRLIST,
     .def = "[\"index.html\", \"index.htm\", \"default.htm\"]", .where = ANYWHERE,
     .services = MB_SVC_WWW, .inherit = true,
     .doc = "Files tried, in order, for a request naming a directory."},
    {.name = "directory_browsing", .type = PROP_BOOL, .def = "false", .where = ANYWHERE,
     .services = MB_SVC_WWW, .inherit = true,
     .doc = "List a directory that has no default document (else 403)."},
    {.name = "browse_show_date", .type = PROP_BOOL, .def = "true", .where = ANYWHERE,
     .services = MB_SVC_WWW, .inherit = true, .doc = "Directory listings show the date."},
    {.name = "browse_show_time", .type = PROP_BOOL, .def = "true", .where = ANYWHERE,
     .services = MB_SVC_WWW, .inherit = true, .doc = "Directory listings show the time."},
    {.name = "browse_show_size", .type = PROP_BOOL, .def = "true", .where = ANYWHERE,
     .services = MB_SVC_WWW, .inherit = true, .doc = "Directory listings show file sizes."},
    {.name = "browse_show_extension", .type = PROP_BOOL, .def = "true", .where = ANYWHERE,
     .services = MB_SVC_WWW, .inherit = true,
     .doc = "Directory listings show file name extensions."},
    {.name = "browse_long_date", .type = PROP_BOOL, .def = "false", .where = ANYWHERE,
     .services = MB_SVC_WWW, .inherit = true,
     .doc = "Directory listings show dates with the weekday and month name."},
    {.name = "mime_map", .type = PROP_MAP, .where = ANYWHERE, .services = MB_SVC_WWW,
     .inherit = true,
     .doc = "Extension (without the dot) to MIME type overrides; a map set lower down "
            "replaces one set higher up."},
    {.name = "compression", .capability = "www.compression", .type = PROP_ENUM, .def = "\"on\"", .values = compression_values,
     .where = ANYWHERE, .services = MB_SVC_WWW, .inherit = true,
     .doc = "Content coding of files of compression_types for clients whose Accept-Encoding "
            "allows it: \"off\"; \"static\" (a FILE.br or FILE.gz beside FILE, not older "
            "than it, is sent instead); \"on\" (those, else a gzip copy made once per file "
            "version)."},
    {.name = "compression_min_size", .capability = "www.compression", .type = PROP_INT, .def = "1024", .min = 0, .max = TiB,
     .where = ANYWHERE, .services = MB_SVC_WWW, .inherit = true,
     .doc = "Smallest file, in bytes, that compression \"on\" gzips (files up to 64 MiB "
            "are)."},
    {.name = "compression_types", .capability = "www.compression", .type = PROP_STRLIST,
     .def = "[\"text/html\", \"text/css\", \"text/plain\", \"text/javascript\", "
            "\"application/javascript\", \"application/json\", \"application/xml\", "
            "\"text/xml\", \"image/svg+xml\", \"text/csv\", \"text/markdown\", "
            "\"application/wasm\"]",
     .item_check = media_type_check, .where = ANYWHERE, .services = MB_SVC_WWW, .inherit = true,
     .doc = "Media types that may be sent coded (\"text/*\" for a whole type); formats "
            "compressed already (PNG, JPEG, gzip, zip, WOFF, audio, video) never are."},
    {.name = "symlinks", .type = PROP_ENUM, .def = "\"inside\"", .values = symlink_values,
     .where = ANYWHERE, .services = MB_SVC_ALL, .inherit = true,
     .doc = "Which symbolic links are followed: inside the directory only, never, or any."},
};

/* clang-format on */

#define NPROPS (sizeof(table) / sizeof(table[0]))

const struct prop *props_find(const char *name)
{
    for (size_t i = 0; name != NULL && i < NPROPS; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

size_t props_count(void)
{
    return NPROPS;
}

const struct prop *props_at(size_t i)
{
    return i < NPROPS ? &table[i] : NULL;
}

bool props_valid_on(const struct prop *p, enum mb_kind kind, unsigned service)
{
    if ((p->where & (unsigned)kind) == 0)
        return false;
    return kind == MB_KIND_MACHINE || (p->services & service) != 0;
}

json_t *props_default(const struct prop *p)
{
    return p->def ? json_loads(p->def, JSON_DECODE_ANY, NULL) : NULL;
}

const char *props_type_name(enum prop_type t)
{
    static const char *const names[] = {
        [PROP_STRING] = "string",         [PROP_INT] = "integer",
        [PROP_BOOL] = "boolean",          [PROP_ENUM] = "enum",
        [PROP_STRLIST] = "string list",   [PROP_MAP] = "map",
        [PROP_ADDRLIST] = "address list", [PROP_PATH] = "path",
    };
    return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}

void props_where_text(unsigned where, char *out, size_t cap)
{
    static const struct {
        unsigned bit;
        const char *words;
    } kinds[] = {{MACHINE, "the machine key"},
                 {SERVICE, "services"},
                 {SITE, "sites"},
                 {VDIR, "virtual directories"},
                 {MB_KIND_USER, "FTP users"}};
    size_t used = 0, n = 0, total = 0, nkinds = sizeof(kinds) / sizeof(kinds[0]);

    out[0] = '\0';
    for (size_t i = 0; i < nkinds; i++)
        total += (where & kinds[i].bit) != 0;
    for (size_t i = 0; i < nkinds && used < cap; i++) {
        if ((where & kinds[i].bit) == 0)
            continue;
        const char *sep = n == 0 ? "" : n + 1 == total ? " and " : ", ";
        int w = snprintf(out + used, cap - used, "%s%s", sep, kinds[i].words);
        used += w > 0 ? (size_t)w : 0;
        n++;
    }
}

static void services_text(unsigned services, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s%s%s%s", services & MB_SVC_WWW ? "www" : "",
             (services & MB_SVC_WWW) && (services & ~MB_SVC_WWW & MB_SVC_ALL) ? ", " : "",
             services & MB_SVC_FTP ? "ftp" : "",
             (services & MB_SVC_FTP) && (services & MB_SVC_GOPHER) ? ", " : "",
             services & MB_SVC_GOPHER ? "gopher" : "");
}

int props_check_where(const struct prop *p, enum mb_kind kind, unsigned service, const char *key,
                      struct mb_error *err)
{
    char where[96], svcs[32];

    if (props_valid_on(p, kind, service))
        return 0;
    if (kind == MB_KIND_SITES || kind == MB_KIND_USERS)
        return mb_fail(err, MB_E_NOT_ALLOWED_HERE, key, p->name,
                       "property \"%s\" cannot be set on %s: it only holds the %s", p->name,
                       key, kind == MB_KIND_SITES ? "sites" : "FTP users");
    if ((p->where & (unsigned)kind) == 0) {
        props_where_text(p->where, where, sizeof(where));
        return mb_fail(err, MB_E_NOT_ALLOWED_HERE, key, p->name,
                       "property \"%s\" cannot be set on %s (a %s key); it belongs on %s", p->name,
                       key, mb_kind_name(kind), where);
    }
    services_text(p->services, svcs, sizeof(svcs));
    return mb_fail(err, MB_E_NOT_ALLOWED_HERE, key, p->name,
                   "property \"%s\" cannot be set on %s: it applies only to the %s service%s",
                   p->name, key, svcs, strchr(svcs, ',') ? "s" : "");
}
