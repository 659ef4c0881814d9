// Writing a whole file (see file_write.h).
#include "file_write.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace kam::engine {
namespace {

// Writes all of `text` to fd and closes it: 0, or the errno of the first failure.
int WriteAndClose(int fd, const std::string& text) {
  int err = 0;
  for (size_t done = 0; done < text.size() && err == 0;) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
    } else {
      done += static_cast<size_t>(n);
    }
  }
  if (::close(fd) != 0 && err == 0) err = errno;
  return err;
}

}  // namespace

int ReplaceFile(const std::string& path, const std::string& text, mode_t mode) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) return errno;
    struct stat target {};
    if (::fstat(fd, &target) == 0 && S_ISREG(target.st_mode)) ::fchmod(fd, mode);
    return WriteAndClose(fd, text);
  }
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return errno;
  // O_CREAT's mode is masked by the umask, and a stale temporary file keeps its own mode.
  int err = ::fchmod(fd, mode) == 0 ? 0 : errno;
  if (err != 0) {
    ::close(fd);
  } else {
    err = WriteAndClose(fd, text);
  }
  if (err == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) ::unlink(tmp.c_str());
  return err;
}

}  // namespace kam::engine
