/*
 * loopback_bind.c -- LD_PRELOAD shim that keeps listening sockets on loopback.
 *
 * Temporal's Java test server (a GraalVM native image) binds its gRPC port to
 * the wildcard address and has no option to change that.  Tests must only
 * listen on 127.0.0.1, so this shim intercepts bind(2) and rewrites wildcard
 * addresses before calling the real bind found via dlsym(RTLD_NEXT):
 *
 *   AF_INET   0.0.0.0          -> 127.0.0.1
 *   AF_INET6  ::  (V6ONLY=1)   -> ::1
 *   AF_INET6  ::  (dual-stack) -> ::ffff:127.0.0.1   (IPv4 loopback only)
 *   AF_INET6  ::ffff:0.0.0.0   -> ::ffff:127.0.0.1
 *
 * The Java server opens a dual-stack IPv6 socket ("*:PORT" in `ss -ltn`).
 * A socket's family cannot change after socket(2), so a dual-stack wildcard
 * is narrowed to the IPv4-mapped loopback address: clients reach it at
 * 127.0.0.1 (which is what the Temporal SDKs use), and nothing else can.
 *
 * Build: gcc -shared -fPIC -O2 -o libloopback_bind.so loopback_bind.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static bind_fn real_bind;
    if (!real_bind) {
        real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
        if (!real_bind) {
            errno = ENOSYS;
            return -1;
        }
    }
    if (addr && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in a;
        memcpy(&a, addr, sizeof a);
        if (a.sin_addr.s_addr == htonl(INADDR_ANY)) {
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return real_bind(fd, (const struct sockaddr *)&a, sizeof a);
        }
    } else if (addr && addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 a;
        memcpy(&a, addr, sizeof a);
        int v4mapped_any = IN6_IS_ADDR_V4MAPPED(&a.sin6_addr) &&
                           a.sin6_addr.s6_addr32[3] == htonl(INADDR_ANY);
        if (IN6_IS_ADDR_UNSPECIFIED(&a.sin6_addr) || v4mapped_any) {
            int v6only = 0;
            socklen_t optlen = sizeof v6only;
            if (!v4mapped_any &&
                getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &optlen) == 0 && v6only) {
                a.sin6_addr = in6addr_loopback;
            } else {
                memset(&a.sin6_addr, 0, sizeof a.sin6_addr);
                a.sin6_addr.s6_addr[10] = 0xff;
                a.sin6_addr.s6_addr[11] = 0xff;
                a.sin6_addr.s6_addr32[3] = htonl(INADDR_LOOPBACK);
            }
            return real_bind(fd, (const struct sockaddr *)&a, sizeof a);
        }
    }
    return real_bind(fd, addr, len);
}
