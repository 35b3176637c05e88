/*
 * fast-runner: the simulator's runner protocol in a few hundred lines of C, for benchmarks.
 *
 * It does what bin/sim-runner.js does — read ACTIONS_RUNNER_INPUT_JITCONFIG, open a session,
 * long-poll for a job, run it for its duration while reporting it is alive, report the result,
 * exit 0 — but starts in about a millisecond instead of Node's ~50 ms of CPU, so that the
 * benchmarks measure the controller rather than the runner's start-up.
 *
 * Build: cc -O2 -o fast-runner fast-runner.c   (npm run bench does it for you)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char host[64] = "127.0.0.1";
static int port = 0;
static long runner_id = 0;
static char secret[128];

static int b64val(int c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* Decode base64 into a fresh NUL-terminated buffer. */
static char *b64decode(const char *in) {
  size_t n = strlen(in);
  char *out = malloc(n / 4 * 3 + 4);
  size_t o = 0;
  int buf = 0, bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64val((unsigned char)in[i]);
    if (v < 0) continue;
    buf = (buf << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (char)((buf >> bits) & 0xff);
    }
  }
  out[o] = 0;
  return out;
}

/* The string value of "key" in a flat JSON object we produced ourselves (no escapes in values). */
static char *json_string(const char *json, const char *key) {
  char pat[96];
  snprintf(pat, sizeof pat, "\"%s\":\"", key);
  const char *p = strstr(json, pat);
  if (!p) return NULL;
  p += strlen(pat);
  const char *e = strchr(p, '"');
  if (!e) return NULL;
  char *out = malloc((size_t)(e - p) + 1);
  memcpy(out, p, (size_t)(e - p));
  out[e - p] = 0;
  return out;
}

static long json_number(const char *json, const char *key, long dflt) {
  char pat[96];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(json, pat);
  if (!p) return dflt;
  return strtol(p + strlen(pat), NULL, 10);
}

/* POST a JSON body; returns the status code and fills resp (the body). */
static int post(const char *method, const char *path, const char *body, char *resp, size_t respsz) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  inet_pton(AF_INET, host, &a.sin_addr);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    close(fd);
    return -1;
  }
  char req[1024];
  int len = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     method, path, host, port, strlen(body), body);
  if (write(fd, req, (size_t)len) != len) {
    close(fd);
    return -1;
  }
  size_t got = 0;
  ssize_t r;
  while (got + 1 < respsz && (r = read(fd, resp + got, respsz - 1 - got)) > 0) got += (size_t)r;
  resp[got] = 0;
  close(fd);
  int status = 0;
  if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1) return -1;
  char *b = strstr(resp, "\r\n\r\n");
  if (b) memmove(resp, b + 4, strlen(b + 4) + 1);
  return status;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int main(void) {
  const char *jit = getenv("ACTIONS_RUNNER_INPUT_JITCONFIG");
  if (!jit || !*jit) {
    fprintf(stderr, "fast-runner: no ACTIONS_RUNNER_INPUT_JITCONFIG\n");
    return 1;
  }
  char *files = b64decode(jit);
  char *runner_b64 = json_string(files, ".runner");
  char *rsa_b64 = json_string(files, ".credentials_rsaparams");
  if (!runner_b64 || !rsa_b64) {
    fprintf(stderr, "fast-runner: not a runner JIT config\n");
    return 1;
  }
  char *runner = b64decode(runner_b64);
  char *rsa = b64decode(rsa_b64);
  char *url = json_string(runner, "serverUrl");
  char *sec = json_string(rsa, "secret");
  runner_id = json_number(runner, "agentId", 0);
  if (!url || !sec || !runner_id || sscanf(url, "http://%63[^:]:%d", host, &port) != 2) {
    fprintf(stderr, "fast-runner: cannot read the service URL or credentials\n");
    return 1;
  }
  snprintf(secret, sizeof secret, "%s", sec);
  unsetenv("ACTIONS_RUNNER_INPUT_JITCONFIG");

  char body[512], resp[8192];
  snprintf(body, sizeof body, "{\"runnerId\":%ld,\"secret\":\"%s\"}", runner_id, secret);
  int st = post("POST", "/_runner/session", body, resp, sizeof resp);
  if (st == 404) {
    printf("The runner registration has been deleted from the server.\n");
    return 1;
  }
  if (st != 200) {
    fprintf(stderr, "fast-runner: session failed (%d)\n", st);
    return 1;
  }
  long job = 0, duration = 0;
  int failures = 0;
  char conclusion[32] = "success";
  for (;;) {
    snprintf(body, sizeof body, "{\"runnerId\":%ld,\"secret\":\"%s\",\"waitMs\":20000}", runner_id, secret);
    st = post("POST", "/_runner/poll", body, resp, sizeof resp);
    if (st == 404) return 0; /* registration removed: nothing to do */
    if (st == 200) {
      job = json_number(resp, "jobId", 0);
      duration = json_number(resp, "durationMs", 0);
      char *c = json_string(resp, "conclusion");
      if (c) snprintf(conclusion, sizeof conclusion, "%s", c);
      break;
    }
    if (st < 0) {
      /* The service is gone: give up after about 10 s, as a runner that lost its server would. */
      if (++failures > 50) return 1;
      sleep_ms(200);
    } else {
      failures = 0;
    }
  }
  /* The official runner's line when it takes a job (the daemon watches the log for it). */
  printf("%ld: Running job: %ld\n", now_ms(), job);
  fflush(stdout);
  long start = now_ms();
  while (now_ms() - start < duration) {
    long left = duration - (now_ms() - start);
    sleep_ms(left < 500 ? left : 500);
    if (now_ms() - start >= duration) break;
    snprintf(body, sizeof body, "{\"runnerId\":%ld,\"secret\":\"%s\",\"jobId\":%ld}", runner_id, secret, job);
    st = post("POST", "/_runner/heartbeat", body, resp, sizeof resp);
    if (st == 404) return 0;
    if (st == 200 && strstr(resp, "\"cancelled\":true")) {
      snprintf(conclusion, sizeof conclusion, "cancelled");
      break;
    }
  }
  snprintf(body, sizeof body, "{\"runnerId\":%ld,\"secret\":\"%s\",\"jobId\":%ld,\"conclusion\":\"%s\"}", runner_id, secret, job,
           conclusion);
  post("POST", "/_runner/complete", body, resp, sizeof resp);
  return 0;
}
