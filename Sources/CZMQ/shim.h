#ifndef ROUTILUX_CZMQ_SHIM_H
#define ROUTILUX_CZMQ_SHIM_H
// Use CZMQ's plain constructors (zsock_new, zsock_destroy), not the
// leak-checking macros that Swift cannot import.
#define ZSOCK_NOCHECK 1
#include <czmq.h>
#include <zmq.h>
// glibc's malloc_trim: the long-running processes give freed arenas back (RoutiluxTransport's MemoryRelease).
#include <malloc.h>
#endif
