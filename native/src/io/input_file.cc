#include "io/input_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/error.h"

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace bitsmith {

void InputFile::shrank(uint64_t offset, size_t n, uint64_t got, const std::string& tensor) const {
  throw ModelError("model/truncated",
                   path_ + ": " + (tensor.empty() ? "" : "tensor \"" + tensor + "\": ") +
                       "the file ended at byte " + std::to_string(offset + got) +
                       " while reading bytes [" + std::to_string(offset) + ", " +
                       std::to_string(offset + n) + ") of a file that had " +
                       std::to_string(size_) +
                       " bytes when it was opened: it was truncated or replaced while being read",
                   tensor);
}

std::string InputFile::readString(uint64_t offset, size_t n) const {
  std::string s(n, '\0');
  if (n) read(offset, &s[0], n);
  return s;
}

#ifndef _WIN32

static const char* kindOf(mode_t m) {
  if (S_ISDIR(m)) return "a folder";
  if (S_ISFIFO(m)) return "a FIFO (named pipe)";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

static uint64_t physicalMemory() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 0;
}

InputFile::InputFile(const std::string& path) : path_(path) {
  // O_NONBLOCK: opening a FIFO would otherwise wait for a writer; regular files ignore it.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT || e == ENOTDIR)
      throw ModelError("model/not-found", path + ": no such file or directory");
    throw ModelError("model/unreadable", path + ": cannot open (" + std::strerror(e) + ")");
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw ModelError("model/unreadable", path + ": cannot stat (" + std::strerror(e) + ")");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    const std::string kind = kindOf(st.st_mode);
    throw ModelError("model/unreadable", path + ": is " + kind + ", not a regular file");
  }
  fd_ = fd;
  size_ = uint64_t(st.st_size);
  const uint64_t mem = physicalMemory();
  dropCache_ = mem > 0 && size_ > mem / 2;
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

void InputFile::read(uint64_t offset, void* dst, size_t n, const std::string& tensor) const {
  auto* out = static_cast<uint8_t*>(dst);
  size_t got = 0;
  while (got < n) {
    // Linux moves at most ~2 GiB per call; a short read before the end is retried.
    const size_t want = std::min<size_t>(n - got, size_t(1) << 30);
    const ssize_t r = ::pread(fd_, out + got, want, off_t(offset + got));
    if (r > 0) {
      got += size_t(r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) shrank(offset, n, got, tensor);
    const int e = errno;
    throw ModelError("model/unreadable",
                     path_ + ": " + (tensor.empty() ? "" : "tensor \"" + tensor + "\": ") +
                         "read error at byte " + std::to_string(offset + got) + " (" +
                         std::strerror(e) + ")",
                     tensor);
  }
}

void InputFile::willNeed(uint64_t offset, uint64_t length) const {
#ifdef POSIX_FADV_WILLNEED
  if (offset < size_) ::posix_fadvise(fd_, off_t(offset), off_t(length), POSIX_FADV_WILLNEED);
#else
  (void)offset;
  (void)length;
#endif
}

void InputFile::done(uint64_t offset, uint64_t length) const {
#ifdef POSIX_FADV_DONTNEED
  if (dropCache_ && offset < size_)
    ::posix_fadvise(fd_, off_t(offset), off_t(length), POSIX_FADV_DONTNEED);
#else
  (void)offset;
  (void)length;
#endif
}

bool isDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool pathExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

#else  // _WIN32

static std::wstring wide(const std::string& s) {
  const int n = MultiByteToWideChar(CP_UTF8, 0, s.c_str(), -1, nullptr, 0);
  std::wstring w(n > 0 ? size_t(n) : 1, L'\0');
  MultiByteToWideChar(CP_UTF8, 0, s.c_str(), -1, &w[0], n);
  return w;
}

InputFile::InputFile(const std::string& path) : path_(path) {
  HANDLE f = CreateFileW(wide(path).c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_DELETE,
                         nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (f == INVALID_HANDLE_VALUE) {
    const DWORD e = GetLastError();
    if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND)
      throw ModelError("model/not-found", path + ": no such file or directory");
    throw ModelError("model/unreadable", path + ": cannot open (error " + std::to_string(e) + ")");
  }
  if (GetFileType(f) != FILE_TYPE_DISK) {
    CloseHandle(f);
    throw ModelError("model/unreadable", path + ": is not a regular file");
  }
  LARGE_INTEGER sz;
  if (!GetFileSizeEx(f, &sz)) {
    CloseHandle(f);
    throw ModelError("model/unreadable", path + ": cannot stat");
  }
  handle_ = f;
  size_ = uint64_t(sz.QuadPart);
}

InputFile::~InputFile() {
  if (handle_) CloseHandle(handle_);
}

void InputFile::read(uint64_t offset, void* dst, size_t n, const std::string& tensor) const {
  auto* out = static_cast<uint8_t*>(dst);
  size_t got = 0;
  while (got < n) {
    const DWORD want = DWORD(std::min<size_t>(n - got, size_t(1) << 30));
    OVERLAPPED ov = {};
    const uint64_t at = offset + got;
    ov.Offset = DWORD(at & 0xffffffffu);
    ov.OffsetHigh = DWORD(at >> 32);
    DWORD r = 0;
    if (!ReadFile(handle_, out + got, want, &r, &ov)) {
      const DWORD e = GetLastError();
      if (e == ERROR_HANDLE_EOF) shrank(offset, n, got, tensor);
      throw ModelError("model/unreadable",
                       path_ + ": " + (tensor.empty() ? "" : "tensor \"" + tensor + "\": ") +
                           "read error at byte " + std::to_string(at) + " (error " +
                           std::to_string(e) + ")",
                       tensor);
    }
    if (r == 0) shrank(offset, n, got, tensor);
    got += r;
  }
}

void InputFile::willNeed(uint64_t, uint64_t) const {}
void InputFile::done(uint64_t, uint64_t) const {}

bool isDirectory(const std::string& path) {
  const DWORD a = GetFileAttributesW(wide(path).c_str());
  return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY);
}

bool pathExists(const std::string& path) {
  return GetFileAttributesW(wide(path).c_str()) != INVALID_FILE_ATTRIBUTES;
}

#endif

}  // namespace bitsmith
