/* The release, from the VERSION file (the Makefile passes it in). */
#ifndef INFOSRV_VERSION_H
#define INFOSRV_VERSION_H
#ifndef INFOSRV_VERSION
#define INFOSRV_VERSION "0.0.0-dev"
#endif
#endif
