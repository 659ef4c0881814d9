// Writing a whole file the add-in produces (the HTML report, a kam.json from `kam init`).
#ifndef KAM_ENGINE_FILE_WRITE_H_
#define KAM_ENGINE_FILE_WRITE_H_

#include <sys/types.h>

#include <string>

namespace kam::engine {

// Replaces `path` with `text`, mode `mode` whatever the umask. A plain file (or none yet) is
// written to `path`.tmp beside it and renamed over it: a failed write keeps the old file whole,
// and an old file of a wider mode is replaced, not reused. A path that is no plain file (a
// symbolic link, /dev/stdout, a pipe) is written through in place, never renamed over (that
// would replace the link or the device node itself); a plain file behind a link gets `mode`.
// Returns 0, or the errno of the first failure (nothing is thrown).
int ReplaceFile(const std::string& path, const std::string& text, mode_t mode);

}  // namespace kam::engine

#endif  // KAM_ENGINE_FILE_WRITE_H_
