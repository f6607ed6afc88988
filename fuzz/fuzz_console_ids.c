/*
 * libFuzzer driver for the two strings a browser sends the admin listener
 * unasked: the Cookie header (login_cookie_id) and Last-Event-ID
 * (events_resume_point). A session id found is 64 lowercase hex digits that
 * occur in the input after "infosrv_session="; a resume point is -1 or a
 * sequence the ring has seen.
 */
#include <stdlib.h>
#include <string.h>

#include "admin/events.h"
#include "admin/login.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    char id[LOGIN_ID_HEX], *s;
    int64_t at;

    if (!ready) {
        events_init(NULL, NULL, NULL);
        for (int i = 0; i < 3; i++)
            events_publish("stats", json_pack("{s:i}", "n", i));
        ready = true;
    }
    login_cookie_id((const char *)data, size, id);
    if (id[0]) {
        CHECK(strlen(id) == LOGIN_ID_HEX - 1);
        for (size_t i = 0; i < LOGIN_ID_HEX - 1; i++)
            CHECK((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'));
        CHECK(memmem(data, size, id, LOGIN_ID_HEX - 1) != NULL);
        CHECK(memmem(data, size, LOGIN_COOKIE "=", sizeof(LOGIN_COOKIE)) != NULL);
    }
    s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    at = events_resume_point(s);
    CHECK(at == -1 || (at >= 0 && (uint64_t)at <= events_last()));
    if (s[0] == '\0')
        CHECK(at == (int64_t)events_last());
    free(s);
    return 0;
}
