#include "run/logits_cache.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "io/error.h"

namespace fs = std::filesystem;

namespace bitsmith {

namespace {

constexpr char kMagic[8] = {'B', 'S', 'L', 'O', 'G', 'I', 'T', '1'};
constexpr int64_t kHeader = 8 + 4 * 8;
constexpr int64_t kCompactAbove = int64_t(256) << 20;
// Beyond this the table is not cached at all (a whole wikitext-2 pass on a 128K vocabulary
// would write tens of GiB): the run computes the original's logits and evaluates on them in f32.
constexpr int64_t kCacheAtMost = int64_t(4) << 30;

uint64_t fnv(uint64_t h, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
  return h;
}

std::string keyOf(const Model& m, const forward::Sequences& seqs, int64_t positions, int64_t vocab,
                  int64_t chunk, bool compact, int64_t scoreFrom) {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto add = [&](const std::string& s) { h = fnv(h, s.data(), s.size() + 1); };
  add("bitsmith.logits.1");
  for (const auto& f : m.files) {
    std::error_code ec;
    const fs::path p = fs::absolute(f->path(), ec);
    add(p.string());
    add(std::to_string(fs::file_size(p, ec)));
    const auto t = fs::last_write_time(p, ec);
    add(std::to_string(int64_t(t.time_since_epoch().count())));
  }
  add(std::to_string(positions) + "/" + std::to_string(vocab) + "/" + std::to_string(chunk) + "/" +
      (compact ? "u16" : "f32") + "/from" + std::to_string(scoreFrom));
  for (const auto& s : seqs) {
    const int64_t n = int64_t(s.size());
    h = fnv(h, &n, sizeof n);
    if (!s.empty()) h = fnv(h, s.data(), s.size() * sizeof(int32_t));
  }
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(h));
  return b;
}

}  // namespace

LogitsCache::LogitsCache(const std::string& dir, const Model& model, const forward::Sequences& seqs,
                         int64_t positions, int64_t vocab, int64_t chunk, int64_t scoreFrom)
    : positions_(positions), vocab_(vocab), chunk_(chunk) {
  if (dir.empty()) return;
  if (positions * vocab * 2 > kCacheAtMost) return;
  compact_ = positions * vocab * 4 > kCompactAbove;
  path_ = (fs::path(dir) /
           ("logits-" + keyOf(model, seqs, positions, vocab, chunk, compact_, scoreFrom) + ".bin"))
              .string();
  std::error_code ec;
  const int64_t want =
      kHeader + (compact_ ? positions * vocab * 2 + positions * ((vocab + chunk - 1) / chunk) * 8
                          : positions * vocab * 4);
  if (fs::exists(path_, ec) && int64_t(fs::file_size(path_, ec)) == want) {
    f_ = std::fopen(path_.c_str(), "rb");
    char magic[8] = {};
    if (f_ && std::fread(magic, 1, 8, f_) == 8 && std::memcmp(magic, kMagic, 8) == 0) {
      hit_ = true;
      return;
    }
    if (f_) std::fclose(f_);
    f_ = nullptr;
  }
  fs::create_directories(dir, ec);
  temp_ = path_ + ".tmp-" +
          std::to_string(uint64_t(std::hash<std::string>()(path_)) ^
                         uint64_t(reinterpret_cast<uintptr_t>(this)));
  f_ = std::fopen(temp_.c_str(), "wb");
  if (!f_) {
    temp_.clear();  // not writable: evaluate without a cache
    return;
  }
  writing_ = true;
  const int64_t hdr[4] = {positions, vocab, chunk, compact_ ? 1 : 0};
  std::fwrite(kMagic, 1, 8, f_);
  std::fwrite(hdr, 8, 4, f_);
}

LogitsCache::~LogitsCache() {
  if (f_) std::fclose(f_);
  if (writing_ && !temp_.empty()) {
    std::error_code ec;
    fs::remove(temp_, ec);
  }
}

void LogitsCache::read(int64_t c, float* out, int64_t width) {
  const int64_t chunks = (vocab_ + chunk_ - 1) / chunk_;
  (void)chunks;
  // Every chunk before c is full width.
  const int64_t before = c * chunk_;
  auto fail = [&] {
    return ModelError("evaluate/cache-unreadable", path_ + ": the logits cache could not be read");
  };
  if (compact_) {
    const int64_t off = kHeader + positions_ * before * 2 + positions_ * c * 8;
    affine_.resize(size_t(positions_ * 2));
    codes_.resize(size_t(positions_ * width));
    if (std::fseek(f_, long(off), SEEK_SET) != 0 ||
        std::fread(affine_.data(), 4, affine_.size(), f_) != affine_.size() ||
        std::fread(codes_.data(), 2, codes_.size(), f_) != codes_.size())
      throw fail();
    for (int64_t p = 0; p < positions_; p++) {
      const float lo = affine_[size_t(2 * p)], step = affine_[size_t(2 * p + 1)];
      for (int64_t i = 0; i < width; i++)
        out[p * width + i] = lo + step * float(codes_[size_t(p * width + i)]);
    }
  } else {
    const int64_t off = kHeader + positions_ * before * 4;
    if (std::fseek(f_, long(off), SEEK_SET) != 0 ||
        std::fread(out, 4, size_t(positions_ * width), f_) != size_t(positions_ * width))
      throw fail();
  }
}

void LogitsCache::write(int64_t c, float* v, int64_t width) {
  (void)c;
  if (!compact_ && !writing_) return;
  if (compact_) {
    affine_.resize(size_t(positions_ * 2));
    codes_.resize(size_t(positions_ * width));
    for (int64_t p = 0; p < positions_; p++) {
      float* row = v + p * width;
      float lo = row[0], hi = row[0];
      for (int64_t i = 1; i < width; i++) {
        lo = std::min(lo, row[i]);
        hi = std::max(hi, row[i]);
      }
      const float step = hi > lo ? (hi - lo) / 65535.0f : 1.0f;
      affine_[size_t(2 * p)] = lo;
      affine_[size_t(2 * p + 1)] = step;
      for (int64_t i = 0; i < width; i++) {
        const float q = std::min(65535.0f, std::max(0.0f, std::nearbyint((row[i] - lo) / step)));
        codes_[size_t(p * width + i)] = uint16_t(q);
        row[i] = lo + step * q;  // evaluate on what a cached run reads
      }
    }
  }
  if (!writing_) return;
  bool ok = true;
  if (compact_)
    ok = std::fwrite(affine_.data(), 4, affine_.size(), f_) == affine_.size() &&
         std::fwrite(codes_.data(), 2, codes_.size(), f_) == codes_.size();
  else
    ok = std::fwrite(v, 4, size_t(positions_ * width), f_) == size_t(positions_ * width);
  if (!ok) {
    // A full disk: evaluate on without the cache.
    std::fclose(f_);
    f_ = nullptr;
    std::error_code ec;
    fs::remove(temp_, ec);
    writing_ = false;
  }
}

void LogitsCache::commit() {
  if (!writing_ || !f_) return;
  const bool ok = std::fflush(f_) == 0;
  std::fclose(f_);
  f_ = nullptr;
  std::error_code ec;
  if (ok) fs::rename(temp_, path_, ec);
  if (!ok || ec) fs::remove(temp_, ec);
  writing_ = false;
}

}  // namespace bitsmith
