/*
 * Bench-only (bench/reply-timing.cjs): built into a test copy of the addon with
 * -Drecvmmsg=timed_recvmmsg -Dsendmmsg=timed_sendmmsg, never into the daemon's. For every reply:
 * the time from the recvmmsg that returned its query's batch to the return of the sendmmsg that
 * sent it, in 1 us buckets; also sendmmsg calls per batch and their time. A window of figures is
 * appended as one JSON line to $PLDNS_TIMING_FILE when a recvmmsg comes more than 150 ms after
 * the previous one (the runner pauses between burst sizes) and at exit. Only batches of exactly
 * $PLDNS_TIMING_N datagrams count (all when unset).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#undef recvmmsg
#undef sendmmsg
int recvmmsg(int, struct mmsghdr *, unsigned, int, struct timespec *);
int sendmmsg(int, struct mmsghdr *, unsigned, int);

#define MAX_US 4000
static unsigned long replies_at[MAX_US + 1]; /* replies by us from batch start to send */
static unsigned long last_at[MAX_US + 1];    /* the same for each batch's last reply */
static long long batch_start, last_recv, send_ns;
static unsigned long batches, datagrams, send_calls;
static int batch_size, batch_sent, counting, want = -1;

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static long quantile(const unsigned long *h, double q) {
  unsigned long total = 0, seen = 0;
  for (int i = 0; i <= MAX_US; i++) total += h[i];
  for (int i = 0; i <= MAX_US; i++) {
    seen += h[i];
    if (total && seen >= q * total) return i;
  }
  return -1;
}

static void dump(void) {
  unsigned long total = 0;
  double sum = 0;
  for (int i = 0; i <= MAX_US; i++) {
    total += replies_at[i];
    sum += (double)i * replies_at[i];
  }
  const char *path = getenv("PLDNS_TIMING_FILE");
  FILE *f = path ? fopen(path, "a") : NULL;
  if (f && total > 0) {
    fprintf(f, "{\"n\":%d,\"batches\":%lu,\"replies\":%lu,\"meanBatch\":%.2f,\"meanUs\":%.1f,\"p50Us\":%ld,\"p90Us\":%ld,\"p99Us\":%ld,\"lastP50Us\":%ld,\"lastP90Us\":%ld,\"sendCallsPerBatch\":%.2f,\"sendUsPerReply\":%.2f}\n",
            want, batches, total, batches ? (double)datagrams / batches : 0, sum / total, quantile(replies_at, .5), quantile(replies_at, .9), quantile(replies_at, .99),
            quantile(last_at, .5), quantile(last_at, .9), batches ? (double)send_calls / batches : 0, send_ns / 1000.0 / total);
  }
  if (f) fclose(f);
  memset(replies_at, 0, sizeof replies_at);
  memset(last_at, 0, sizeof last_at);
  batches = datagrams = send_calls = 0;
  send_ns = 0;
  want = getenv("PLDNS_TIMING_N") ? atoi(getenv("PLDNS_TIMING_N")) : 0;
}

int timed_recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags, struct timespec *timeout) {
  int r = recvmmsg(fd, v, n, flags, timeout);
  if (r <= 0) return r;
  long long t = now_ns();
  if (want < 0 || (last_recv && t - last_recv > 150000000LL)) dump();
  last_recv = t;
  batch_start = t;
  batch_size = r;
  batch_sent = 0;
  counting = want == 0 || r == want;
  if (counting) {
    batches++;
    datagrams += (unsigned long)r;
  }
  return r;
}

/* Called on the main thread only (the listener's flush and late sends). */
int timed_sendmmsg(int fd, struct mmsghdr *v, unsigned n, int flags) {
  long long t0 = now_ns();
  int r = sendmmsg(fd, v, n, flags);
  long long t1 = now_ns();
  if (r <= 0 || !counting) return r;
  long us = (long)((t1 - batch_start) / 1000);
  if (us > MAX_US) us = MAX_US;
  replies_at[us] += (unsigned long)r;
  send_calls++;
  send_ns += t1 - t0;
  batch_sent += r;
  if (batch_sent == batch_size) last_at[us]++;
  return r;
}

__attribute__((destructor)) static void at_exit(void) { dump(); }
