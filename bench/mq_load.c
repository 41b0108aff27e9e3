/* mq_load: load client for the message queue brokers (examples/mq_server_plus.cpp and its
 * Python peer bench/peers/mq_server_plus.py), the one client every broker is measured with.
 *
 *   cc -std=c11 -O2 -Wall -Wextra -Werror -o mq_load mq_load.c
 *   ./mq_load HOST PORT SUBSCRIBERS SECONDS [PAYLOAD_BYTES] [LATENCY_ROUNDS]
 *
 * Protocol: a frame is a 4-byte big-endian length, then that many bytes; a client's first frame
 * is the channel it subscribes to, then it sends (channel, payload) frame pairs; subscribers
 * get the payload frames. One publisher (subscribed to /null) and SUBSCRIBERS subscribers of
 * /topic/bench, all on one thread with poll():
 *
 *  1. Warm-up: the publisher sends a marker every 10 ms until every subscriber got one (the
 *     subscriptions are in effect), then an end-of-warm-up marker each subscriber waits for.
 *  2. Throughput, for SECONDS: the publisher sends numbered payloads of PAYLOAD_BYTES (64) as
 *     fast as the broker takes them, at most WINDOW ahead of the slowest subscriber; every
 *     subscriber checks that it gets each number once, in order, with the right size. The rate
 *     is the messages every subscriber received, per second.
 *  3. Latency, LATENCY_ROUNDS (1000) rounds at a light rate: one message at a time, timed from
 *     its send until the last subscriber has it; p50 and p99.
 *
 * Prints one line:
 *   workload=mq_fanout subscribers=S seconds=T messages=M rate=R p50_us=A p99_us=B errors=E
 * Exit status: 0 on success, 1 on any error (a lost, repeated or reordered message, a broken
 * connection), 2 on bad arguments. If the broker is not listening yet, connecting is retried
 * for about 5 seconds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
    MAX_SUBSCRIBERS = 64,
    WINDOW = 4000,         /* messages the publisher may be ahead of the slowest subscriber */
    BATCH = 64,            /* messages written per send() at most */
    IN_CAPACITY = 1 << 20, /* a subscriber's read buffer */
    CONNECT_PATIENCE_MS = 5000,
    CONNECT_RETRY_MS = 20,
};

static const char CHANNEL[] = "/topic/bench";

/* The first payload byte says what a message is. */
enum { KIND_MARKER = 'M', KIND_END_WARMUP = 'E', KIND_DATA = 'D', KIND_LATENCY = 'L' };

struct subscriber {
    int fd;
    unsigned char* in;
    size_t have;
    bool warm;          /* got a marker */
    bool past_warmup;   /* got the end-of-warm-up marker */
    uint64_t next_data; /* the number the next data message must carry */
    uint64_t latency_seen;
};

struct publisher {
    int fd;
    unsigned char* out;
    size_t out_size, out_sent, out_capacity;
};

static long long errors = 0;

static void fail(const char* what) {
    fprintf(stderr, "mq_load: %s\n", what);
    errors++;
}

static void usage(const char* why) {
    fprintf(stderr, "mq_load: %s\n", why);
    fprintf(stderr,
            "usage: mq_load HOST PORT SUBSCRIBERS SECONDS [PAYLOAD_BYTES] [LATENCY_ROUNDS]\n");
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

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void* checked_malloc(size_t n) {
    void* p = malloc(n);
    if (p == NULL) {
        perror("mq_load: malloc");
        exit(1);
    }
    return p;
}

/* A connected socket to HOST:PORT, retried while the broker is not up yet. */
static int connect_to(const char* host, const char* port) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo* found = NULL;
    int rc = getaddrinfo(host, port, &hints, &found);
    if (rc != 0) {
        fprintf(stderr, "mq_load: %s:%s: %s\n", host, port, gai_strerror(rc));
        exit(1);
    }
    for (long waited = 0; waited <= CONNECT_PATIENCE_MS; waited += CONNECT_RETRY_MS) {
        for (struct addrinfo* ai = found; ai != NULL; ai = ai->ai_next) {
            int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
            if (fd < 0) {
                perror("mq_load: socket");
                exit(1);
            }
            if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
                int one = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                freeaddrinfo(found);
                return fd;
            }
            close(fd);
        }
        sleep_ms(CONNECT_RETRY_MS);
    }
    fprintf(stderr, "mq_load: could not connect to %s:%s\n", host, port);
    exit(1);
}

static void put_frame(unsigned char* at, const void* data, size_t n) {
    at[0] = (unsigned char)(n >> 24);
    at[1] = (unsigned char)(n >> 16);
    at[2] = (unsigned char)(n >> 8);
    at[3] = (unsigned char)n;
    memcpy(at + 4, data, n);
}

/* Blocking write of all of `data` (for the subscription frames, before the load starts). */
static void write_all(int fd, const unsigned char* data, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, data, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("mq_load: send");
            exit(1);
        }
        data += w;
        n -= (size_t)w;
    }
}

static void subscribe(int fd, const char* channel) {
    unsigned char buf[256];
    size_t n = strlen(channel);
    put_frame(buf, channel, n);
    write_all(fd, buf, 4 + n);
}

/* Appends one (channel, payload) pair to the publisher's output. */
static void queue_message(struct publisher* p, unsigned char kind, uint64_t number,
                          size_t payload_bytes) {
    size_t need = 4 + sizeof CHANNEL - 1 + 4 + payload_bytes;
    if (p->out_size + need > p->out_capacity) {
        memmove(p->out, p->out + p->out_sent, p->out_size - p->out_sent);
        p->out_size -= p->out_sent;
        p->out_sent = 0;
        if (p->out_size + need > p->out_capacity) {
            p->out_capacity = 2 * (p->out_size + need);
            p->out = realloc(p->out, p->out_capacity);
            if (p->out == NULL) {
                perror("mq_load: realloc");
                exit(1);
            }
        }
    }
    put_frame(p->out + p->out_size, CHANNEL, sizeof CHANNEL - 1);
    p->out_size += 4 + sizeof CHANNEL - 1;
    unsigned char* payload = p->out + p->out_size + 4;
    memset(payload, 'x', payload_bytes);
    payload[0] = kind;
    memcpy(payload + 1, &number, sizeof number);
    put_frame(p->out + p->out_size, payload, payload_bytes);
    p->out_size += 4 + payload_bytes;
}

/* Sends what the socket takes now. */
static void flush_some(struct publisher* p) {
    while (p->out_sent < p->out_size) {
        ssize_t w = send(p->fd, p->out + p->out_sent, p->out_size - p->out_sent,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return;
            }
            if (errno == EINTR) {
                continue;
            }
            fail("the publisher's connection broke");
            exit(1);
        }
        p->out_sent += (size_t)w;
    }
    p->out_sent = p->out_size = 0;
}

/* Reads what arrived for `s` and handles every whole message in it. */
static void read_some(struct subscriber* s, size_t payload_bytes) {
    ssize_t r = recv(s->fd, s->in + s->have, IN_CAPACITY - s->have, MSG_DONTWAIT);
    if (r == 0) {
        fail("a subscriber's connection was closed by the broker");
        exit(1);
    }
    if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            return;
        }
        fail("a subscriber's connection broke");
        exit(1);
    }
    s->have += (size_t)r;
    size_t at = 0;
    while (s->have - at >= 4) {
        const unsigned char* f = s->in + at;
        size_t n = (size_t)f[0] << 24 | (size_t)f[1] << 16 | (size_t)f[2] << 8 | f[3];
        if (n > IN_CAPACITY - 4) {
            fail("a frame longer than any message sent");
            exit(1);
        }
        if (s->have - at < 4 + n) {
            break;
        }
        const unsigned char* payload = f + 4;
        uint64_t number = 0;
        if (n >= 1 + sizeof number) {
            memcpy(&number, payload + 1, sizeof number);
        }
        switch (n > 0 ? payload[0] : 0) {
        case KIND_MARKER:
            s->warm = true;
            break;
        case KIND_END_WARMUP:
            s->past_warmup = true;
            break;
        case KIND_DATA:
            if (!s->past_warmup || number != s->next_data || n != payload_bytes) {
                fail("a data message lost, repeated, reordered or resized");
            }
            s->next_data = number + 1;
            break;
        case KIND_LATENCY:
            s->latency_seen = number;
            break;
        default:
            fail("a message this client never sent");
        }
        at += 4 + n;
    }
    memmove(s->in, s->in + at, s->have - at);
    s->have -= at;
}

/* One poll round over the publisher (if it has output) and the subscribers. */
static void pump(struct publisher* p, struct subscriber* subs, int count, size_t payload_bytes,
                 int timeout_ms) {
    struct pollfd fds[MAX_SUBSCRIBERS + 1];
    for (int i = 0; i < count; i++) {
        fds[i] = (struct pollfd){.fd = subs[i].fd, .events = POLLIN};
    }
    fds[count] = (struct pollfd){.fd = p->fd, .events = p->out_size > 0 ? POLLOUT : 0};
    if (poll(fds, (nfds_t)count + 1, timeout_ms) < 0 && errno != EINTR) {
        perror("mq_load: poll");
        exit(1);
    }
    for (int i = 0; i < count; i++) {
        if (fds[i].revents != 0) {
            read_some(&subs[i], payload_bytes);
        }
    }
    if (fds[count].revents & (POLLERR | POLLHUP)) {
        fail("the publisher's connection broke");
        exit(1);
    }
    flush_some(p);
}

static int compare_doubles(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

int main(int argc, char** argv) {
    if (argc < 5 || argc > 7) {
        usage("wrong number of arguments");
    }
    const char* host = argv[1];
    const char* port = argv[2];
    int count = (int)parse_count(argv[3], 1, MAX_SUBSCRIBERS, "SUBSCRIBERS");
    long seconds = parse_count(argv[4], 1, 3600, "SECONDS");
    size_t payload_bytes = argc > 5 ? (size_t)parse_count(argv[5], 16, 1 << 16, "PAYLOAD_BYTES") : 64;
    long rounds = argc > 6 ? parse_count(argv[6], 0, 1000000, "LATENCY_ROUNDS") : 1000;

    struct subscriber subs[MAX_SUBSCRIBERS];
    for (int i = 0; i < count; i++) {
        subs[i] = (struct subscriber){.fd = connect_to(host, port), .in = checked_malloc(IN_CAPACITY)};
        subscribe(subs[i].fd, CHANNEL);
    }
    struct publisher pub = {.fd = connect_to(host, port), .out_capacity = 1 << 16};
    pub.out = checked_malloc(pub.out_capacity);
    subscribe(pub.fd, "/null");

    /* 1. Warm-up: markers until every subscription is in effect. */
    double give_up = now_seconds() + 30;
    for (bool all_warm = false; !all_warm;) {
        queue_message(&pub, KIND_MARKER, 0, payload_bytes);
        double next = now_seconds() + 0.01;
        while (now_seconds() < next) {
            pump(&pub, subs, count, payload_bytes, 10);
        }
        all_warm = true;
        for (int i = 0; i < count; i++) {
            all_warm = all_warm && subs[i].warm;
        }
        if (now_seconds() > give_up) {
            fail("the subscriptions did not take effect within 30 s");
            exit(1);
        }
    }
    queue_message(&pub, KIND_END_WARMUP, 0, payload_bytes);
    for (bool all_past = false; !all_past;) {
        pump(&pub, subs, count, payload_bytes, 100);
        all_past = true;
        for (int i = 0; i < count; i++) {
            all_past = all_past && subs[i].past_warmup;
        }
    }

    /* 2. Throughput. */
    uint64_t sent = 0;
    double start = now_seconds();
    double end = start + (double)seconds;
    uint64_t slowest = 0;
    while (now_seconds() < end) {
        slowest = subs[0].next_data;
        for (int i = 1; i < count; i++) {
            slowest = subs[i].next_data < slowest ? subs[i].next_data : slowest;
        }
        for (int b = 0; b < BATCH && sent - slowest < WINDOW; b++) {
            queue_message(&pub, KIND_DATA, sent++, payload_bytes);
        }
        pump(&pub, subs, count, payload_bytes, 10);
    }
    double elapsed = now_seconds() - start;
    slowest = subs[0].next_data;
    for (int i = 1; i < count; i++) {
        slowest = subs[i].next_data < slowest ? subs[i].next_data : slowest;
    }
    /* Let the messages in flight arrive, so that the latency rounds start from quiet. */
    for (bool caught_up = false; !caught_up;) {
        pump(&pub, subs, count, payload_bytes, 100);
        caught_up = true;
        for (int i = 0; i < count; i++) {
            caught_up = caught_up && subs[i].next_data == sent;
        }
    }

    /* 3. Latency: one message at a time. */
    double* samples = checked_malloc(sizeof(double) * (size_t)(rounds > 0 ? rounds : 1));
    for (long r = 0; r < rounds; r++) {
        double t0 = now_seconds();
        queue_message(&pub, KIND_LATENCY, (uint64_t)r + 1, payload_bytes);
        for (bool all = false; !all;) {
            pump(&pub, subs, count, payload_bytes, 100);
            all = true;
            for (int i = 0; i < count; i++) {
                all = all && subs[i].latency_seen == (uint64_t)r + 1;
            }
        }
        samples[r] = (now_seconds() - t0) * 1e6;
    }
    double p50 = 0, p99 = 0;
    if (rounds > 0) {
        qsort(samples, (size_t)rounds, sizeof(double), compare_doubles);
        p50 = samples[(size_t)(rounds * 50 / 100)];
        p99 = samples[(size_t)(rounds * 99 / 100)];
    }
    printf("workload=mq_fanout subscribers=%d seconds=%.3f messages=%llu rate=%.1f p50_us=%.1f "
           "p99_us=%.1f errors=%lld\n",
           count, elapsed, (unsigned long long)slowest, (double)slowest / elapsed, p50, p99,
           errors);
    return errors == 0 ? 0 : 1;
}
