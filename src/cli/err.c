/* err: filling and printing the one-line error record. */
#include "cli/err.h"

#include <stdarg.h>
#include <string.h>

void cli_err_clear(struct cli_err *e)
{
    memset(e, 0, sizeof(*e));
}

void cli_err_oneline(char *dst, size_t cap, const char *s)
{
    size_t n = 0;

    if (cap == 0)
        return;
    for (; s != NULL && *s != '\0' && n + 1 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        dst[n++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
    }
    /* A message ending in "\n" from a server must not leave a trailing blank. */
    while (n > 0 && dst[n - 1] == ' ')
        n--;
    dst[n] = '\0';
}

void cli_err_set(struct cli_err *e, int exit, const char *code, const char *fmt, ...)
{
    char tmp[sizeof(e->msg)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    e->exit = exit;
    e->http = 0;
    e->named = false;
    cli_err_oneline(e->code, sizeof(e->code), code != NULL ? code : "");
    cli_err_oneline(e->msg, sizeof(e->msg), tmp);
}

static const char *api_string(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

void cli_err_from_api(struct cli_err *e, long http, const char *body, size_t len)
{
    json_t *doc = body != NULL ? json_loadb(body, len, JSON_DECODE_ANY, NULL) : NULL;
    const json_t *eobj = json_object_get(doc, "error");
    const char *code = api_string(eobj, "code");
    const char *msg = api_string(eobj, "message");

    if (msg != NULL)
        cli_err_set(e, CLI_EXIT_API, code, "%s", msg);
    else if (code != NULL)
        cli_err_set(e, CLI_EXIT_API, code, "the server refused the request: %s (HTTP %ld)", code,
                    http);
    else
        cli_err_set(e, CLI_EXIT_API, "http_error",
                    "the server answered HTTP %ld without an error description", http);
    e->http = http;
    json_decref(doc);
}

void cli_err_print(FILE *f, const struct cli_err *e, const char *server)
{
    if (server != NULL && !e->named)
        fprintf(f, "infoadm: %s: %s\n", server, e->msg);
    else
        fprintf(f, "infoadm: %s\n", e->msg);
}

json_t *cli_err_json(const struct cli_err *e)
{
    return json_pack("{s:{s:s,s:s}}", "error", "code", e->code[0] ? e->code : "error", "message",
                     e->msg);
}
