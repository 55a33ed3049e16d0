#include "io/temp_file.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "io/error.h"

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <process.h>
#include <sys/stat.h>
#define getpid _getpid
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif
#endif

namespace fs = std::filesystem;

namespace bitsmith {

std::string errnoText(int err) {
  const char* name = nullptr;
  switch (err) {
    case ENOSPC:
      name = "ENOSPC";
      break;
#ifdef EDQUOT
    case EDQUOT:
      name = "EDQUOT";
      break;
#endif
    case EFBIG:
      name = "EFBIG";
      break;
    case EIO:
      name = "EIO";
      break;
    case EROFS:
      name = "EROFS";
      break;
    case EACCES:
      name = "EACCES";
      break;
    case EPERM:
      name = "EPERM";
      break;
    case EEXIST:
      name = "EEXIST";
      break;
    case ENOENT:
      name = "ENOENT";
      break;
    default:
      break;
  }
  return std::string(std::strerror(err)) + (name ? std::string(", ") + name : std::string());
}

std::string tempNameFor(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  static const uint64_t seed = [] {
    std::random_device rd;
    return (uint64_t(rd()) << 32) ^ rd();
  }();
  // A distinct name per call: the seed (random per process) mixed with a counter.
  uint64_t x = seed + 0x9e3779b97f4a7c15ull * (uint64_t(counter++) + 1);
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 29;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%012llx", static_cast<unsigned long long>(x & 0xffffffffffffull));
  fs::path p(path);
  return (p.parent_path() /
          ("." + p.filename().string() + ".bitsmith-tmp-" + std::to_string(getpid()) + "-" + hex))
      .string();
}

std::string pathIdentity(const std::string& path) {
#ifdef _WIN32
  std::error_code ec;
  auto st = fs::symlink_status(path, ec);
  if (ec || !fs::exists(st)) return "";
  auto size = fs::is_regular_file(st) ? fs::file_size(path, ec) : 0;
  return "0:0:" + std::to_string(size) + ":0";
#else
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return "";
#ifdef __APPLE__
  const auto& mt = st.st_mtimespec;
#else
  const auto& mt = st.st_mtim;
#endif
  const unsigned long long ns = static_cast<unsigned long long>(mt.tv_sec) * 1000000000ull +
                                static_cast<unsigned long long>(mt.tv_nsec);
  return std::to_string(static_cast<unsigned long long>(st.st_dev)) + ":" +
         std::to_string(static_cast<unsigned long long>(st.st_ino)) + ":" +
         std::to_string(static_cast<long long>(st.st_size)) + ":" + std::to_string(ns);
#endif
}

void checkDestination(const std::string& path, const ReplacePolicy& policy) {
  if (policy.kind == ReplacePolicy::Unchecked) return;
  const std::string now = pathIdentity(path);
#ifdef _WIN32
  // Node's identities on Windows (file index, 100 ns times) are not the CRT's: only whether
  // something is there can be compared.
  if (now.empty() || policy.kind == ReplacePolicy::Identity) return;
#else
  if (now.empty() || (policy.kind == ReplacePolicy::Identity && now == policy.identity)) return;
#endif
  throw ModelError(
      "run/output-changed",
      path +
          (policy.kind == ReplacePolicy::Nothing ? " appeared after Bitsmith checked it"
                                                 : " changed after Bitsmith checked it") +
          ": not replaced (the new output was discarded; run again to check it)");
}

namespace {

// rename() that fails with EEXIST instead of replacing: renameat2 where the kernel and the
// file system have it, else link + unlink (files), else a check right before rename().
int renameNoReplace(const std::string& from, const std::string& to, bool isFile) {
#if defined(__linux__) && defined(SYS_renameat2)
  if (::syscall(SYS_renameat2, AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(),
                1u /* RENAME_NOREPLACE */) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
#endif
#ifndef _WIN32
  if (isFile) {
    if (::link(from.c_str(), to.c_str()) == 0) {
      ::unlink(from.c_str());
      return 0;
    }
    if (errno == EEXIST) return EEXIST;
  }
#else
  (void)isFile;
#endif
  if (!pathIdentity(to).empty()) return EEXIST;
  std::error_code ec;
  fs::rename(from, to, ec);
  return ec ? ec.value() : 0;
}

}  // namespace

int renameIntoPlace(const std::string& from, const std::string& to, const ReplacePolicy& policy,
                    bool isFile) {
  checkDestination(to, policy);
  if (policy.kind != ReplacePolicy::Unchecked && pathIdentity(to).empty()) {
    const int e = renameNoReplace(from, to, isFile);
    if (e == EEXIST)
      throw ModelError("run/output-changed",
                       to + " appeared while Bitsmith was writing it: not replaced (the new output "
                            "was discarded; run again to check it)");
    return e;
  }
  std::error_code ec;
  fs::rename(from, to, ec);
  return ec ? ec.value() : 0;
}

void TempFile::fail(const std::string& what, int err) {
  std::string msg = path_ + ": cannot " + what + " (" + errnoText(err) + ")";
  abort();
  throw ModelError("run/write-failed", msg + "; the unfinished file was removed");
}

void TempFile::open() {
  fs::path p(path_);
  fs::path dir = p.parent_path();
  std::error_code ec;
  if (!dir.empty() && !fs::is_directory(dir, ec))
    throw ModelError("run/write-failed",
                     path_ + ": the output folder " + dir.string() + " does not exist");
  for (int attempt = 0; attempt < 100 && fd_ < 0; attempt++) {
    temp_ = tempNameFor(path_);
#ifdef _WIN32
    fd_ = ::_open(temp_.c_str(), _O_WRONLY | _O_CREAT | _O_EXCL | _O_BINARY, _S_IREAD | _S_IWRITE);
#else
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
#endif
    if (fd_ < 0 && errno != EEXIST) {
      int e = errno;
      temp_.clear();
      throw ModelError("run/write-failed", path_ + ": cannot create a temporary file in " +
                                               dir.string() + " (" + errnoText(e) + ")");
    }
  }
  if (fd_ < 0) {
    temp_.clear();
    throw ModelError("run/write-failed", path_ + ": cannot create a temporary file");
  }
  written_ = 0;
}

void TempFile::write(const void* data, size_t n) {
  if (fd_ < 0) throw ModelError("run/write-failed", path_ + ": write after close");
  const char* q = static_cast<const char*>(data);
  const size_t asked = n;
  while (n > 0) {
    const size_t chunk = n > (size_t(1) << 30) ? (size_t(1) << 30) : n;
#ifdef _WIN32
    int w = ::_write(fd_, q, unsigned(chunk));
#else
    ssize_t w = ::write(fd_, q, chunk);
#endif
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("write " + std::to_string(asked) + " bytes at byte " + std::to_string(written_), errno);
    }
    if (w == 0)
      fail("write " + std::to_string(asked) + " bytes at byte " + std::to_string(written_), EIO);
    q += w;
    n -= size_t(w);
    written_ += uint64_t(w);
  }
}

void TempFile::commit() {
  if (fd_ < 0) throw ModelError("run/write-failed", path_ + ": commit without an open file");
#ifdef _WIN32
  int rc = ::_commit(fd_);
  if (rc != 0) fail("flush " + std::to_string(written_) + " bytes to disk", errno);
  rc = ::_close(fd_);
#else
  // On disk before the rename: a crash never leaves the destination empty or partial.
  int rc = ::fsync(fd_);
  if (rc != 0 && errno != EINVAL)
    fail("flush " + std::to_string(written_) + " bytes to disk", errno);
  rc = ::close(fd_);
#endif
  fd_ = -1;
  if (rc != 0) fail("close the file after " + std::to_string(written_) + " bytes", errno);
  int e = 0;
  try {
    e = renameIntoPlace(temp_, path_, policy_, true);
  } catch (...) {
    abort();
    throw;
  }
  if (e != 0) {
    std::string msg = path_ + ": cannot rename the finished file into place (" + errnoText(e) + ")";
    abort();
    throw ModelError("run/write-failed", msg);
  }
  committed_ = true;
  temp_.clear();
}

void TempFile::abort() noexcept {
  if (fd_ >= 0) {
#ifdef _WIN32
    ::_close(fd_);
#else
    ::close(fd_);
#endif
    fd_ = -1;
  }
  if (!committed_ && !temp_.empty()) {
    std::remove(temp_.c_str());
    temp_.clear();
  }
}

}  // namespace bitsmith
