/* Links libkam_addin directly (no dlopen) and asks the installed add-in for its version. */
#include <stdio.h>
#include <string.h>

#include <kam/addin.h>

int main(void) {
  const kam_addin_api* api = NULL;
  if (kam_addin_negotiate(KAM_ABI_MAJOR, KAM_ABI_MINOR, &api) != KAM_OK) return 1;
  kam_instance* inst = NULL;
  kam_error err;
  memset(&err, 0, sizeof err);
  err.struct_size = (uint32_t)sizeof err;
  if (api->create(NULL, "{}", 2, &inst, &err) != KAM_OK) return 2;
  kam_buffer out;
  memset(&out, 0, sizeof out);
  out.struct_size = (uint32_t)sizeof out;
  int32_t rc = api->invoke(inst, "version", 7, "{}", 2, &out, &err);
  int ok = rc == KAM_OK && out.data != NULL && strstr(out.data, "kam-addin") != NULL;
  if (ok) printf("installed add-in answers: %.60s\n", out.data);
  api->free_buffer(&out);
  api->destroy(inst);
  return ok ? 0 : 3;
}
