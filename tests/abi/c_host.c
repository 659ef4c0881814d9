/* A host written in C: dlopens libkam_addin.so (argv[1]), negotiates, creates an instance,
 * invokes operations and checks every status, message and ownership rule of kam/addin.h.
 * With a rule file (argv[2]) it also runs a full sync through the ABI, as DESIGN section 3 asks:
 * one instance serves the sandbox CRM (sandbox.serve) in a thread, a second one provisions,
 * syncs and reads the status against it, a third one has an undersized kam_host_api.
 * Prints "N passed, M failed" and exits non-zero on any failure. Runs under ASan in CI. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kam/addin.h"

static int passed = 0, failed = 0;

#define CHECK(cond, what)                                                          \
  do {                                                                             \
    if (cond) {                                                                    \
      ++passed;                                                                    \
    } else {                                                                       \
      ++failed;                                                                    \
      fprintf(stderr, "FAILED %s:%d: %s (%s)\n", __FILE__, __LINE__, what, #cond); \
    }                                                                              \
  } while (0)

static int log_calls = 0;
static void on_log(void* data, int32_t level, const char* msg, size_t len) {
  (void)data;
  (void)level;
  (void)msg;
  (void)len;
  ++log_calls;
}

static void init_error(kam_error* err) {
  memset(err, 0x5a, sizeof *err); /* garbage the plugin must overwrite */
  err->struct_size = (uint32_t)sizeof *err;
}

static void init_buffer(kam_buffer* buf) {
  memset(buf, 0, sizeof *buf);
  buf->struct_size = (uint32_t)sizeof *buf;
}

static int32_t invoke(const kam_addin_api* api, kam_instance* inst, const char* op, const char* req,
                      kam_buffer* out, kam_error* err) {
  init_buffer(out);
  init_error(err);
  return api->invoke(inst, op, strlen(op), req, req ? strlen(req) : 0, out, err);
}

/* The sandbox CRM served by one instance in its own thread until the host cancels. */
typedef struct server {
  const kam_addin_api* api;
  kam_instance* inst;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int listening; /* "listening on URL" was logged */
  int cancel;    /* read by is_cancelled */
  char url[128];
  int32_t rc;
  kam_buffer out;
  kam_error err;
} server;

static void server_log(void* data, int32_t level, const char* msg, size_t len) {
  server* s = (server*)data;
  static const char kPrefix[] = "listening on ";
  (void)level;
  if (len > sizeof kPrefix - 1 && len - (sizeof kPrefix - 1) < sizeof s->url &&
      memcmp(msg, kPrefix, sizeof kPrefix - 1) == 0) {
    pthread_mutex_lock(&s->mu);
    memcpy(s->url, msg + sizeof kPrefix - 1, len - (sizeof kPrefix - 1));
    s->url[len - (sizeof kPrefix - 1)] = '\0';
    s->listening = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
  }
}

static int32_t server_cancelled(void* data) {
  server* s = (server*)data;
  int c;
  pthread_mutex_lock(&s->mu);
  c = s->cancel;
  pthread_mutex_unlock(&s->mu);
  return c;
}

static void* serve(void* arg) {
  server* s = (server*)arg;
  static const char kRequest[] = "{\"port\": 0, \"accounts\": 100, \"seed\": 7, \"threads\": 1}";
  init_buffer(&s->out);
  init_error(&s->err);
  s->rc =
      s->api->invoke(s->inst, "sandbox.serve", 13, kRequest, sizeof kRequest - 1, &s->out, &s->err);
  /* If the server could not start, wake the waiting main thread anyway. */
  pthread_mutex_lock(&s->mu);
  s->listening = s->listening ? 1 : -1;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

static int32_t sync_secret(void* data, const char* name, size_t name_len, char* out, size_t out_cap,
                           size_t* out_len) {
  static const char kToken[] = "sandbox-token";
  (void)data;
  if (name_len != 17 || memcmp(name, "KAM_HUBSPOT_TOKEN", 17) != 0) return KAM_NOT_FOUND;
  *out_len = sizeof kToken - 1;
  if (out_cap < sizeof kToken - 1) return KAM_INVALID_ARGUMENT;
  memcpy(out, kToken, sizeof kToken - 1);
  return KAM_OK;
}

static int progress_calls = 0;
static void on_progress(void* data, const char* phase, size_t phase_len, uint64_t done,
                        uint64_t total) {
  (void)data;
  (void)phase;
  (void)phase_len;
  (void)done;
  (void)total;
  ++progress_calls;
}

/* A full sync through the ABI against the sandbox served by another instance. */
static void full_sync(const kam_addin_api* api, const char* rules_path) {
  server srv;
  pthread_t thread;
  kam_host_api server_host, sync_host, old_host;
  kam_instance* sync_inst = NULL;
  kam_instance* old_inst = NULL;
  kam_error err;
  kam_buffer out;
  char dir[] = "/tmp/kam_c_host_XXXXXX";
  char config[2048];
  char path[256];
  struct timespec deadline;
  int listening;

  memset(&srv, 0, sizeof srv);
  srv.api = api;
  pthread_mutex_init(&srv.mu, NULL);
  pthread_cond_init(&srv.cv, NULL);
  memset(&server_host, 0, sizeof server_host);
  server_host.struct_size = (uint32_t)sizeof server_host;
  server_host.host_data = &srv;
  server_host.log = server_log;
  server_host.is_cancelled = server_cancelled;
  init_error(&err);
  CHECK(api->create(&server_host, "{}", 2, &srv.inst, &err) == KAM_OK, "create server instance");
  if (srv.inst == NULL) return;
  CHECK(pthread_create(&thread, NULL, serve, &srv) == 0, "server thread starts");

  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 120;
  pthread_mutex_lock(&srv.mu);
  while (srv.listening == 0) {
    if (pthread_cond_timedwait(&srv.cv, &srv.mu, &deadline) != 0) break;
  }
  listening = srv.listening;
  pthread_mutex_unlock(&srv.mu);
  CHECK(listening == 1, "sandbox.serve logs the URL it listens on");

  if (listening == 1 && mkdtemp(dir) != NULL) {
    snprintf(config, sizeof config,
             "{\"crm\": \"hubspot\", \"rules\": \"%s\", \"state\": \"%s/state.db\", "
             "\"hubspot\": {\"base_url\": \"%s\"}}",
             rules_path, dir, srv.url);
    memset(&sync_host, 0, sizeof sync_host);
    sync_host.struct_size = (uint32_t)sizeof sync_host;
    sync_host.log = on_log;
    sync_host.progress = on_progress;
    sync_host.get_secret = sync_secret;
    init_error(&err);
    CHECK(api->create(&sync_host, config, strlen(config), &sync_inst, &err) == KAM_OK,
          "create the sync instance");
    if (sync_inst != NULL) {
      int32_t rc;
      /* A concurrent call on the serving instance is refused, the serving goes on. */
      CHECK(invoke(api, srv.inst, "version", "{}", &out, &err) == KAM_CONFLICT,
            "a second call on a busy instance is a conflict");
      rc = invoke(api, sync_inst, "provision", "{}", &out, &err);
      CHECK(rc == KAM_OK, "provision through the ABI");
      if (rc != KAM_OK) fprintf(stderr, "provision: %s\n", err.message);
      api->free_buffer(&out);
      rc = invoke(api, sync_inst, "sync", "{}", &out, &err);
      CHECK(rc == KAM_OK, "sync through the ABI");
      if (rc != KAM_OK) fprintf(stderr, "sync: %s\n", err.message);
      CHECK(out.data != NULL && strstr(out.data, "\"pulled\":100") != NULL,
            "the sync pulled the 100 sandbox companies");
      api->free_buffer(&out);
      rc = invoke(api, sync_inst, "status", "{}", &out, &err);
      CHECK(rc == KAM_OK && out.data != NULL, "status through the ABI");
      api->free_buffer(&out);
      CHECK(progress_calls > 0, "the sync reported progress");
      api->destroy(sync_inst);
    }

    /* An older host's kam_host_api without get_secret and is_cancelled: the plugin uses only
     * what struct_size holds, so the sync finds no token and says so. */
    memset(&old_host, 0x5a, sizeof old_host); /* garbage beyond struct_size */
    old_host.struct_size = (uint32_t)offsetof(kam_host_api, get_secret);
    old_host.host_data = NULL;
    old_host.log = on_log;
    old_host.progress = NULL;
    init_error(&err);
    CHECK(api->create(&old_host, config, strlen(config), &old_inst, &err) == KAM_OK,
          "create with an undersized kam_host_api");
    if (old_inst != NULL) {
      CHECK(invoke(api, old_inst, "sync", "{}", &out, &err) == KAM_UNAUTHENTICATED,
            "no get_secret in the host's struct: the sync has no token");
      CHECK(strstr(err.message, "KAM_HUBSPOT_TOKEN") != NULL, "the error names the secret");
      api->destroy(old_inst);
    }
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    if (system(path) != 0) fprintf(stderr, "could not remove %s\n", dir);
  }

  pthread_mutex_lock(&srv.mu);
  srv.cancel = 1;
  pthread_mutex_unlock(&srv.mu);
  pthread_join(thread, NULL);
  CHECK(srv.rc == KAM_OK, "sandbox.serve returns KAM_OK once cancelled");
  CHECK(srv.out.data != NULL && strstr(srv.out.data, "\"url\"") != NULL,
        "sandbox.serve reports its URL and counters");
  api->free_buffer(&srv.out);
  api->destroy(srv.inst);
  pthread_cond_destroy(&srv.cv);
  pthread_mutex_destroy(&srv.mu);
}

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    fprintf(stderr, "usage: %s path/to/libkam_addin.so [rules.json]\n", argv[0]);
    return 2;
  }
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  kam_addin_negotiate_fn negotiate;
  *(void**)(&negotiate) = dlsym(lib, KAM_ADDIN_NEGOTIATE_SYMBOL);
  CHECK(negotiate != NULL, "kam_addin_negotiate is exported");
  if (negotiate == NULL) return 1;

  const kam_addin_api* api = NULL;
  CHECK(negotiate(KAM_ABI_MAJOR + 1, 0, &api) == KAM_VERSION_MISMATCH,
        "an unknown major is refused");
  CHECK(api == NULL, "a refused negotiation leaves *out untouched");
  CHECK(negotiate(KAM_ABI_MAJOR, KAM_ABI_MINOR, NULL) == KAM_INVALID_ARGUMENT, "NULL out");
  CHECK(negotiate(KAM_ABI_MAJOR, KAM_ABI_MINOR, &api) == KAM_OK, "negotiation succeeds");
  if (api == NULL) return 1;
  CHECK(api->struct_size >= sizeof(kam_addin_api), "table has every 1.0 function");
  CHECK(api->abi_major == KAM_ABI_MAJOR, "table major");
  CHECK(strcmp(api->name, "kam-addin") == 0, "plugin name");
  CHECK(api->version != NULL && api->version[0] != '\0', "plugin version");

  kam_error err;
  kam_instance* inst = (kam_instance*)1;
  kam_instance* refused = NULL;
  init_error(&err);
  CHECK(api->create(NULL, "{not json", 9, &inst, &err) == KAM_INVALID_ARGUMENT,
        "malformed config is refused");
  CHECK(inst == NULL, "no instance on failure");
  CHECK(err.status == KAM_INVALID_ARGUMENT, "error status filled");
  CHECK(strstr(err.location, "config:1:") != NULL, "config error has a position");

  kam_host_api host;
  memset(&host, 0, sizeof host);
  host.struct_size = (uint32_t)sizeof host;
  host.log = on_log;
  init_error(&err);
  CHECK(api->create(&host, "{}", 2, &inst, &err) == KAM_OK, "create with {}");
  if (inst == NULL) return 1;

  kam_buffer out;
  CHECK(invoke(api, inst, "version", "{}", &out, &err) == KAM_OK, "version succeeds");
  CHECK(out.data != NULL && out.size == strlen(out.data), "buffer is NUL-terminated, sized");
  CHECK(out.data != NULL && strstr(out.data, "\"name\":\"kam-addin\"") != NULL, "version names it");
  CHECK(out.data != NULL && strstr(out.data, "\"openssl\"") != NULL, "version lists OpenSSL");
  api->free_buffer(&out);
  CHECK(out.data == NULL && out.size == 0, "free_buffer empties the buffer");
  api->free_buffer(&out); /* safe twice / on empty */
  api->free_buffer(NULL);

  CHECK(invoke(api, inst, "version", "", &out, &err) == KAM_OK, "empty request means {}");
  api->free_buffer(&out);

  CHECK(invoke(api, inst, "no.such.op", "{}", &out, &err) == KAM_NOT_FOUND, "unknown op");
  CHECK(strstr(err.message, "no.such.op") != NULL, "unknown op error names it");
  CHECK(out.data == NULL, "no buffer on failure");
  CHECK(err.http_status == 0 && err.retry_after_ms == -1, "no HTTP details");

  CHECK(invoke(api, inst, "version", "{\"a\": [1, 2", &out, &err) == KAM_INVALID_ARGUMENT,
        "malformed request");
  CHECK(strncmp(err.location, "request:1:", 10) == 0, "malformed request has a position");
  CHECK(strstr(err.message, "not valid JSON") != NULL, "malformed request says so");

  /* The op name is pointer + length: a longer buffer must not leak into the name. */
  init_buffer(&out);
  init_error(&err);
  CHECK(api->invoke(inst, "versionXYZ", 7, "{}", 2, &out, &err) == KAM_OK, "op is ptr+len");
  api->free_buffer(&out);

  /* A small error struct (an older host): the plugin writes only what fits. */
  {
    struct {
      kam_error e;
      char guard[8];
    } small;
    memset(&small, 0x7f, sizeof small);
    small.e.struct_size = (uint32_t)offsetof(kam_error, message);
    init_buffer(&out);
    CHECK(api->invoke(inst, "nope", 4, "{}", 2, &out, &small.e) == KAM_NOT_FOUND, "small err");
    CHECK(small.e.status == KAM_NOT_FOUND, "status written: it fits");
    CHECK(small.e.retry_after_ms == -1, "retry_after_ms written: it fits");
    CHECK((unsigned char)small.e.message[0] == 0x7f, "message untouched beyond struct_size");
  }
  /* Only the status fits: everything after it stays as the host left it. A smaller allocation
   * than kam_error is what an old host really passes, so use one (ASan checks the bounds). */
  {
    size_t size = offsetof(kam_error, status) + sizeof(int32_t);
    kam_error* tiny = (kam_error*)malloc(size);
    if (tiny != NULL) {
      memset(tiny, 0x7f, size);
      tiny->struct_size = (uint32_t)size;
      init_buffer(&out);
      CHECK(api->invoke(inst, "nope", 4, "{}", 2, &out, tiny) == KAM_NOT_FOUND, "tiny err");
      CHECK(tiny->status == KAM_NOT_FOUND, "status written into a status-only kam_error");
      free(tiny);
    }
    size = sizeof(uint32_t); /* struct_size alone */
    tiny = (kam_error*)malloc(size);
    if (tiny != NULL) {
      tiny->struct_size = (uint32_t)size;
      CHECK(api->create(NULL, "[", 1, &refused, tiny) == KAM_INVALID_ARGUMENT,
            "create with a kam_error of struct_size only");
      free(tiny);
    }
  }

  /* Deep nesting is refused with its position, before any parser or walker can recurse. */
  {
    size_t depth = 100000, i;
    char* deep = (char*)malloc(2 * depth + 1);
    if (deep != NULL) {
      for (i = 0; i < depth; ++i) deep[i] = '[';
      for (i = 0; i < depth; ++i) deep[depth + i] = ']';
      deep[2 * depth] = '\0';
      init_buffer(&out);
      init_error(&err);
      CHECK(api->invoke(inst, "jsonlogic.apply", 15, deep, 2 * depth, &out, &err) ==
                KAM_INVALID_ARGUMENT,
            "a request nested 100000 deep is refused");
      CHECK(strcmp(err.location, "request:1:257") == 0, "deep request: position of level 257");
      CHECK(strstr(err.message, "nested deeper") != NULL, "deep request: says why");
      init_error(&err);
      CHECK(api->create(NULL, deep, 2 * depth, &refused, &err) == KAM_INVALID_ARGUMENT,
            "a config nested 100000 deep is refused");
      CHECK(strcmp(err.location, "config:1:257") == 0, "deep config: position of level 257");
      free(deep);
    }
  }

  api->destroy(inst);
  api->destroy(NULL);
  if (argc == 3) full_sync(api, argv[2]);
  /* ThreadSanitizer's atexit interceptor forgets which library registered a handler, so a
   * handler of the unloaded add-in (the static OpenSSL's cleanup) would run at exit from
   * unmapped memory; glibc alone runs it at dlclose. The tsan preset keeps the library loaded. */
  if (getenv("KAM_C_HOST_KEEP_LOADED") == NULL) dlclose(lib);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
