/* broker_port.c -- see broker_port.h. One detached thread accepts; each
 * relayed connection gets a thread that copies both ways until either side
 * closes. The embedded broker serves a handful of local clients, so a
 * thread per connection is enough. */
#include "broker_port.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

static struct sockaddr_in target_addr;

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* Copy what is readable on from to to; false at end or error. */
static bool relay_some(int from, int to)
{
    char buf[65536];
    ssize_t n = read(from, buf, sizeof buf);
    if (n <= 0) return false;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w <= 0) return false;
        off += w;
    }
    return true;
}

static void *relay(void *arg)
{
    int client = (int)(intptr_t)arg;
    int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (server >= 0 && connect(server, (struct sockaddr *)&target_addr, sizeof target_addr) == 0) {
        struct pollfd p[2] = {{.fd = client, .events = POLLIN}, {.fd = server, .events = POLLIN}};
        for (;;) {
            if (poll(p, 2, -1) < 0 && errno != EINTR) break;
            if (p[0].revents && !relay_some(client, server)) break;
            if (p[1].revents && !relay_some(server, client)) break;
        }
    }
    if (server >= 0) close(server);
    close(client);
    return NULL;
}

static void *accept_loop(void *arg)
{
    int ls = (int)(intptr_t)arg;
    for (;;) {
        int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno != EINTR && errno != ECONNABORTED) usleep(100 * 1000);
            continue;
        }
        pthread_t t;
        if (pthread_create(&t, NULL, relay, (void *)(intptr_t)c) == 0) pthread_detach(t);
        else close(c);
    }
    return NULL;
}

int broker_port_start(int port, const char *target, char *err, size_t errlen)
{
    const char *colon = strrchr(target, ':');
    if (!colon) {
        snprintf(err, errlen, "unexpected bootstrap address %s", target);
        return -1;
    }
    target_addr = loopback(atoi(colon + 1));
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = loopback(port);
    if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 64) != 0) {
        snprintf(err, errlen, "cannot listen on 127.0.0.1:%d: %s", port, strerror(errno));
        if (ls >= 0) close(ls);
        return -1;
    }
    /* the relay threads leave SIGINT/SIGTERM to the main thread (pause()) */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    int rc = pthread_create(&t, NULL, accept_loop, (void *)(intptr_t)ls);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the relay thread");
        close(ls);
        return -1;
    }
    pthread_detach(t);
    return 0;
}
