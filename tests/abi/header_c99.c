/* Compiles kam/addin.h as strict C99 and checks the ABI constants a host relies on. */
#include "kam/addin.h"

typedef char check_major[KAM_ABI_MAJOR == 1 ? 1 : -1];
typedef char check_ok[KAM_OK == 0 ? 1 : -1];
typedef char check_unimplemented[KAM_UNIMPLEMENTED == 11 ? 1 : -1];
typedef char check_struct_size_first[offsetof(kam_error, struct_size) == 0 ? 1 : -1];

int kam_header_c99_probe(void);
int kam_header_c99_probe(void) {
  kam_error err;
  kam_buffer buf;
  err.struct_size = (uint32_t)sizeof err;
  buf.struct_size = (uint32_t)sizeof buf;
  return (int)(err.struct_size + buf.struct_size) > 0;
}
