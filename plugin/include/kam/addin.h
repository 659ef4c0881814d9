/*
 * kam/addin.h - the C ABI of the KAM add-in (libkam_addin.so).
 *
 * This is the only public header. It is plain C99 and C++; no C++ type, exception or allocator
 * crosses it. A host loads the library (dlopen), looks up the single exported symbol
 * kam_addin_negotiate, and from then on uses only the function table it returns.
 *
 * Versioning: a new KAM_ABI_MAJOR breaks; a new KAM_ABI_MINOR only appends fields at the end of
 * structs and functions at the end of kam_addin_api. Every struct starts with
 * `uint32_t struct_size`, set by whoever fills the struct; a reader checks struct_size before
 * touching a field that a newer minor appended.
 *
 * Strings are UTF-8 pointer + length unless a comment says NUL-terminated.
 */
#ifndef KAM_ADDIN_H_
#define KAM_ADDIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KAM_ABI_MAJOR 1
#define KAM_ABI_MINOR 0

/* Status codes returned by every fallible function (int32_t). */
#define KAM_OK 0
#define KAM_INVALID_ARGUMENT 1
#define KAM_NOT_FOUND 2
#define KAM_PERMISSION_DENIED 3
#define KAM_UNAUTHENTICATED 4
#define KAM_RATE_LIMITED 5
#define KAM_UNAVAILABLE 6
#define KAM_CONFLICT 7
#define KAM_CANCELLED 8
#define KAM_INTERNAL 9
#define KAM_VERSION_MISMATCH 10
#define KAM_UNIMPLEMENTED 11

/* Capability bits in kam_addin_api.capabilities. */
#define KAM_CAP_HUBSPOT ((uint64_t)1 << 0)
#define KAM_CAP_SALESFORCE ((uint64_t)1 << 1)
#define KAM_CAP_SANDBOX ((uint64_t)1 << 2)
#define KAM_CAP_RULES ((uint64_t)1 << 3)
#define KAM_CAP_SYNC ((uint64_t)1 << 4)

/* Log levels for kam_host_api.log. */
#define KAM_LOG_DEBUG 0
#define KAM_LOG_INFO 1
#define KAM_LOG_WARN 2
#define KAM_LOG_ERROR 3

/*
 * Error details. Allocated by the caller (on the stack is fine), filled by the plugin when a call
 * fails. The caller sets struct_size = sizeof(kam_error); the plugin writes only the fields that
 * fit in struct_size. Nothing in it needs freeing. message and location are always
 * NUL-terminated and truncated to fit; location is "file:line:col" and/or a JSON pointer, or "".
 */
typedef struct kam_error {
  uint32_t struct_size;
  int32_t status;         /* one of the KAM_ status codes */
  uint8_t retryable;      /* 1 when the same call may succeed later */
  int32_t http_status;    /* HTTP status of the CRM call behind the error, 0 if none */
  int64_t retry_after_ms; /* wait advised before a retry, -1 if none */
  char message[512];
  char location[256];
} kam_error;

/*
 * Output of invoke(). Owned by the plugin: the host releases it with free_buffer() exactly once.
 * The host sets struct_size = sizeof(kam_buffer) and zeroes the rest before the call.
 * data is NUL-terminated for convenience; size does not count the NUL.
 */
typedef struct kam_buffer {
  uint32_t struct_size;
  char* data;
  size_t size;
} kam_buffer;

/*
 * Services the host offers to the plugin. Given to create(); must stay valid until destroy()
 * returns. Any function pointer may be NULL: the plugin then does without (no logs, no progress,
 * no secrets, never cancelled). The plugin may call them from any of its threads, but never
 * concurrently for one instance from more than one thread at a time.
 */
typedef struct kam_host_api {
  uint32_t struct_size;
  void* host_data; /* passed back unchanged as the first argument */
  /* A log line (UTF-8, not NUL-terminated). Secrets are redacted before this is called. */
  void (*log)(void* host_data, int32_t level, const char* msg, size_t len);
  /* Progress of the current operation: phase name (e.g. "pull"), units done of total
   * (total 0 = unknown). */
  void (*progress)(void* host_data, const char* phase, size_t phase_len, uint64_t done,
                   uint64_t total);
  /* Copies the secret `name` (e.g. "KAM_HUBSPOT_TOKEN") into out[0..out_cap) and sets *out_len.
   * Returns KAM_OK, KAM_NOT_FOUND when the host has no such secret, or KAM_INVALID_ARGUMENT when
   * out_cap is too small (*out_len then holds the size needed). The plugin wipes its copy after
   * use and never logs it. */
  int32_t (*get_secret)(void* host_data, const char* name, size_t name_len, char* out,
                        size_t out_cap, size_t* out_len);
  /* Returns non-zero when the host wants the current operation to stop. The plugin polls it at
   * page and batch boundaries and then returns KAM_CANCELLED, leaving a resumable state. */
  int32_t (*is_cancelled)(void* host_data);
} kam_host_api;

/* An add-in instance: one tenant's configuration and state. Opaque to the host. */
typedef struct kam_instance kam_instance;

/*
 * The function table. Static inside the plugin, valid until the library is unloaded.
 * Every function catches everything: no exception ever unwinds into the host.
 */
typedef struct kam_addin_api {
  uint32_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  uint64_t capabilities; /* KAM_CAP_ bits */
  const char* name;      /* static, NUL-terminated, e.g. "kam-addin" */
  const char* version;   /* static, NUL-terminated, e.g. "0.1.0" */

  /* Creates an instance from a JSON configuration ("{}" is valid). On success sets *out and
   * returns KAM_OK; the host later passes *out to destroy(). On failure *out is NULL and err
   * (may be NULL) says why. host may be NULL; if not, it must outlive the instance. */
  int32_t (*create)(const kam_host_api* host, const char* config_json, size_t config_len,
                    kam_instance** out, kam_error* err);

  /* Stops and joins every thread the instance started, then frees it. NULL is a no-op. */
  void (*destroy)(kam_instance* instance);

  /* Runs one operation (op, UTF-8, not NUL-terminated) with a JSON request ("" means "{}"):
   * version, rules.check, rules.test, rules.explain, rules.eval, rules.bench, jsonlogic.apply,
   * sync, dry_run, status, provision, report, sandbox.serve (and later additions).
   * On KAM_OK, *out holds the JSON result, owned by the plugin until free_buffer(out).
   * On failure, *out is left empty (data NULL, size 0) and err (may be NULL) says why.
   * Unknown op: KAM_NOT_FOUND naming it. Malformed JSON: KAM_INVALID_ARGUMENT with the position.
   * One instance serves one call at a time: a concurrent second call gets KAM_CONFLICT.
   * Separate instances may be used from separate threads in parallel. */
  int32_t (*invoke)(kam_instance* instance, const char* op, size_t op_len,
                    const char* request_json, size_t request_len, kam_buffer* out,
                    kam_error* err);

  /* Releases what invoke() returned and empties *buffer. Safe on an empty buffer or NULL. */
  void (*free_buffer)(kam_buffer* buffer);
} kam_addin_api;

/*
 * The single exported symbol. The host passes the ABI version it was compiled against.
 * Returns KAM_VERSION_MISMATCH when host_major differs from KAM_ABI_MAJOR (and leaves *out
 * untouched), KAM_INVALID_ARGUMENT when out is NULL, otherwise KAM_OK with *out set to the static
 * table. A host built for a newer minor must check (*out)->struct_size before using appended
 * functions. Thread-safe; may be called any number of times.
 */
#if defined(__GNUC__)
#define KAM_EXPORT __attribute__((visibility("default")))
#else
#define KAM_EXPORT
#endif
KAM_EXPORT int32_t kam_addin_negotiate(uint32_t host_major, uint32_t host_minor,
                                       const kam_addin_api** out);

/* The symbol's type and name, for hosts that dlsym() it. */
typedef int32_t (*kam_addin_negotiate_fn)(uint32_t, uint32_t, const kam_addin_api**);
#define KAM_ADDIN_NEGOTIATE_SYMBOL "kam_addin_negotiate"

/*
 * Threads and lifetime, in detail (ABI 1.0; these notes add precision, they change nothing):
 *
 * - invoke() on an instance that is already running a call, from any thread, returns
 *   KAM_CONFLICT at once and changes nothing; the running call goes on. A host callback that
 *   calls invoke() on its own instance gets KAM_CONFLICT too.
 * - destroy() while invoke() runs on another thread WAITS: from that moment the running call
 *   sees is_cancelled() as true (the plugin no longer asks the host) and stops at its next page
 *   or batch boundary, leaving a resumable state; destroy() returns after invoke() has returned
 *   and the instance is freed. An invoke() that starts while destroy() waits returns
 *   KAM_CANCELLED. After destroy() has returned the instance pointer is dangling: the host must
 *   not pass it again (this the plugin cannot detect).
 * - destroy() called from inside a host callback of the instance's own running call cannot wait
 *   for that call: it returns at once, the call is cancelled as above, and the instance is freed
 *   when that invoke() returns. kam_host_api must stay valid until then.
 * - Every function of kam_addin_api is noexcept in the plugin's C++ and catches everything;
 *   errors are written into kam_error from fixed buffers, without allocating. Only the fields of
 *   kam_error, kam_buffer and kam_host_api that the caller's struct_size holds entirely are
 *   read or written. invoke() refuses a kam_buffer whose struct_size does not hold size
 *   (KAM_INVALID_ARGUMENT).
 * - Limits on the JSON texts: a create() configuration at most 1 MiB, an invoke() request at most
 *   64 MiB, both at most 256 levels of nested arrays and objects. Beyond them the call returns
 *   KAM_INVALID_ARGUMENT naming the limit; location is "config" / "request", with ":line:col"
 *   of the first bracket too deep.
 */

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KAM_ADDIN_H_ */
