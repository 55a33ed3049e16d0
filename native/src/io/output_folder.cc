#include "io/output_folder.h"

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <vector>

#include "io/error.h"
#include "io/json.h"

#ifndef _WIN32
#include <sys/stat.h>
#ifdef __linux__
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#endif

namespace fs = std::filesystem;

namespace bitsmith {

namespace {

const char* kMarker = ".bitsmith-output.json";

// Size and modification time in whole milliseconds, as core/src/analysis/outputFacts.ts reads them.
bool fileTimes(const std::string& p, int64_t& size, int64_t& mtimeMs) {
#ifdef _WIN32
  std::error_code ec;
  size = int64_t(fs::file_size(p, ec));
  mtimeMs = 0;
  return !ec;
#else
  struct stat st;
  if (::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
#ifdef __APPLE__
  const auto& mt = st.st_mtimespec;
#else
  const auto& mt = st.st_mtim;
#endif
  size = int64_t(st.st_size);
  mtimeMs = int64_t(mt.tv_sec) * 1000 + int64_t(mt.tv_nsec) / 1000000;
  return true;
#endif
}

// Swaps two existing paths atomically (Linux renameat2); false when the system cannot.
bool swapPaths(const std::string& a, const std::string& b) {
#if defined(__linux__) && defined(SYS_renameat2)
  return ::syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(),
                   2u /* RENAME_EXCHANGE */) == 0;
#else
  (void)a;
  (void)b;
  return false;
#endif
}

}  // namespace

void OutputFolder::open() {
  fs::path p(path_);
  if (p.filename().empty()) p = p.parent_path();
  path_ = p.string();
  const fs::path dir = p.parent_path();
  std::error_code ec;
  if (!dir.empty() && !fs::is_directory(dir, ec))
    throw ModelError("run/write-failed",
                     path_ + ": the parent folder " + dir.string() + " does not exist");
  const auto st = fs::symlink_status(p, ec);
  if (fs::exists(st) && !fs::is_directory(st))
    throw ModelError(
        "run/write-failed",
        path_ + ": exists and is not a folder (compressed-tensors output is a folder)");
  for (int attempt = 0; attempt < 100; attempt++) {
    const std::string t = tempNameFor(path_);
    if (fs::create_directory(t, ec)) {
      temp_ = t;
      return;
    }
    if (ec)
      throw ModelError("run/write-failed", path_ + ": cannot create a temporary folder in " +
                                               dir.string() + " (" + ec.message() + ")");
  }
  throw ModelError("run/write-failed", path_ + ": cannot create a temporary folder");
}

void OutputFolder::writeText(const std::string& name, const std::string& text) {
  TempFile f((fs::path(temp_) / name).string());
  f.open();
  f.write(text.data(), text.size());
  f.commit();
}

void OutputFolder::copyFile(const std::string& from, const std::string& name) {
  std::ifstream in(from, std::ios::binary);
  if (!in) throw ModelError("run/write-failed", from + ": cannot open it to copy into " + path_);
  TempFile f((fs::path(temp_) / name).string());
  f.open();
  std::vector<char> buf(size_t(1) << 20);
  while (in) {
    in.read(buf.data(), std::streamsize(buf.size()));
    const std::streamsize got = in.gcount();
    if (got > 0) f.write(buf.data(), size_t(got));
  }
  if (in.bad())
    throw ModelError("run/write-failed", from + ": cannot read it to copy into " + path_);
  f.commit();
}

void OutputFolder::commit() {
  if (temp_.empty()) throw ModelError("run/write-failed", path_ + ": commit without a folder");
  {
    // The marker: what Bitsmith wrote here, to recognise the folder as its own next time.
    json::Value files = json::Value::array();
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(temp_, ec))
      names.push_back(e.path().filename().string());
    if (ec)
      throw ModelError("run/write-failed",
                       temp_ + ": cannot list the finished folder (" + ec.message() + ")");
    for (const std::string& n : names) {
      int64_t size = 0, mtimeMs = 0;
      if (!fileTimes((fs::path(temp_) / n).string(), size, mtimeMs)) continue;
      json::Value f = json::Value::object();
      f.set("name", json::Value::of(n));
      f.set("size", json::Value::of(size));
      f.set("mtimeMs", json::Value::of(mtimeMs));
      files.push(std::move(f));
    }
    json::Value m = json::Value::object();
    m.set("writer", json::Value::of("bitsmith"));
    m.set("version", json::Value::of(BITSMITH_VERSION));
    m.set("kind", json::Value::of(kind_));
    m.set("files", std::move(files));
    writeText(kMarker, json::stringify(m) + "\n");
  }
  std::string failure;
  if (pathIdentity(path_).empty()) {
    const int e = renameIntoPlace(temp_, path_, policy_, false);  // throws run/output-changed
    if (e != 0) failure = errnoText(e);
  } else {
    checkDestination(path_, policy_);
    if (!swapPaths(temp_, path_)) {
      // No atomic swap: the earlier output moves aside under a temporary name, then is replaced.
      const std::string aside = tempNameFor(path_);
      std::error_code ec;
      fs::rename(path_, aside, ec);
      if (ec)
        throw ModelError("run/write-failed",
                         path_ + ": cannot replace the existing folder (" + ec.message() + ")");
      fs::rename(temp_, path_, ec);
      if (ec) {
        failure = ec.message();
        fs::rename(aside, path_, ec);
      } else {
        temp_ = aside;  // removed below
      }
    }
    // After the swap the temporary name holds the earlier output.
    if (failure.empty()) {
      std::error_code ec;
      fs::remove_all(temp_, ec);
      temp_.clear();
      committed_ = true;
      return;
    }
  }
  if (!failure.empty())
    throw ModelError("run/write-failed",
                     path_ + ": cannot rename the finished folder into place (" + failure + ")");
  committed_ = true;
  temp_.clear();
}

void OutputFolder::abort() noexcept {
  if (!committed_ && !temp_.empty()) {
    std::error_code ec;
    fs::remove_all(temp_, ec);
    temp_.clear();
  }
}

}  // namespace bitsmith
