#include "io/mapped_file.h"

#include <cerrno>
#include <cstring>

#include "io/error.h"

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace bitsmith {

#ifndef _WIN32

static uint64_t pageSize() {
  static const uint64_t p = uint64_t(sysconf(_SC_PAGESIZE) > 0 ? sysconf(_SC_PAGESIZE) : 4096);
  return p;
}

MappedFile::MappedFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR)
      throw ModelError("model/not-found", path + ": no such file or directory");
    throw ModelError("model/unreadable", path + ": cannot open (" + std::strerror(e) + ")");
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw ModelError("model/unreadable", path + ": not a regular file");
  }
  size_ = uint64_t(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      throw ModelError("model/unreadable", path + ": cannot map (" + std::strerror(e) + ")");
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

void MappedFile::release(uint64_t offset, uint64_t length) const {
  if (!data_ || offset >= size_) return;
  if (length > size_ - offset) length = size_ - offset;
  const uint64_t p = pageSize();
  uint64_t begin = (offset + p - 1) / p * p;
  uint64_t end = (offset + length) / p * p;
  if (offset + length == size_) end = (size_ + p - 1) / p * p;  // the file's last page
  if (end > begin) ::madvise(const_cast<uint8_t*>(data_) + begin, end - begin, MADV_DONTNEED);
}

void MappedFile::willNeed(uint64_t offset, uint64_t length) const {
  if (!data_ || offset >= size_) return;
  if (length > size_ - offset) length = size_ - offset;
  const uint64_t p = pageSize();
  uint64_t begin = offset / p * p;
  ::madvise(const_cast<uint8_t*>(data_) + begin, offset + length - begin, MADV_WILLNEED);
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

MappedFile::MappedFile(const std::string& path) : path_(path) {
  int wlen = MultiByteToWideChar(CP_UTF8, 0, path.c_str(), -1, nullptr, 0);
  std::wstring wpath(wlen > 0 ? wlen : 1, L'\0');
  MultiByteToWideChar(CP_UTF8, 0, path.c_str(), -1, &wpath[0], wlen);
  HANDLE f = CreateFileW(wpath.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_DELETE, nullptr,
                         OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (f == INVALID_HANDLE_VALUE) {
    DWORD e = GetLastError();
    if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND)
      throw ModelError("model/not-found", path + ": no such file or directory");
    throw ModelError("model/unreadable", path + ": cannot open (error " + std::to_string(e) + ")");
  }
  LARGE_INTEGER sz;
  if (!GetFileSizeEx(f, &sz)) {
    CloseHandle(f);
    throw ModelError("model/unreadable", path + ": cannot stat");
  }
  size_ = uint64_t(sz.QuadPart);
  file_ = f;
  if (size_ > 0) {
    HANDLE m = CreateFileMappingW(f, nullptr, PAGE_READONLY, 0, 0, nullptr);
    if (!m) {
      CloseHandle(f);
      throw ModelError("model/unreadable", path + ": cannot map");
    }
    mapping_ = m;
    data_ = static_cast<const uint8_t*>(MapViewOfFile(m, FILE_MAP_READ, 0, 0, 0));
    if (!data_) {
      CloseHandle(m);
      CloseHandle(f);
      throw ModelError("model/unreadable", path + ": cannot map");
    }
  }
}

MappedFile::~MappedFile() {
  if (data_) UnmapViewOfFile(data_);
  if (mapping_) CloseHandle(mapping_);
  if (file_) CloseHandle(file_);
}

void MappedFile::release(uint64_t, uint64_t) const {}
void MappedFile::willNeed(uint64_t, uint64_t) const {}

bool isDirectory(const std::string& path) {
  DWORD a = GetFileAttributesA(path.c_str());
  return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY);
}

bool pathExists(const std::string& path) {
  return GetFileAttributesA(path.c_str()) != INVALID_FILE_ATTRIBUTES;
}

#endif

}  // namespace bitsmith
