// The store's internals, shared by the files of this library (store.cc, facts_store.cc): the
// open database with its cached statements and the helpers that bind redacted text and turn
// SQLite's exceptions into StoreError. Not part of the public API.
#ifndef KAM_STORE_STORE_IMPL_H_
#define KAM_STORE_STORE_IMPL_H_

#include <SQLiteCpp/SQLiteCpp.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "kam/store/store.h"

namespace kam::store {

// A cached statement that knows the store's redaction: Bind() on it redacts text (below).
class RedactingStatement : public SQLite::Statement {
 public:
  RedactingStatement(const SQLite::Database& db, const std::string& sql,
                     const std::function<void(std::string&)>* redact)
      : SQLite::Statement(db, sql), redact_(redact) {}
  void Redact(std::string& text) const {
    if (redact_ != nullptr && *redact_) (*redact_)(text);
  }

 private:
  const std::function<void(std::string&)>* redact_;
};

struct Store::Impl {
  std::string path;
  int lock_fd = -1;
  StoreOptions options;
  std::unique_ptr<SQLite::Database> db;
  std::map<std::string, std::unique_ptr<RedactingStatement>, std::less<>> statements;
  std::unique_ptr<SQLite::Transaction> tx;

  ~Impl() {
    statements.clear();
    tx.reset();
    db.reset();
    if (lock_fd >= 0) close(lock_fd);  // releases the flock
  }

  // A cached statement, reset and with its bindings cleared.
  RedactingStatement& Q(std::string_view sql) {
    auto it = statements.find(sql);
    if (it == statements.end()) {
      it = statements
               .emplace(std::string(sql), std::make_unique<RedactingStatement>(
                                              *db, std::string(sql), &options.redact))
               .first;
    }
    it->second->reset();
    it->second->clearBindings();
    return *it->second;
  }

  // Ends every cached statement's read. A statement stepped to a row and not reset (a lookup
  // of one row) keeps the connection's read transaction, and with it an old WAL read mark:
  // the checkpoint after a commit could then copy nothing back, and the WAL grew for the whole
  // run (540 MB at 20,000 companies) until the close copied it all into the database.
  void ResetStatements() {
    for (auto& entry : statements) entry.second->reset();
  }
};

// Runs fn, turning SQLite's exceptions into StoreError naming what was being done.
template <typename Fn>
inline auto Guard(const char* what, const std::string& path, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const StoreError&) {
    throw;
  } catch (const std::exception& e) {
    throw StoreError(std::string("state store ") + path + ": " + what + " failed: " + e.what());
  }
}

// Binds text (SQLiteCpp's pointer+size overload would bind a BLOB, which never equals text).
// Every text bound is redacted first (StoreOptions::redact).
inline void Bind(RedactingStatement& s, int i, std::string_view v) {
  std::string text(v);
  s.Redact(text);
  s.bind(i, text);
}

}  // namespace kam::store

#endif  // KAM_STORE_STORE_IMPL_H_
