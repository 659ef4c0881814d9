// Owner-only permissions for the state files (see file_modes.h).
#include "file_modes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "kam/store/store.h"

namespace kam::store {
namespace {

constexpr mode_t kPrivateMode = 0600;

// Tightens an open file to 0600 when group or others have any bit.
bool Tighten(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return false;
  if ((st.st_mode & 0077) == 0) return true;
  return fchmod(fd, st.st_mode & kPrivateMode) == 0;
}

}  // namespace

int OpenPrivateFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, kPrivateMode);
  if (fd < 0) return -1;
  // O_CREAT's mode is masked by the umask, which can only remove bits: 0600 stays 0600 or less.
  // A file that existed before keeps its mode: tighten it.
  if (!Tighten(fd)) {
    int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

void EnsureStateDirectory(const std::string& db_path) {
  const size_t slash = db_path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return;  // the working folder or "/"
  const std::string dir = db_path.substr(0, slash);
  if (::mkdir(dir.c_str(), 0700) != 0) return;  // exists, or cannot be made: Open says why
  // mkdir's mode is masked by the umask, which can only remove bits; give the owner all three.
  ::chmod(dir.c_str(), 0700);
}

void CreatePrivateStateFiles(const std::string& db_path) {
  int fd = OpenPrivateFile(db_path);
  if (fd < 0) {
    throw StoreError("cannot create the state file " + db_path + ": " + std::strerror(errno) +
                     " (check that the state directory exists and is writable)");
  }
  ::close(fd);
  for (const char* suffix : {"-wal", "-shm"}) {
    const std::string side = db_path + suffix;
    int side_fd = ::open(side.c_str(), O_RDWR | O_CLOEXEC);
    if (side_fd < 0) continue;  // absent: SQLite creates it with the database's mode
    Tighten(side_fd);
    ::close(side_fd);
  }
}

}  // namespace kam::store
