/*
 * serve: what a Gopher request is answered with — a menu, a file, Gopher+
 * attributes, caps.txt, the page of a URL: link, the explanation a web
 * browser gets, or an error item. Fills the connection's output (and the
 * file still to send) and counts menus, files and misses; conn sends it.
 * Worker thread.
 */
#ifndef GOPHER_SERVE_H
#define GOPHER_SERVE_H

struct gopher_conn;
struct gopher_req;

/** Answer request Q on C (c->out is an empty pooled buffer). */
void gopher_serve(struct gopher_conn *c, const struct gopher_req *q);
/** Answer Q on C with error STATUS (400, 403, 404, 500, 503) saying MSG. */
void gopher_serve_error(struct gopher_conn *c, const struct gopher_req *q, int status,
                        const char *msg);

#endif
