// Code streams. b-bit codes (1 <= b <= 8) are packed LSB-first into one contiguous bit
// stream, rows back to back: code i occupies bits [i*b, (i+1)*b) of the stream, bit k of
// the stream being bit (k % 8) of byte k / 8. The last byte is zero-padded. Ternary codes
// (trits 0, 1, 2 for -1, 0, +1) are packed 5 per byte in base 3, first trit least
// significant: byte = t0 + 3 t1 + 9 t2 + 27 t3 + 81 t4 (the last byte padded with 0 trits).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/cpu.h"

namespace bitsmith {

// A byte vector whose resize() leaves new bytes uninitialised: every byte of a stored
// stream is written exactly once, so zero-filling 10s of MB first would be wasted time.
template <class T>
struct DefaultInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() = default;
  template <class U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
using Bytes = std::vector<uint8_t, DefaultInitAllocator<uint8_t>>;

// Bytes a stream of n b-bit codes takes.
inline int64_t packedBytes(int64_t n, int bits) {
  return (n * bits + 7) / 8;
}
inline int64_t tritBytes(int64_t n) {
  return (n + 4) / 5;
}

// Appends codes to a stream that starts at a byte boundary. Not thread-safe; parallel
// writers each own a byte-aligned range of the stream.
class BitWriter {
 public:
  BitWriter(uint8_t* out, int bits) : out_(out), bits_(bits) {}
  void push(uint32_t code) {
    acc_ |= uint64_t(code) << nacc_;
    nacc_ += bits_;
    while (nacc_ >= 8) {
      *out_++ = uint8_t(acc_);
      acc_ >>= 8;
      nacc_ -= 8;
    }
  }
  // Appends n codes (each < 2^bits). Fast paths when the stream is byte aligned: 8 codes
  // make exactly `bits` bytes; 4-bit codes use AVX2 when available.
  void pushMany(const uint8_t* codes, int64_t n);
  // Writes the final partial byte (zero padded). Call once at the end of the range.
  void flush() {
    if (nacc_ > 0) *out_++ = uint8_t(acc_);
    acc_ = 0;
    nacc_ = 0;
  }
  uint8_t* position() const { return out_; }
  // With the stream byte aligned (pendingBits() == 0), callers may write whole bytes at
  // position() themselves and then skip them.
  void skipBytes(int64_t n) { out_ += n; }
  int pendingBits() const { return nacc_; }

 private:
#if BITSMITH_X86
  static int64_t packPext(const uint8_t* c, int64_t n, int b, uint8_t*& out);
#endif
  uint8_t* out_;
  int bits_;
  uint64_t acc_ = 0;
  int nacc_ = 0;
};

// Reads codes back (tests, tools).
uint32_t readCode(const uint8_t* stream, int64_t index, int bits);

class TritWriter {
 public:
  explicit TritWriter(uint8_t* out) : out_(out) {}
  void push(uint32_t trit) {
    acc_ += trit * kPow3[n_];
    if (++n_ == 5) {
      *out_++ = uint8_t(acc_);
      acc_ = 0;
      n_ = 0;
    }
  }
  void pushMany(const uint8_t* t, int64_t n) {
    int64_t i = 0;
    while (i < n && n_ != 0) push(t[i++]);
    for (; i + 5 <= n; i += 5)  // byte aligned: whole bytes
      *out_++ = uint8_t(t[i] + 3 * t[i + 1] + 9 * t[i + 2] + 27 * t[i + 3] + 81 * t[i + 4]);
    while (i < n) push(t[i++]);
  }
  void flush() {
    if (n_ > 0) *out_++ = uint8_t(acc_);
    acc_ = 0;
    n_ = 0;
  }

 private:
  static constexpr uint32_t kPow3[5] = {1, 3, 9, 27, 81};
  uint8_t* out_;
  uint32_t acc_ = 0;
  int n_ = 0;
};
uint32_t readTrit(const uint8_t* stream, int64_t index);

}  // namespace bitsmith
