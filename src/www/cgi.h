/*
 * cgi: programs run per request (RFC 3875) in access_execute directories,
 * and scripts run through their script_map interpreter in access_script
 * (and access_execute) directories. The program is started with
 * posix_spawn in its own process group with an environment built from
 * scratch; its pipes are loop I/O of the worker, the request body streams
 * to its standard input, its header section is parsed strictly
 * (www/cgi_head.h) and its body streams to the client (chunked on
 * HTTP/1.1 when it gives no length). Its standard error goes to the error
 * log. A program that ends without a header section gets 502, one that
 * outlives cgi_timeout is killed (504 if it sent nothing), and at most
 * cgi_max_processes run at once. Worker threads only.
 */
#ifndef WWW_CGI_H
#define WWW_CGI_H

#include <stdbool.h>
#include <stddef.h>

#include "www/req.h"

struct vdir;

/* A request that names a program: REL[0..script_len) is the file, the rest its PATH_INFO. */
struct cgi_target {
    size_t script_len;
    const char *interpreter; /* NULL: the file is executed itself */
};

/**
 * Whether REL (normalised, no leading '/') beneath V names a program to run
 * here; fills T. Costs no system call in a directory without
 * access_execute or access_script, nor for a path with no mapped extension
 * in an access_script-only directory.
 */
bool www_cgi_match(const struct vdir *v, const char *rel, size_t rlen, struct cgi_target *t);

/**
 * Run the program T of REQ (URL path PATH, normalised) and answer through
 * RES: WWW_DETACHED once it runs, else the status of the error sent.
 */
int www_cgi_run(const struct www_req *req, struct www_res *res, const struct vdir *v,
                const char *path, size_t plen, const char *rel, size_t rlen,
                const struct cgi_target *t);

/** CGI programs running now in the whole server (statistics, tests). */
unsigned www_cgi_running(void);

#endif
