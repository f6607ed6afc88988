/* h2: the HTTP/2 connection — nghttp2's callbacks, streams and their
 * requests, the encoder of struct www_res, output through the connection's
 * queue, timers and the limits. */
#include "www/h2.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/net.h"
#include "runtime/fcache.h"
#include "runtime/gen.h"
#include "runtime/session.h"
#include "runtime/worker.h"
#include "version.h"
#include "www/conn.h"
#include "www/h2mem.h"
#include "www/req.h"
#include "www/static.h"
#include "www/www.h"

#define H2_FRAME_HEAD 9
/* Bytes framed into the queue per flush: what one pooled buffer holds, so a
 * large response reuses it instead of growing and freeing a bigger one per
 * batch (paired runs: 128 KiB batches cost twice the CPU per 100 KB
 * response over TLS, 64 and 256 KiB about the same). */
#define H2_BATCH WORKER_POOL_BUF_MAX
#define H2_MAX_ACKS 1000      /* SETTINGS and PING ACKs queued unsent: a flood beyond */
#define H2_MAX_CONTINUATIONS 8
#define H2_NG_RESET_BURST 1000 /* nghttp2's own reset limiter, behind ours */
#define H2_NG_RESET_RATE 33
#define H2_MAX_TARGET 8192     /* as HTTP/1.1: 414 beyond */
#define H2_INLINE_PARTS 2
#define H2_MAX_PARTS 40        /* multipart/byteranges: 16 files and 17 part heads */
#define H2_CLOSING_MS 2000     /* a GOAWAY that ends the connection gets this long to leave */

/* The request fields a stream keeps (references into nghttp2's decoded strings). */
enum h2_field {
    F_METHOD, F_PATH, F_AUTHORITY, F_HOST, F_IF_MATCH, F_IF_NONE_MATCH, F_IF_MODIFIED_SINCE,
    F_IF_UNMODIFIED_SINCE, F_IF_RANGE, F_RANGE, F_USER_AGENT, F_REFERER, F_CONTENT_LENGTH,
    F_AUTHORIZATION, F_CONTENT_TYPE, F_ACCEPT_ENCODING, F_COUNT
};

#define H2_MAX_REQ_FIELDS 64  /* request fields a handler may list (CGI's HTTP_ variables) */
#define H2_ROOM (256 * 1024)  /* a detached response's unsent body before room() says no */

struct h2_async;

/* A piece of a response body: bytes in the stream's buffer, or of a cached file. */
struct h2_part {
    struct fc_entry *fe; /* NULL: bytes at body->data + off; else a reference */
    off_t off;
    size_t len;
};

struct h2_stream {
    struct h2_stream *next, *prev; /* the connection's live streams; next links the free list */
    int32_t id;
    nghttp2_rcbuf *field[F_COUNT]; /* references, dropped once answered */
    struct http_str value[F_COUNT]; /* their bytes */
    size_t header_bytes;           /* header list size so far: name + value + 32 per field */
    uint64_t bytes_in;             /* frame bytes of the request head */
    bool too_large;                /* the header list went past H2_MAX_HEADER_LIST */
    bool answered, remote_done, sending, broken;
    bool suspended;                /* its handler waits (www_wake answers it again) */
    bool streaming, eof;           /* a detached response's body comes later; its end came */
    struct h2_async *as;           /* its detached response, or NULL */
    unsigned nhdr;
    uint64_t body_in;              /* request body bytes received */
    struct buf *held;              /* body bytes that came while suspended (window kept shut) */
    uint64_t body_declared;        /* content-length; UINT64_MAX when none was given */
    struct buf *body;              /* pooled: the body bytes of the response */
    struct h2_part *parts;         /* inline_parts, or on the heap for many */
    struct h2_part inline_parts[H2_INLINE_PARTS];
    unsigned nparts, part;         /* parts queued; the next one to frame */
    /* every request field (nhdr of them), last: a new stream clears only what is above */
    nghttp2_rcbuf *hname[H2_MAX_REQ_FIELDS], *hvalue[H2_MAX_REQ_FIELDS];
    struct http_header hdr[H2_MAX_REQ_FIELDS];
};

/* What the connection's timer waits for. */
enum h2_wait { H2_W_NONE, H2_W_REQUEST, H2_W_IDLE, H2_W_WRITE, H2_W_STALL, H2_W_CLOSING,
               H2_W_HANDLER /* handlers keep their own time (cgi_timeout) */ };

struct h2_conn {
    struct www_conn *c;
    nghttp2_session *ng;
    struct h2_stream *live, *free;
    unsigned nstreams;     /* stream objects open */
    unsigned unanswered;   /* streams whose request head is still arriving */
    unsigned sending;      /* streams with body bytes left to frame */
    struct h2_stream *cur; /* the stream the encoder writes */
    const struct www_req *cur_q; /* its request, during the handler's call */
    struct h2_fields fields; /* the response head being built */
    char status[3];
    uint64_t queued;       /* bytes of the response being built, for the access log */
    size_t block_bytes;    /* frame bytes of the header block being received */
    uint64_t reset_window_ms;
    unsigned resets;       /* RST_STREAMs received in this window */
    size_t batch;          /* bytes framed since the queue was last empty */
    enum h2_wait wait;
    bool moved;            /* DATA framed, or a blocked socket took bytes, since the timer was armed */
    bool answered;         /* a request was answered since the timer was armed */
    bool blocked;          /* a DATA frame waits for the queue to drain */
    bool goaway;           /* a GOAWAY was submitted */
    bool closing;          /* the session was terminated: close once it is out */
    bool read_eof, stop_reading;
    unsigned pending;      /* streams whose handler is suspended or detached */
    struct loop_timer kick; /* output of detached handlers is framed from the loop */
};

/* A detached response (www/req.h): the handler writes it after its call. */
struct h2_async {
    struct www_res res;    /* ops = h2_async_encoder, enc = this */
    struct h2_conn *h;
    struct h2_stream *st;  /* NULL once the stream is gone */
    struct h2_fields fields;
    char status[3];
    uint64_t queued;       /* bytes of the response, for the access log */
    struct www_req q;      /* for the access log (strings in store) */
    struct buf store;
    size_t unconsumed;     /* request body bytes taken while paused: the window stays shut */
    bool submitted, eof, paused, drain_wanted, body_ended;
};

/* A suspended request's wait: the stream may be gone by the wake. */
struct h2_waiter {
    struct www_wait w;
    struct www_conn *c;
    int32_t id;
};

static void h2_pump(struct h2_conn *h);
static ssize_t read_data(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *user);

/* ---- streams ---- */

static struct h2_stream *stream_new(struct h2_conn *h, int32_t id)
{
    struct h2_stream *st = h->free;

    if (st != NULL)
        h->free = st->next;
    else
        st = xmalloc(sizeof(*st));
    memset(st, 0, offsetof(struct h2_stream, hname));
    st->id = id;
    st->parts = st->inline_parts;
    st->next = h->live;
    if (h->live)
        h->live->prev = st;
    h->live = st;
    h->nstreams++;
    h->unanswered++;
    return st;
}

static void stream_drop_fields(struct h2_stream *st)
{
    for (size_t i = 0; i < F_COUNT; i++) {
        if (st->field[i] != NULL)
            nghttp2_rcbuf_decref(st->field[i]);
        st->field[i] = NULL;
        st->value[i] = (struct http_str){NULL, 0};
    }
    for (unsigned i = 0; i < st->nhdr; i++) {
        nghttp2_rcbuf_decref(st->hname[i]);
        nghttp2_rcbuf_decref(st->hvalue[i]);
    }
    st->nhdr = 0;
}

static void async_abort(struct h2_async *as);

/* The stream has framed all its body (or never will): its buffers go back. */
static void stream_done_sending(struct h2_conn *h, struct h2_stream *st)
{
    for (unsigned i = st->part; i < st->nparts; i++)
        if (st->parts[i].fe)
            fcache_put(st->parts[i].fe);
    st->part = st->nparts;
    if (st->sending)
        h->sending--;
    st->sending = false;
    worker_buf_put(h->c->s.w, st->body);
    st->body = NULL;
    if (st->parts != st->inline_parts)
        free(st->parts);
    st->parts = st->inline_parts;
    st->nparts = st->part = 0;
}

static void stream_free(struct h2_conn *h, struct h2_stream *st)
{
    if (st->as)
        async_abort(st->as);
    if (st->suspended)
        h->pending--;
    st->suspended = false;
    worker_buf_put(h->c->s.w, st->held);
    st->held = NULL;
    stream_drop_fields(st);
    stream_done_sending(h, st);
    if (!st->answered)
        h->unanswered--;
    if (st->prev)
        st->prev->next = st->next;
    else
        h->live = st->next;
    if (st->next)
        st->next->prev = st->prev;
    h->nstreams--;
    st->next = h->free;
    h->free = st;
}

static struct h2_part *stream_part(struct h2_stream *st)
{
    if (st->nparts == H2_MAX_PARTS) {
        st->broken = true;
        return NULL;
    }
    if (st->nparts == H2_INLINE_PARTS && st->parts == st->inline_parts) {
        st->parts = xmalloc(H2_MAX_PARTS * sizeof(*st->parts));
        memcpy(st->parts, st->inline_parts, sizeof(st->inline_parts));
    }
    return &st->parts[st->nparts++];
}

static void stream_add_bytes(struct h2_conn *h, struct h2_stream *st, const void *p, size_t n)
{
    struct h2_part *last = st->nparts ? &st->parts[st->nparts - 1] : NULL;

    if (n == 0)
        return;
    if (st->body == NULL)
        st->body = worker_buf_get(h->c->s.w);
    if (last && last->fe == NULL && (size_t)last->off + last->len == st->body->len)
        last->len += n;
    else if ((last = stream_part(st)) != NULL)
        *last = (struct h2_part){.off = (off_t)st->body->len, .len = n};
    else
        return;
    buf_append(st->body, p, n);
}

static void stream_add_file(struct h2_stream *st, struct fc_entry *fe, off_t off, size_t len)
{
    struct h2_part *p;

    if (len == 0 || (p = stream_part(st)) == NULL)
        return;
    *p = (struct h2_part){.fe = fe, .off = off, .len = len};
    fe->refs++;
}

/* ---- response heads ---- */

static bool field_forbidden(const char *n, size_t len)
{
    switch (len) {
    case 7:
        return memcmp(n, "upgrade", 7) == 0;
    case 10:
        return memcmp(n, "connection", 10) == 0 || memcmp(n, "keep-alive", 10) == 0;
    case 16:
        return memcmp(n, "proxy-connection", 16) == 0;
    case 17:
        return memcmp(n, "transfer-encoding", 17) == 0;
    default:
        return false;
    }
}

/* RFC 9110 5.6.2 tchar, upper case excluded (HTTP/2 names are lower case). */
static const bool name_chars[256] = {
    ['a' ... 'z'] = true, ['0' ... '9'] = true, ['!'] = true, ['#'] = true, ['$'] = true,
    ['%'] = true, ['&'] = true, ['\''] = true, ['*'] = true, ['+'] = true, ['-'] = true,
    ['.'] = true, ['^'] = true, ['_'] = true, ['`'] = true, ['|'] = true, ['~'] = true,
};

/* Lower-case NAME into P; false when it is empty or not a token. */
static bool name_lower(char *p, const char *name, size_t nlen)
{
    for (size_t i = 0; i < nlen; i++) {
        p[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] + 'a' - 'A') : name[i];
        if (!name_chars[(unsigned char)p[i]])
            return false;
    }
    return nlen > 0;
}

/* No control byte but HTAB (RFC 9110 5.5); one pass, values are short. */
static bool value_ok(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return false;
    }
    return true;
}

/* The handlers write fields that are valid; one that is not (a control
 * byte in the value, a name that is no token) is dropped, never sent. */
bool h2_fields_add(struct h2_fields *fs, const char *name, size_t nlen, const char *value,
                   size_t vlen)
{
    struct buf *b = &fs->b;
    char *p;

    if (fs->n == H2_FIELDS_MAX)
        return false;
    buf_reserve(b, nlen + vlen);
    p = b->data + b->len;
    if (!name_lower(p, name, nlen) || field_forbidden(p, nlen) || !value_ok(value, vlen))
        return true;
    memcpy(p + nlen, value, vlen);
    fs->f[fs->n].name = (uint32_t)b->len;
    fs->f[fs->n].nlen = (uint32_t)nlen;
    fs->f[fs->n].value = (uint32_t)(b->len + nlen);
    fs->f[fs->n].vlen = (uint32_t)vlen;
    fs->n++;
    b->len += nlen + vlen;
    return true;
}

static bool ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

bool h2_fields_add_lines(struct h2_fields *fs, const char *lines, size_t n)
{
    const char *p = lines, *end = lines + n;
    bool ok = true;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end, *colon, *v;
        if (le > p && le[-1] == '\r')
            le--;
        colon = memchr(p, ':', (size_t)(le - p));
        if (colon != NULL && colon > p) {
            for (v = colon + 1; v < le && ows(*v); v++)
                ;
            while (le > v && ows(le[-1]))
                le--;
            ok = h2_fields_add(fs, p, (size_t)(colon - p), v, (size_t)(le - v)) && ok;
        }
        p = eol ? eol + 1 : end;
    }
    return ok;
}

/* ---- the encoder of struct www_res ---- */

/* A response head begins: :status in ST, date and server in FS. Returns the
 * bytes of those names and values, as the access log counts heads. */
static uint64_t head_begin(struct h2_fields *fs, char st[3], int status)
{
    static const char server[] = "infosrv/" INFOSRV_VERSION;

    if (status < 100 || status > 999)
        status = 500;
    st[0] = (char)('0' + status / 100);
    st[1] = (char)('0' + status / 10 % 10);
    st[2] = (char)('0' + status % 10);
    fs->n = 0;
    buf_reset(&fs->b);
    h2_fields_add(fs, "date", 4, clock_http_date(), HTTP_DATE_LEN);
    h2_fields_add(fs, "server", 6, server, sizeof(server) - 1);
    return 7 + 3 + 4 + HTTP_DATE_LEN + 6 + sizeof(server) - 1;
}

/* Submit the head (ST, FS) on stream ID, with its body from PRD (NULL: none); 0 or -1. */
static int head_submit(nghttp2_session *ng, int32_t id, char st[3], struct h2_fields *fs,
                       const nghttp2_data_provider *prd)
{
    nghttp2_nv nv[H2_FIELDS_MAX + 1];
    char *b = fs->b.data;
    size_t n = 0;

    nv[n++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)st, 7, 3, NGHTTP2_NV_FLAG_NONE};
    for (unsigned i = 0; i < fs->n; i++)
        nv[n++] = (nghttp2_nv){(uint8_t *)b + fs->f[i].name, (uint8_t *)b + fs->f[i].value,
                               fs->f[i].nlen, fs->f[i].vlen, NGHTTP2_NV_FLAG_NONE};
    return nghttp2_submit_response(ng, id, nv, n, prd) == 0 ? 0 : -1;
}

static void enc_status(struct www_res *res, int status)
{
    struct h2_conn *h = res->enc;

    h->queued += head_begin(&h->fields, h->status, status);
}

static void enc_header(struct www_res *res, const char *lines, size_t n)
{
    struct h2_conn *h = res->enc;

    h->queued += n;
    if (!h2_fields_add_lines(&h->fields, lines, n))
        log_debug("www: HTTP/2 response head of more than %d fields cut", H2_FIELDS_MAX);
}

static void enc_end_head(struct www_res *res)
{
    if (res->extra_len)
        enc_header(res, res->extra, res->extra_len);
}

static void enc_body(struct www_res *res, const void *p, size_t n)
{
    struct h2_conn *h = res->enc;

    h->queued += n;
    stream_add_bytes(h, h->cur, p, n);
}

static void enc_file(struct www_res *res, struct fc_entry *fe, off_t off, size_t len)
{
    struct h2_conn *h = res->enc;

    h->queued += len;
    stream_add_file(h->cur, fe, off, len);
}

static uint64_t enc_queued(const struct www_res *res)
{
    const struct h2_conn *h = res->enc;

    return h->queued;
}

static void h2_kick_later(struct h2_conn *h);
static void stream_answer(struct h2_conn *h, struct h2_stream *st, bool again);

/* ---- handlers that answer later (www/req.h) ---- */

static void h2_wake(struct www_wait *w)
{
    struct h2_waiter *hw = container_of(w, struct h2_waiter, w);
    struct www_conn *c = hw->c;
    int32_t id = hw->id;
    struct h2_stream *st;

    free(hw);
    c->waiting--;
    if (c->orphan) { /* closed and released while the handler waited */
        if (c->waiting == 0)
            free(c);
        return;
    }
    if (c->state == CS_DEAD || c->h2 == NULL)
        return;
    for (st = c->h2->live; st != NULL && st->id != id; st = st->next)
        ;
    if (st == NULL || !st->suspended)
        return; /* reset meanwhile */
    st->suspended = false;
    c->h2->pending--;
    stream_answer(c->h2, st, true);
    h2_pump(c->h2);
}

static struct www_wait *enc_suspend(struct www_res *res)
{
    struct h2_conn *h = res->enc;
    struct h2_waiter *hw = xcalloc(1, sizeof(*hw));

    hw->w.wake = h2_wake;
    hw->c = h->c;
    hw->id = h->cur->id;
    h->c->waiting++;
    h->cur->suspended = true;
    h->pending++;
    return &hw->w;
}

static const struct www_res_ops h2_async_encoder;

static struct www_res *enc_detach(struct www_res *res)
{
    struct h2_conn *h = res->enc;
    struct h2_async *as = xcalloc(1, sizeof(*as));

    as->res = *res;
    as->res.ops = &h2_async_encoder;
    as->res.enc = as;
    as->h = h;
    as->st = h->cur;
    h->cur->as = as;
    h->pending++;
    www_req_keep(h->cur_q, &as->q, &as->store);
    return &as->res;
}

static const struct www_res_ops h2_encoder = {
    .status = enc_status,
    .header = enc_header,
    .end_head = enc_end_head,
    .body = enc_body,
    .file = enc_file,
    .queued = enc_queued,
    .suspend = enc_suspend,
    .detach = enc_detach,
};

static void async_status(struct www_res *res, int status)
{
    struct h2_async *as = res->enc;

    as->queued += head_begin(&as->fields, as->status, status);
}

static void async_header(struct www_res *res, const char *lines, size_t n)
{
    struct h2_async *as = res->enc;

    as->queued += n;
    if (!h2_fields_add_lines(&as->fields, lines, n))
        log_debug("www: HTTP/2 response head of more than %d fields cut", H2_FIELDS_MAX);
}

static void async_end_head(struct www_res *res)
{
    struct h2_async *as = res->enc;
    struct h2_stream *st = as->st;
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_data};

    if (res->extra_len)
        async_header(res, res->extra, res->extra_len);
    if (st == NULL || as->submitted)
        return;
    as->submitted = true;
    st->streaming = !res->head_only;
    if (head_submit(as->h->ng, st->id, as->status, &as->fields, res->head_only ? NULL : &prd) != 0)
        nghttp2_submit_rst_stream(as->h->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
    h2_kick_later(as->h);
}

static void async_more(struct h2_async *as)
{
    struct h2_stream *st = as->st;

    if (!st->sending) {
        st->sending = true;
        as->h->sending++;
    }
    nghttp2_session_resume_data(as->h->ng, st->id);
    h2_kick_later(as->h);
}

static void async_body(struct www_res *res, const void *p, size_t n)
{
    struct h2_async *as = res->enc;

    as->queued += n;
    if (as->st == NULL || res->head_only || n == 0)
        return;
    stream_add_bytes(as->h, as->st, p, n);
    async_more(as);
}

static void async_file(struct www_res *res, struct fc_entry *fe, off_t off, size_t len)
{
    struct h2_async *as = res->enc;

    as->queued += len;
    if (as->st == NULL || res->head_only || len == 0)
        return;
    stream_add_file(as->st, fe, off, len);
    async_more(as);
}

static uint64_t async_queued(const struct www_res *res)
{
    const struct h2_async *as = res->enc;

    return as->queued;
}

static void async_free(struct h2_async *as)
{
    if (as->st)
        as->st->as = NULL;
    as->h->pending--;
    buf_free(&as->store);
    buf_free(&as->fields.b);
    free(as);
}

static void async_finish(struct www_res *res, int status)
{
    struct h2_async *as = res->enc;
    struct h2_conn *h = as->h;
    struct h2_stream *st = as->st;

    www_account(&as->q, h->c->s.site, status, as->queued, res->file_sent);
    if (st != NULL) {
        if (res->broken || !as->submitted) {
            nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
        } else if (st->streaming) {
            st->eof = true;
            nghttp2_session_resume_data(h->ng, st->id);
        }
    }
    async_free(as);
    h2_kick_later(h);
}

static bool async_room(const struct www_res *res)
{
    struct h2_async *as = res->enc;
    const struct h2_stream *st = as->st;
    size_t unsent = 0;

    if (st == NULL)
        return true; /* gone: whatever comes is dropped */
    for (unsigned i = st->part; i < st->nparts; i++)
        unsent += st->parts[i].len;
    if (unsent < H2_ROOM)
        return true;
    as->drain_wanted = true;
    return false;
}

static void async_resume_body(struct www_res *res)
{
    struct h2_async *as = res->enc;

    as->paused = false;
    if (as->st && as->unconsumed)
        nghttp2_session_consume(as->h->ng, as->st->id, as->unconsumed);
    as->unconsumed = 0;
    h2_kick_later(as->h);
}

static const struct www_res_ops h2_async_encoder = {
    .status = async_status,
    .header = async_header,
    .end_head = async_end_head,
    .body = async_body,
    .file = async_file,
    .queued = async_queued,
    .finish = async_finish,
    .room = async_room,
    .resume_body = async_resume_body,
};

/* The stream is gone (reset, closed, the connection ends): the handler is told, once. */
static void async_abort(struct h2_async *as)
{
    void (*abort_fn)(void *) = as->res.on_abort;
    void *arg = as->res.arg;

    as->st->as = NULL;
    as->st = NULL;
    async_free(as);
    if (abort_fn)
        abort_fn(arg);
}

/* The request body ended: its handler hears it once. */
static void stream_body_end(struct h2_stream *st)
{
    struct h2_async *as = st->as;

    if (as == NULL || as->body_ended || as->res.on_body == NULL)
        return;
    as->body_ended = true;
    as->res.on_body(as->res.arg, NULL, 0);
}

/* ---- answering a request ---- */

static struct http_str field_str(const struct h2_stream *st, enum h2_field f)
{
    return st->value[f];
}

/* The handler's view: :path split at '?', :authority (else Host) as the host. */
static void stream_req(const struct h2_stream *st, struct www_conn *c, struct www_req *q)
{
    struct http_str path = field_str(st, F_PATH);
    const char *qm = path.n ? memchr(path.p, '?', path.n) : NULL;

    memset(q, 0, sizeof(*q));
    q->s = &c->s;
    q->protocol = "HTTP/2";
    q->bytes_in = st->bytes_in;
    q->method_str = field_str(st, F_METHOD);
    q->method = http1_method_of(q->method_str.p, q->method_str.n);
    q->target = path;
    q->path = path;
    if (qm != NULL) {
        q->path.n = (size_t)(qm - path.p);
        q->query = (struct http_str){qm + 1, path.n - q->path.n - 1};
    }
    q->asterisk = path.n == 1 && path.p[0] == '*';
    q->host = field_str(st, F_AUTHORITY);
    if (q->host.n == 0)
        q->host = field_str(st, F_HOST);
    q->host_name = (struct http_str){q->host.p, www_host_name_len(&q->host)};
    q->if_match = field_str(st, F_IF_MATCH);
    q->if_none_match = field_str(st, F_IF_NONE_MATCH);
    q->if_modified_since = field_str(st, F_IF_MODIFIED_SINCE);
    q->if_unmodified_since = field_str(st, F_IF_UNMODIFIED_SINCE);
    q->if_range = field_str(st, F_IF_RANGE);
    q->range = field_str(st, F_RANGE);
    q->user_agent = field_str(st, F_USER_AGENT);
    q->referer = field_str(st, F_REFERER);
    q->authorization = field_str(st, F_AUTHORIZATION);
    q->content_type = field_str(st, F_CONTENT_TYPE);
    q->accept_encoding = field_str(st, F_ACCEPT_ENCODING);
    q->headers = st->hdr;
    q->nheaders = st->nhdr;
    q->has_body = !st->remote_done;
    q->length_known = st->value[F_CONTENT_LENGTH].n > 0;
    for (size_t i = 0; i < st->value[F_CONTENT_LENGTH].n && i < 19; i++)
        q->content_length = q->content_length * 10 + (uint64_t)(st->value[F_CONTENT_LENGTH].p[i] - '0');
}

/* What the request declared its body to be, kept once the fields are dropped. */
static void stream_note_length(struct h2_stream *st, const struct www_req *q)
{
    st->body_declared = q->length_known ? q->content_length : UINT64_MAX;
}

/* nghttp2 has checked the digits of content-length. */
static bool length_over(struct http_str v, uint64_t max)
{
    uint64_t n = 0;

    for (size_t i = 0; i < v.n; i++) {
        if (n > max)
            return true;
        n = n * 10 + (uint64_t)(v.p[i] - '0');
    }
    return n > max;
}

/* What is refused before the handler sees it, as HTTP/1.1 refuses it; 0: nothing. */
static int stream_refusal(struct h2_conn *h, const struct h2_stream *st,
                          const struct www_req *q, const char **reason)
{
    const struct www_site *ws = www_site_of(h->c->s.site);

    if (st->too_large) {
        *reason = "The request header fields are too large.";
        return 431;
    }
    if (q->target.n > H2_MAX_TARGET) {
        *reason = "The request target is too long.";
        return 414;
    }
    if (www_conn_site_full(h->c)) {
        *reason = "The site has too many connections right now.";
        return 503;
    }
    if (ws && length_over(field_str(st, F_CONTENT_LENGTH), ws->max_body)) {
        *reason = "The request body is larger than this server accepts.";
        return 413;
    }
    return 0;
}

/* nghttp2 copies the fields, so the head is built in one buffer per connection. */
static void stream_submit(struct h2_conn *h, struct h2_stream *st)
{
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_data};

    if (st->broken) {
        nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
        stream_done_sending(h, st);
        return;
    }
    st->sending = st->nparts > 0;
    h->sending += st->sending;
    if (head_submit(h->ng, st->id, h->status, &h->fields, st->sending ? &prd : NULL) != 0) {
        log_debug("www: HTTP/2 stream %d: the response could not be submitted", (int)st->id);
        nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
        stream_done_sending(h, st);
    }
}

static void stream_answer(struct h2_conn *h, struct h2_stream *st, bool again)
{
    struct www_conn *c = h->c;
    struct www_res res = {.ops = &h2_encoder, .enc = h};
    struct www_req q;
    const char *reason = NULL;
    int status;

    if (!st->answered) {
        st->answered = true;
        h->unanswered--;
    }
    h->answered = true;
    h->cur = st;
    h->queued = 0;
    stream_req(st, c, &q);
    stream_note_length(st, &q);
    res.head_only = q.method == HTTP_M_HEAD;
    www_conn_choose_site(c, q.host);
    if (!again)
        session_note_request(&c->s, q.method_str.p, q.method_str.n, q.target.p, q.target.n);
    status = stream_refusal(h, st, &q, &reason);
    if (status != 0) {
        www_res_error(&res, status, reason);
    } else {
        h->cur_q = &q;
        status = www_static_handle(&q, &res);
        h->cur_q = NULL;
    }
    if (status == WWW_SUSPENDED) { /* answered again after the wake: the fields stay */
        h->cur = NULL;
        return;
    }
    if (st->held != NULL) { /* what came while it waited: to the handler now, or dropped */
        struct buf *held = st->held;
        st->held = NULL;
        if (status == WWW_DETACHED && st->as && st->as->res.on_body && held->len > 0 &&
            st->as->res.on_body(st->as->res.arg, held->data, held->len) == WWW_BODY_PAUSE)
            st->as->paused = true;
        if (st->as && st->as->paused)
            st->as->unconsumed += held->len;
        else
            nghttp2_session_consume(h->ng, st->id, held->len);
        worker_buf_put(c->s.w, held);
    }
    if (status == WWW_DETACHED) { /* the handler kept what it needs */
        stream_drop_fields(st);
        h->cur = NULL;
        if (st->remote_done)
            stream_body_end(st);
        return;
    }
    www_account(&q, c->s.site, status, h->queued, res.file_sent);
    stream_submit(h, st);
    stream_drop_fields(st);
    h->cur = NULL;
    if (reason != NULL && status == 503 && !h->goaway) { /* a full site: HTTP/1.1 closes */
        h->goaway = true;
        nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR, NULL, 0);
    }
}

/* ---- nghttp2's callbacks ---- */

static int on_begin_frame(nghttp2_session *ng, const nghttp2_frame_hd *hd, void *user)
{
    struct h2_conn *h = user;

    (void)ng;
    if (hd->type == NGHTTP2_HEADERS)
        h->block_bytes = H2_FRAME_HEAD + hd->length;
    else if (hd->type == NGHTTP2_CONTINUATION)
        h->block_bytes += H2_FRAME_HEAD + hd->length;
    return 0;
}

static bool is_request(const nghttp2_frame *frame)
{
    return frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST;
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    struct h2_conn *h = user;
    struct h2_stream *st;

    if (!is_request(frame))
        return 0;
    st = stream_new(h, frame->hd.stream_id);
    if (nghttp2_session_set_stream_user_data(ng, frame->hd.stream_id, st) != 0)
        stream_free(h, st);
    return 0;
}

static bool eq(const uint8_t *p, const char *lit, size_t n)
{
    return memcmp(p, lit, n) == 0;
}

/* By length first: this runs for every field of every request. */
static int field_of(const uint8_t *n, size_t len)
{
    switch (len) {
    case 4:
        return eq(n, "host", 4) ? F_HOST : -1;
    case 5:
        return eq(n, ":path", 5) ? F_PATH : eq(n, "range", 5) ? F_RANGE : -1;
    case 7:
        return eq(n, ":method", 7) ? F_METHOD : eq(n, "referer", 7) ? F_REFERER : -1;
    case 8:
        return eq(n, "if-match", 8) ? F_IF_MATCH : eq(n, "if-range", 8) ? F_IF_RANGE : -1;
    case 10:
        return eq(n, ":authority", 10) ? F_AUTHORITY : eq(n, "user-agent", 10) ? F_USER_AGENT : -1;
    case 12:
        return eq(n, "content-type", 12) ? F_CONTENT_TYPE : -1;
    case 13:
        return eq(n, "if-none-match", 13) ? F_IF_NONE_MATCH
               : eq(n, "authorization", 13) ? F_AUTHORIZATION : -1;
    case 15:
        return eq(n, "accept-encoding", 15) ? F_ACCEPT_ENCODING : -1;
    case 14:
        return eq(n, "content-length", 14) ? F_CONTENT_LENGTH : -1;
    case 17:
        return eq(n, "if-modified-since", 17) ? F_IF_MODIFIED_SINCE : -1;
    case 19:
        return eq(n, "if-unmodified-since", 19) ? F_IF_UNMODIFIED_SINCE : -1;
    default:
        return -1;
    }
}

/* Names arrive lower-cased and checked (nghttp2 resets a stream otherwise).
 * Past the bound nothing more is kept; the stream gets 431 once the block
 * ends, which nghttp2 bounds with max_continuations. */
static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, nghttp2_rcbuf *name,
                     nghttp2_rcbuf *value, uint8_t flags, void *user)
{
    struct h2_stream *st;
    nghttp2_vec n, v;
    int f;

    (void)flags, (void)user;
    if (!is_request(frame)) /* trailers: nothing in them is used */
        return 0;
    st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (st == NULL)
        return 0;
    n = nghttp2_rcbuf_get_buf(name);
    v = nghttp2_rcbuf_get_buf(value);
    st->header_bytes += n.len + v.len + 32;
    if (st->header_bytes > H2_MAX_HEADER_LIST) {
        st->too_large = true;
        return 0;
    }
    f = field_of(n.base, n.len);
    if (f >= 0 && st->field[f] == NULL) { /* as HTTP/1.1: the first one counts */
        nghttp2_rcbuf_incref(value);
        st->field[f] = value;
        st->value[f] = (struct http_str){(const char *)v.base, v.len};
    }
    if (n.len > 0 && n.base[0] != ':' && st->nhdr < H2_MAX_REQ_FIELDS) {
        nghttp2_rcbuf_incref(name);
        nghttp2_rcbuf_incref(value);
        st->hname[st->nhdr] = name;
        st->hvalue[st->nhdr] = value;
        st->hdr[st->nhdr].name = (struct http_str){(const char *)n.base, n.len};
        st->hdr[st->nhdr].value = (struct http_str){(const char *)v.base, v.len};
        st->nhdr++;
    }
    return 0;
}

/* Rapid reset (CVE-2023-44487): more than H2_RESETS_MAX in a window ends the
 * connection with ENHANCE_YOUR_CALM. */
static void count_reset(struct h2_conn *h)
{
    uint64_t now = clock_ms();

    if (now - h->reset_window_ms >= H2_RESET_WINDOW_MS) {
        h->reset_window_ms = now;
        h->resets = 0;
    }
    if (++h->resets != H2_RESETS_MAX + 1)
        return;
    log_info("www: %s sent more than %d RST_STREAM in %d ms: GOAWAY", h->c->s.peer_ip,
             H2_RESETS_MAX, H2_RESET_WINDOW_MS);
    if (nghttp2_session_terminate_session(h->ng, NGHTTP2_ENHANCE_YOUR_CALM) == 0)
        h->closing = h->goaway = true;
}

/* Request body bytes: to a detached handler that reads them, else dropped.
 * The window opens again as they are taken (nghttp2 does not do it on its
 * own here), so a handler that pauses holds the client back. */
static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *user)
{
    struct h2_conn *h = user;
    struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, id);
    struct h2_async *as = st ? st->as : NULL;
    const struct www_site *ws = www_site_of(h->c->s.site);

    (void)flags;
    if (st != NULL)
        st->body_in += len;
    if (st != NULL && st->suspended) { /* its handler decides after the wake */
        if (st->held == NULL)
            st->held = worker_buf_get(h->c->s.w);
        buf_append(st->held, data, len); /* bounded by the stream's window, kept shut */
        return 0;
    }
    if (as != NULL && as->res.on_body != NULL && !as->body_ended) {
        if (ws && st->body_in > ws->max_body) { /* as HTTP/1.1's 413 while it arrives */
            nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
        } else {
            if (as->res.on_body(as->res.arg, (const char *)data, len) == WWW_BODY_PAUSE)
                as->paused = true;
            if (st->as == as && as->paused) {
                as->unconsumed += len;
                return 0;
            }
        }
    }
    nghttp2_session_consume(ng, id, len);
    return 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    struct h2_conn *h = user;
    struct h2_stream *st;

    switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
    case NGHTTP2_DATA:
        st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
        if (st == NULL)
            break;
        if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
            st->remote_done = true;
        if (is_request(frame) && !st->answered) {
            st->bytes_in = h->block_bytes;
            stream_answer(h, st, false);
        } else if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
            stream_body_end(st);
        }
        break;
    case NGHTTP2_RST_STREAM:
        count_reset(h);
        break;
    }
    return 0;
}

/* A complete response to a request still sending its body: ask the client
 * to stop (RFC 9113 8.1), as HTTP/1.1 would close. */
static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    struct h2_stream *st;
    const struct www_site *ws;

    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (st == NULL || st->remote_done)
        return 0;
    /* A body of a known size within max_body is read and dropped, as HTTP/1.1
     * drops it: a client answered early (a 401 to an upload) then sees the
     * answer instead of a reset. Any other is stopped. */
    ws = www_site_of(((struct h2_conn *)user)->c->s.site);
    if (st->body_declared == UINT64_MAX || ws == NULL || st->body_declared > ws->max_body)
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t error, void *user)
{
    struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, id);

    (void)error;
    if (st != NULL)
        stream_free(user, st);
    return 0;
}

/* Every DATA frame is sent by send_data (NO_COPY): here only its length. */
static ssize_t read_data(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *user)
{
    struct h2_stream *st = src->ptr;
    const struct h2_part *p;
    size_t n;

    (void)ng, (void)id, (void)buf, (void)user;
    if (st->part >= st->nparts && st->streaming) { /* a handler's body: more to come, or its end */
        if (!st->eof)
            return NGHTTP2_ERR_DEFERRED;
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return 0;
    }
    if (st->part >= st->nparts) /* its body was given up (a file that shrank) */
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    p = &st->parts[st->part];
    n = p->len < length ? p->len : length;
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (st->part + 1 == st->nparts && n == p->len && (!st->streaming || st->eof))
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static void part_sent(struct h2_conn *h, struct h2_stream *st, size_t n)
{
    struct h2_part *p = &st->parts[st->part];

    p->off += (off_t)n;
    p->len -= n;
    if (p->len > 0)
        return;
    if (p->fe)
        fcache_put(p->fe);
    p->fe = NULL;
    if (++st->part == st->nparts)
        stream_done_sending(h, st);
}

/* TLS: the file bytes are read once, straight behind the frame header in
 * the queue, and encrypted from there. */
static int out_pread(struct www_conn *c, const uint8_t *head, const struct h2_part *p, size_t n)
{
    struct buf *b = www_conn_out_buf(c);
    ssize_t got;

    buf_reserve(b, H2_FRAME_HEAD + n);
    got = pread(p->fe->fd, b->data + b->len + H2_FRAME_HEAD, n, p->off);
    if (got != (ssize_t)n)
        return -1;
    memcpy(b->data + b->len, head, H2_FRAME_HEAD);
    b->len += H2_FRAME_HEAD + n;
    return 0;
}

/* One DATA frame into the queue: the header, then the bytes or the file
 * segment (sendfile on plain connections). No padding is ever asked for. */
static int send_data(nghttp2_session *ng, nghttp2_frame *frame, const uint8_t *head,
                     size_t length, nghttp2_data_source *src, void *user)
{
    struct h2_conn *h = user;
    struct h2_stream *st = src->ptr;
    struct www_conn *c = h->c;
    struct h2_part *p = &st->parts[st->part];

    (void)ng;
    if (frame->data.padlen != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    if (h->batch > 0 && (h->batch + H2_FRAME_HEAD + length > H2_BATCH ||
                         (p->fe && !c->s.tls && c->nsegs + 1 >= CONN_MAX_SEGS))) {
        h->blocked = true;
        return NGHTTP2_ERR_WOULDBLOCK;
    }
    if (p->fe == NULL) {
        www_conn_out(c, head, H2_FRAME_HEAD);
        www_conn_out(c, st->body->data + p->off, length);
    } else if (c->s.tls) {
        if (out_pread(c, head, p, length) == -1) { /* the file shrank: this stream is lost */
            stream_done_sending(h, st);
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
    } else {
        www_conn_out(c, head, H2_FRAME_HEAD);
        www_conn_out_file(c, p->fe, p->off, length);
    }
    h->batch += H2_FRAME_HEAD + length;
    h->moved = true;
    part_sent(h, st, length);
    return 0;
}

/* ---- the session ---- */

static nghttp2_session_callbacks *callbacks;
static nghttp2_option *options;
static pthread_once_t setup_once = PTHREAD_ONCE_INIT;

static void *mem_alloc(size_t n, void *user)
{
    (void)user;
    return h2mem_alloc(n);
}

static void mem_free(void *p, void *user)
{
    (void)user;
    h2mem_free(p);
}

static void *mem_calloc(size_t n, size_t size, void *user)
{
    (void)user;
    return h2mem_calloc(n, size);
}

static void *mem_realloc(void *p, size_t n, void *user)
{
    (void)user;
    return h2mem_realloc(p, n);
}

static nghttp2_mem memory = {NULL, mem_alloc, mem_free, mem_calloc, mem_realloc};

static void h2_setup(void)
{
    nghttp2_session_callbacks *cb;
    nghttp2_option *o;

    if (nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_option_new(&o) != 0)
        fatalx("h2: out of memory");
    nghttp2_session_callbacks_set_on_begin_frame_callback(cb, on_begin_frame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback2(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_send_data_callback(cb, send_data);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    /* Floods: ACKs the peer makes us queue, SETTINGS entries, CONTINUATIONs
     * (CVE-2024-27316); nghttp2's reset limiter stays as a second line. */
    nghttp2_option_set_max_outbound_ack(o, H2_MAX_ACKS);
    nghttp2_option_set_max_settings(o, NGHTTP2_DEFAULT_MAX_SETTINGS);
    nghttp2_option_set_max_continuations(o, H2_MAX_CONTINUATIONS);
    nghttp2_option_set_stream_reset_rate_limit(o, H2_NG_RESET_BURST, H2_NG_RESET_RATE);
    nghttp2_option_set_no_closed_streams(o, 1);
    nghttp2_option_set_no_auto_window_update(o, 1); /* on_data_chunk consumes */
    callbacks = cb;
    options = o;
}

/* A session error: say why in a GOAWAY if nghttp2 still can, read no more. */
static void h2_fail(struct h2_conn *h, ssize_t rv)
{
    uint32_t code = NGHTTP2_PROTOCOL_ERROR;

    if (rv == NGHTTP2_ERR_FLOODED || rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) {
        code = NGHTTP2_ENHANCE_YOUR_CALM;
        log_info("www: HTTP/2 from %s: %s; closing", h->c->s.peer_ip,
                 nghttp2_strerror((int)rv));
    } else {
        log_debug("www: HTTP/2 from %s: %s", h->c->s.peer_ip, nghttp2_strerror((int)rv));
    }
    h->stop_reading = true;
    h->closing = true;
    nghttp2_session_terminate_session(h->ng, code);
}

static int h2_feed(struct h2_conn *h, const char *data, size_t n)
{
    ssize_t rv = nghttp2_session_mem_recv(h->ng, (const uint8_t *)data, n);

    if (rv >= 0)
        return 0;
    h2_fail(h, rv);
    return -1;
}

/* ---- reading, writing, timers ---- */

/* Frame what nghttp2 has into the empty queue, one batch at most; bytes
 * queued, or -1 when the session failed. */
static ssize_t h2_frame(struct h2_conn *h)
{
    const uint8_t *p;
    ssize_t n;

    h->batch = 0;
    h->blocked = false;
    while (h->batch < H2_BATCH && !h->blocked) {
        n = nghttp2_session_mem_send(h->ng, &p);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        www_conn_out(h->c, p, (size_t)n);
        h->batch += (size_t)n;
    }
    return (ssize_t)h->batch;
}

static bool h2_finished(const struct h2_conn *h)
{
    if (www_conn_out_pending(h->c) || nghttp2_session_want_write(h->ng))
        return false;
    if (h->pending > 0) /* a handler still has to answer */
        return false;
    /* A peer that stopped sending can no longer open a window either. */
    return h->read_eof || h->stop_reading || !nghttp2_session_want_read(h->ng);
}

static enum h2_wait h2_waiting(const struct h2_conn *h)
{
    if (h->closing)
        return H2_W_CLOSING;
    if (www_conn_out_pending(h->c))
        return H2_W_WRITE;
    if (h->sending)
        return H2_W_STALL; /* flow control: the peer's window is shut */
    if (h->pending)
        return H2_W_HANDLER;
    if (h->unanswered || h->c->s.requests == 0)
        return H2_W_REQUEST;
    return H2_W_IDLE;
}

static void h2_timeout(struct loop *l, struct loop_timer *t);

static bool sending_wait(enum h2_wait w)
{
    return w == H2_W_WRITE || w == H2_W_STALL;
}

/* The write and stall timers are one: they restart when response bytes
 * move (DATA framed, or a blocked socket taking bytes), the request and idle
 * ones when a request is answered. PINGs, SETTINGS and their ACKs keep
 * nothing open. */
static void h2_arm_timer(struct h2_conn *h)
{
    struct www_conn *c = h->c;
    const struct www_site *ws = www_site_of(c->s.site);
    enum h2_wait w = h2_waiting(h);
    bool moving = sending_wait(w);
    bool same = w == h->wait || (moving && sending_wait(h->wait));
    uint64_t ms;

    if (same && loop_timer_armed(&c->timer) &&
        !(moving ? h->moved : w != H2_W_CLOSING && h->answered))
        return;
    h->wait = w;
    h->moved = h->answered = false;
    if (w == H2_W_HANDLER) {
        loop_timer_clear(c->s.w->loop, &c->timer);
        return;
    }
    if (w == H2_W_CLOSING)
        ms = H2_CLOSING_MS;
    else if (moving)
        ms = WWW_WRITE_TIMEOUT_MS;
    else if (w == H2_W_REQUEST)
        ms = ws ? ws->header_timeout_ms : 10000;
    else
        ms = c->s.site ? c->s.site->idle_timeout_ms : 15000;
    loop_timer_set(c->s.w->loop, &c->timer, ms, h2_timeout);
}

static void h2_close(struct h2_conn *h)
{
    struct www_conn *c = h->c;

    /* What the peer sent after our last frame would turn the close into a
     * reset that can destroy the GOAWAY before it is read. */
    net_discard(c->io.fd);
    www_conn_close(c);
}

static void h2_pump(struct h2_conn *h)
{
    struct www_conn *c = h->c;
    uint64_t before;
    ssize_t n;

    for (;;) {
        if (www_conn_out_pending(c)) {
            before = c->s.bytes_out;
            if (www_conn_flush(c) == -1)
                return;
            if (c->s.bytes_out != before && h->wait == H2_W_WRITE)
                h->moved = true; /* the peer reads again */
            if (www_conn_out_pending(c))
                break;
        }
        n = h2_frame(h);
        if (n < 0) {
            log_debug("www: HTTP/2 session of %s failed", c->s.peer_ip);
            www_conn_close(c);
            return;
        }
        if (n == 0)
            break;
    }
    if (h2_finished(h))
        h2_close(h);
    else
        h2_arm_timer(h);
}

static void h2_kick(struct loop *l, struct loop_timer *t)
{
    struct h2_conn *h = container_of(t, struct h2_conn, kick);

    (void)l;
    for (struct h2_stream *st = h->live, *next; st != NULL; st = next) {
        next = st->next;
        if (st->as && st->as->drain_wanted && st->as->res.on_drain &&
            async_room(&st->as->res)) {
            st->as->drain_wanted = false;
            st->as->res.on_drain(st->as->res.arg);
        }
    }
    if (h->c->state != CS_DEAD)
        h2_pump(h);
}

static void h2_kick_later(struct h2_conn *h)
{
    if (!loop_timer_armed(&h->kick))
        loop_timer_set(h->c->s.w->loop, &h->kick, 0, h2_kick);
}

static void h2_timeout(struct loop *l, struct loop_timer *t)
{
    struct www_conn *c = container_of(t, struct www_conn, timer);
    struct h2_conn *h = c->h2;

    (void)l;
    if ((h->wait == H2_W_IDLE || h->wait == H2_W_REQUEST) &&
        nghttp2_session_terminate_session(h->ng, NGHTTP2_NO_ERROR) == 0) {
        h->closing = h->goaway = true;
        h2_pump(h);
        return;
    }
    log_debug("www: HTTP/2 connection of %s: nothing moved in time (%d)", c->s.peer_ip,
              (int)h->wait);
    www_conn_close(c);
}

static void h2_read(struct h2_conn *h)
{
    struct www_conn *c = h->c;
    char *data;
    ssize_t n;

    while (!h->stop_reading && !h->read_eof) {
        n = xport_read(&c->x, &data);
        if (n == XP_AGAIN) {
            if (c->x.want_write)
                www_conn_watch_out(c);
            return;
        }
        if (n < 0) {
            www_conn_close(c);
            return;
        }
        if (n == 0) {
            h->read_eof = true;
            return;
        }
        session_count_in(&c->s, (size_t)n);
        if (h2_feed(h, data, (size_t)n) == -1 || c->x.drained)
            return;
    }
}

void h2_start(struct www_conn *c, const char *data, size_t n)
{
    static const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_STREAMS},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2_MAX_HEADER_LIST},
        {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
    };
    struct h2_conn *h = xcalloc(1, sizeof(*h));

    pthread_once(&setup_once, h2_setup);
    h->c = c;
    c->h2 = h;
    c->h2c_maybe = false;
    if (nghttp2_session_server_new3(&h->ng, callbacks, h, options, &memory) != 0 ||
        nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, settings,
                                sizeof(settings) / sizeof(settings[0])) != 0) {
        log_warnx("www: cannot start an HTTP/2 session");
        www_conn_close(c);
        return;
    }
    if (n == 0 || h2_feed(h, data, n) == 0)
        h2_read(h);
    if (c->state != CS_DEAD)
        h2_pump(h);
}

void h2_on_io(struct www_conn *c, uint32_t events)
{
    struct h2_conn *h = c->h2;

    if ((events & EPOLLOUT) && www_conn_out_pending(c)) {
        h2_pump(h);
        if (c->state == CS_DEAD)
            return;
    }
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) || ((events & EPOLLOUT) && c->x.want_write))
        h2_read(h);
    if (c->state != CS_DEAD)
        h2_pump(h);
}

void h2_drain(struct www_conn *c)
{
    struct h2_conn *h = c->h2;

    if (!h->goaway) {
        h->goaway = true;
        nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(h->ng), NGHTTP2_NO_ERROR,
                              NULL, 0);
    }
    h2_pump(h);
}

void h2_free(struct www_conn *c)
{
    struct h2_conn *h = c->h2;
    struct h2_stream *st;

    loop_timer_clear(c->s.w->loop, &h->kick);
    while ((st = h->live) != NULL)
        stream_free(h, st);
    while ((st = h->free) != NULL) {
        h->free = st->next;
        free(st);
    }
    nghttp2_session_del(h->ng);
    buf_free(&h->fields.b);
    free(h);
    c->h2 = NULL;
}

unsigned h2_streams(const struct www_conn *c)
{
    return c->h2 ? c->h2->nstreams : 0;
}
