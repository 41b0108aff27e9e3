/* echo_load: TCP echo load client, the one client every echo server in bench/ is measured with.
 *
 *   cc -std=c11 -O2 -Wall -Wextra -Werror -o echo_load echo_load.c
 *   ./echo_load HOST PORT CONNECTIONS SECONDS [MESSAGE_BYTES]      (MESSAGE_BYTES defaults to 64)
 *
 * Opens CONNECTIONS connections, then for SECONDS keeps exactly one message in flight on each:
 * send MESSAGE_BYTES, read until as many bytes came back (checking every one of them against what
 * was sent), count a round trip, send the next message. Consecutive messages differ, so a server
 * that replays stale data is caught. If the server is not listening yet, connecting is retried for
 * about 5 seconds, so a script may start the server and the client together. Prints one line:
 *
 *   workload=echo connections=C seconds=S round_trips=R rate=R_PER_S errors=E
 *
 * Exit status: 0 on success, 1 if any byte differed, a connection broke or could not be opened,
 * 2 on bad arguments. Linux only (epoll).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
    DEFAULT_MESSAGE_BYTES = 64,
    MAX_MESSAGE_BYTES = 1 << 20,
    MAX_CONNECTIONS = 1 << 20,
    PATTERN_PERIOD = 251, /* how many different messages a connection cycles through */
    CONNECT_PATIENCE_MS = 5000,
    CONNECT_RETRY_MS = 20,
    EVENT_BATCH = 256,
};

/* One connection and where its message in flight stands. */
struct peer {
    int fd;
    unsigned long long messages; /* messages started on this connection so far */
    size_t offset;               /* where the message in flight starts in the pattern */
    size_t sent;                 /* bytes of it written so far */
    size_t echoed;               /* bytes of it read back and checked so far */
    bool wants_out;
    bool alive;
};

struct load {
    const struct addrinfo* target; /* the address the first connection reached */
    const unsigned char* pattern;  /* MESSAGE_BYTES + PATTERN_PERIOD pseudo-random bytes */
    unsigned char* scratch;        /* MESSAGE_BYTES to read into */
    struct peer* peers;
    size_t message_bytes;
    int epoll_fd;
    long long round_trips;
    long long errors;
    int live;
};

static void usage(const char* why) {
    fprintf(stderr, "echo_load: %s\n", why);
    fprintf(stderr, "usage: echo_load HOST PORT CONNECTIONS SECONDS [MESSAGE_BYTES]\n");
    exit(2);
}

static long parse_count(const char* text, long lo, long hi, const char* what) {
    char* end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < lo || value > hi) {
        char why[128];
        snprintf(why, sizeof why, "%s must be an integer in [%ld, %ld], got '%s'", what, lo, hi,
                 text);
        usage(why);
    }
    return value;
}

static double monotonic_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Bytes from a fixed xorshift sequence: deterministic, and no short period for a mixed-up
 * echo to hide in. */
static unsigned char* make_pattern(size_t length) {
    unsigned char* bytes = malloc(length);
    if (bytes == NULL) {
        perror("echo_load: malloc");
        exit(1);
    }
    uint32_t state = 2463534242u;
    for (size_t i = 0; i < length; i++) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        bytes[i] = (unsigned char)(state >> 24);
    }
    return bytes;
}

/* Connects a blocking socket to the first candidate that accepts, and records which one did.
 * Returns -1 if every candidate refused (server not up yet); exits on any other error. */
static int try_connect(const struct addrinfo* candidates, const struct addrinfo** answered) {
    for (const struct addrinfo* ai = candidates; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            perror("echo_load: socket");
            exit(1);
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            *answered = ai;
            return fd;
        }
        int err = errno;
        close(fd);
        if (err != ECONNREFUSED) {
            fprintf(stderr, "echo_load: connect: %s\n", strerror(err));
            exit(1);
        }
    }
    return -1;
}

/* Opens a connection, waiting for the server to start listening if need be. */
static int open_connection(const struct addrinfo* candidates, double give_up_at,
                           const struct addrinfo** answered) {
    for (;;) {
        int fd = try_connect(candidates, answered);
        if (fd >= 0) {
            return fd;
        }
        if (monotonic_seconds() >= give_up_at) {
            fprintf(stderr, "echo_load: connect: connection refused for %d ms, giving up\n",
                    CONNECT_PATIENCE_MS);
            exit(1);
        }
        sleep_ms(CONNECT_RETRY_MS);
    }
}

static void watch(struct load* load, struct peer* p, int op) {
    struct epoll_event ev = {.events = EPOLLIN | (p->wants_out ? EPOLLOUT : 0u), .data.ptr = p};
    if (epoll_ctl(load->epoll_fd, op, p->fd, &ev) != 0) {
        perror("echo_load: epoll_ctl");
        exit(1);
    }
}

static void drop(struct load* load, struct peer* p) {
    load->errors++;
    load->live--;
    p->alive = false;
    close(p->fd); /* closing also takes it out of the epoll set */
}

/* Writes what is left of the message in flight; asks for EPOLLOUT only while the socket is full. */
static void push(struct load* load, struct peer* p) {
    while (p->sent < load->message_bytes) {
        ssize_t n = send(p->fd, load->pattern + p->offset + p->sent, load->message_bytes - p->sent,
                         MSG_NOSIGNAL);
        if (n > 0) {
            p->sent += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            drop(load, p);
            return;
        }
    }
    bool blocked = p->sent < load->message_bytes;
    if (blocked != p->wants_out) {
        p->wants_out = blocked;
        watch(load, p, EPOLL_CTL_MOD);
    }
}

/* Message k of connection i starts (i + k) % PATTERN_PERIOD bytes into the pattern. */
static void start_message(struct load* load, struct peer* p) {
    p->offset = (size_t)((size_t)(p - load->peers) + p->messages++) % PATTERN_PERIOD;
    p->sent = 0;
    p->echoed = 0;
    push(load, p);
}

/* Reads what has come back (one recv per readiness report; epoll is level-triggered), checks it,
 * and starts the next message once this one is complete. Reads at most the rest of the message
 * in flight, so one read never spans two messages. */
static void pull(struct load* load, struct peer* p) {
    ssize_t n;
    do {
        n = recv(p->fd, load->scratch, load->message_bytes - p->echoed, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
    }
    if (n <= 0 || p->echoed + (size_t)n > p->sent) { /* closed, reset, or more than was sent */
        drop(load, p);
        return;
    }
    if (memcmp(load->scratch, load->pattern + p->offset + p->echoed, (size_t)n) != 0) {
        load->errors++;
    }
    p->echoed += (size_t)n;
    if (p->echoed == load->message_bytes) {
        load->round_trips++;
        start_message(load, p);
    }
}

int main(int argc, char** argv) {
    if (argc != 5 && argc != 6) {
        usage("expected 4 or 5 arguments");
    }
    const char* host = argv[1];
    const char* port = argv[2];
    parse_count(port, 1, 65535, "PORT");
    int connections = (int)parse_count(argv[3], 1, MAX_CONNECTIONS, "CONNECTIONS");
    char* end = NULL;
    double seconds = strtod(argv[4], &end);
    if (end == argv[4] || *end != '\0' || !(seconds > 0 && seconds < 1e6)) {
        usage("SECONDS must be a positive number");
    }
    size_t message_bytes = argc == 6
                               ? (size_t)parse_count(argv[5], 1, MAX_MESSAGE_BYTES, "MESSAGE_BYTES")
                               : DEFAULT_MESSAGE_BYTES;

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo* candidates = NULL;
    int gai = getaddrinfo(host, port, &hints, &candidates);
    if (gai != 0) {
        fprintf(stderr, "echo_load: cannot resolve '%s': %s\n", host, gai_strerror(gai));
        usage("HOST must be a host name or an IP address");
    }

    struct load load = {.message_bytes = message_bytes, .live = connections};
    load.pattern = make_pattern(message_bytes + PATTERN_PERIOD);
    load.scratch = malloc(message_bytes);
    load.peers = calloc((size_t)connections, sizeof *load.peers);
    load.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (load.scratch == NULL || load.peers == NULL || load.epoll_fd < 0) {
        perror("echo_load: setup");
        return 1;
    }

    /* The first connection may wait for the server; the rest find the address that answered. */
    double give_up_at = monotonic_seconds() + CONNECT_PATIENCE_MS / 1000.0;
    for (int i = 0; i < connections; i++) {
        struct peer* p = &load.peers[i];
        p->fd = open_connection(load.target != NULL ? load.target : candidates, give_up_at,
                                &load.target);
        int on = 1;
        setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        if (fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK) != 0) {
            perror("echo_load: non-blocking");
            return 1;
        }
        p->alive = true;
        watch(&load, p, EPOLL_CTL_ADD);
    }

    double started = monotonic_seconds();
    double deadline = started + seconds;
    for (int i = 0; i < connections; i++) {
        start_message(&load, &load.peers[i]);
    }
    struct epoll_event events[EVENT_BATCH];
    double now = started;
    while (now < deadline && load.live > 0) {
        int wait_ms = (int)((deadline - now) * 1000.0) + 1;
        int ready = epoll_wait(load.epoll_fd, events, EVENT_BATCH, wait_ms);
        if (ready < 0 && errno != EINTR) {
            perror("echo_load: epoll_wait");
            return 1;
        }
        for (int k = 0; k < ready; k++) {
            struct peer* p = events[k].data.ptr;
            if (p->alive && (events[k].events & EPOLLOUT)) {
                push(&load, p);
            }
            if (p->alive && (events[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
                pull(&load, p);
            }
        }
        now = monotonic_seconds();
    }
    double elapsed = now - started;

    printf("workload=echo connections=%d seconds=%.3f round_trips=%lld rate=%.1f errors=%lld\n",
           connections, elapsed, load.round_trips, (double)load.round_trips / elapsed, load.errors);
    return load.errors > 0 ? 1 : 0;
}
