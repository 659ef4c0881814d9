// The state file's permissions: the database, its -wal and -shm files and the lock file are
// readable and writable by their owner only (0600), whatever the process umask. Internal to
// kam_store.
#ifndef KAM_STORE_FILE_MODES_H_
#define KAM_STORE_FILE_MODES_H_

#include <string>

namespace kam::store {

// Opens `path` read-write, creating it with mode 0600; an existing file with a wider mode is
// tightened to 0600. Returns the descriptor (O_CLOEXEC), or -1 with errno set.
int OpenPrivateFile(const std::string& path);

// Creates the folder of `db_path` (its last level only, mode 0700 whatever the umask) when it
// is missing and its own parent exists, so that a hand-written `"state": "state/kam.db"` works
// without a mkdir, as the package's /var/lib/kam does. A missing parent is left to the caller's
// error (a mistyped path does not grow a tree). An existing folder is left as it is.
void EnsureStateDirectory(const std::string& db_path);

// Before SQLite opens `db_path`: creates it empty with mode 0600 if missing and tightens it and
// an existing -wal/-shm to 0600. SQLite gives the -wal and -shm it creates the database file's
// mode, so they follow. Throws StoreError when the file cannot be created.
void CreatePrivateStateFiles(const std::string& db_path);

}  // namespace kam::store

#endif  // KAM_STORE_FILE_MODES_H_
