/* A host written in C: dlopens libkam_addin.so (argv[1]), negotiates, creates an instance,
 * invokes operations and checks every status, message and ownership rule of kam/addin.h.
 * Prints "N passed, M failed" and exits non-zero on any failure. Runs under ASan in CI. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kam/addin.h"

static int passed = 0, failed = 0;

#define CHECK(cond, what)                                             \
  do {                                                                \
    if (cond) {                                                       \
      ++passed;                                                       \
    } else {                                                          \
      ++failed;                                                       \
      fprintf(stderr, "FAILED %s:%d: %s (%s)\n", __FILE__, __LINE__, what, #cond); \
    }                                                                 \
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

static int32_t invoke(const kam_addin_api* api, kam_instance* inst, const char* op,
                      const char* req, kam_buffer* out, kam_error* err) {
  init_buffer(out);
  init_error(err);
  return api->invoke(inst, op, strlen(op), req, req ? strlen(req) : 0, out, err);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s path/to/libkam_addin.so\n", argv[0]);
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
    CHECK((unsigned char)small.e.message[0] == 0x7f, "message untouched beyond struct_size");
  }

  api->destroy(inst);
  api->destroy(NULL);
  dlclose(lib);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
