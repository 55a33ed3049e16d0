#include "io/temp_file.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "io/error.h"

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <process.h>
#include <sys/stat.h>
#define getpid _getpid
#else
#include <fcntl.h>
#include <unistd.h>
#endif

namespace fs = std::filesystem;

namespace bitsmith {

void TempFile::fail(const std::string& what, int err) {
  std::string msg = path_ + ": cannot " + what + " (" + std::strerror(err) + ")";
  abort();
  throw ModelError("run/write-failed", msg);
}

void TempFile::open() {
  static std::atomic<unsigned> counter{0};
  fs::path p(path_);
  fs::path dir = p.parent_path();
  std::error_code ec;
  if (!dir.empty() && !fs::is_directory(dir, ec))
    throw ModelError("run/write-failed",
                     path_ + ": the output folder " + dir.string() + " does not exist");
  for (int attempt = 0; attempt < 100 && fd_ < 0; attempt++) {
    temp_ = (dir / ("." + p.filename().string() + ".bitsmith-" + std::to_string(getpid()) + "-" +
                    std::to_string(counter++) + ".tmp"))
                .string();
#ifdef _WIN32
    fd_ = ::_open(temp_.c_str(), _O_WRONLY | _O_CREAT | _O_EXCL | _O_BINARY, _S_IREAD | _S_IWRITE);
#else
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
#endif
    if (fd_ < 0 && errno != EEXIST) {
      int e = errno;
      temp_.clear();
      throw ModelError("run/write-failed", path_ + ": cannot create a temporary file in " +
                                               dir.string() + " (" + std::strerror(e) + ")");
    }
  }
  if (fd_ < 0) throw ModelError("run/write-failed", path_ + ": cannot create a temporary file");
}

void TempFile::write(const void* data, size_t n) {
  if (fd_ < 0) throw ModelError("run/write-failed", path_ + ": write after close");
  const char* q = static_cast<const char*>(data);
  while (n > 0) {
    const size_t chunk = n > (size_t(1) << 30) ? (size_t(1) << 30) : n;
#ifdef _WIN32
    int w = ::_write(fd_, q, unsigned(chunk));
#else
    ssize_t w = ::write(fd_, q, chunk);
#endif
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("write", errno);
    }
    q += w;
    n -= size_t(w);
  }
}

void TempFile::commit() {
  if (fd_ < 0) throw ModelError("run/write-failed", path_ + ": commit without an open file");
#ifdef _WIN32
  int rc = ::_close(fd_);
#else
  int rc = ::close(fd_);
#endif
  fd_ = -1;
  if (rc != 0) fail("close", errno);
  std::error_code ec;
  fs::rename(temp_, path_, ec);
  if (ec) {
    std::string msg = path_ + ": cannot rename the finished file into place (" + ec.message() + ")";
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
