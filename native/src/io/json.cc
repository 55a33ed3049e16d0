#include "io/json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace bitsmith {
namespace json {

const Value* Value::get(const std::string& key) const {
  if (kind != Object) return nullptr;
  for (const auto& m : members)
    if (m.first == key) return &m.second;
  return nullptr;
}

size_t validUtf8Prefix(const char* str, size_t n) {
  const auto* s = reinterpret_cast<const unsigned char*>(str);
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else
      return i;
    if (len > n - i) return i;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return i;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return n;
}

bool validUtf8(const char* s, size_t n) {
  return validUtf8Prefix(s, n) == n;
}

std::string quotedForMessage(const char* text, size_t length, size_t quote, size_t limit) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  size_t i = quote + 1;
  while (i < length && out.size() < limit) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"') break;
    if (c == '\\' && i + 1 < length) {  // an escape, as written (\" does not end the string)
      out.push_back('\\');
      out.push_back(text[i + 1]);
      i += 2;
      continue;
    }
    const size_t ok = c < 0x80 ? 1 : validUtf8Prefix(text + i, std::min<size_t>(4, length - i));
    if (c >= 0x20 && c < 0x80) {
      out.push_back(char(c));
      i++;
    } else if (c >= 0x80 && ok > 0) {
      // A whole valid sequence: its length from the lead byte.
      const size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
      out.append(text + i, len);
      i += len;
    } else {
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
      i++;
    }
  }
  if (i < length && text[i] == '"')
    out.push_back('"');
  else
    out += "...";
  return out;
}

namespace {

// For a number literal from_chars found out of range: true if it is too large (the
// decimal exponent of its first significant digit is positive), false if too small.
bool overflows(const char* a, const char* b) {
  if (a < b && *a == '-') a++;
  bool seen = false, point = false;
  int64_t intDigits = 0, zerosAfterPoint = 0;
  const char* p = a;
  for (; p < b && *p != 'e' && *p != 'E'; p++) {
    if (*p == '.') {
      point = true;
      continue;
    }
    if (!seen && *p == '0') {
      if (point) zerosAfterPoint++;
      continue;
    }
    seen = true;
    if (!point) intDigits++;
  }
  // The decimal exponent of the first non-zero digit, before `e`.
  const int64_t lead = intDigits > 0 ? intDigits - 1 : -(zerosAfterPoint + 1);
  int64_t exp = 0;
  if (p < b) {
    p++;
    bool neg = false;
    if (p < b && (*p == '+' || *p == '-')) neg = *p++ == '-';
    for (; p < b; p++) exp = std::min<int64_t>(exp * 10 + (*p - '0'), int64_t(1) << 40);
    if (neg) exp = -exp;
  }
  return lead + exp > 0;
}

struct Parser {
  const char* s;
  size_t n;
  size_t i = 0;
  ParseLimits limits;
  size_t values = 0;
  ParseError error;
  bool failed = false;

  std::string member;  // the top-level member being parsed, if any
  bool inMember = false;

  bool fail(const std::string& what) {
    if (!failed) {
      failed = true;
      error.inMember = inMember;
      if (inMember) error.member = member;
      char buf[64];
      std::snprintf(buf, sizeof buf, " at byte %zu", i);
      error.message = what + buf;
      error.offset = i;
    }
    return false;
  }
  // A string (opening quote at `quote`) that is not valid Unicode; `at` is the bad byte.
  bool badString(const std::string& what, size_t quote, size_t at, int keyDepth) {
    if (!failed) {
      i = at;
      fail(what);
      error.badString = true;
      error.stringStart = quote;
      error.keyDepth = keyDepth;
    }
    return false;
  }
  void ws() {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
  }
  bool literal(const char* word) {
    size_t len = std::strlen(word);
    if (n - i < len || std::memcmp(s + i, word, len) != 0) return fail("unexpected character");
    i += len;
    return true;
  }
  static void appendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80)
      out.push_back(char(cp));
    else if (cp < 0x800) {
      out.push_back(char(0xC0 | (cp >> 6)));
      out.push_back(char(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(char(0xE0 | (cp >> 12)));
      out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(char(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(char(0xF0 | (cp >> 18)));
      out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(char(0x80 | (cp & 0x3F)));
    }
  }
  bool hex4(uint32_t& v) {
    if (n - i < 4) return fail("truncated \\u escape");
    v = 0;
    for (int k = 0; k < 4; k++) {
      char c = s[i + k];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= uint32_t(c - 'A' + 10);
      else
        return fail("bad \\u escape");
    }
    i += 4;
    return true;
  }
  // Checks the raw bytes [from, i) of the string opened at `quote` for UTF-8.
  bool utf8(size_t quote, size_t from, int keyDepth) {
    const size_t ok = validUtf8Prefix(s + from, i - from);
    if (ok == i - from) return true;
    return badString("string is not valid UTF-8", quote, from + ok, keyDepth);
  }
  // keyDepth: the nesting level of the object whose key this is (0: not a key).
  bool str(std::string& out, int keyDepth) {
    // s[i] == '"'
    const size_t quote = i;
    i++;
    size_t start = i;
    bool high = false;
    for (;;) {
      if (i >= n) return fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (c == '"') {
        if (high && !utf8(quote, start, keyDepth)) return false;
        out.append(s + start, i - start);
        i++;
        return true;
      }
      if (c < 0x20) return fail("control character in string");
      if (c == '\\') break;
      high |= c >= 0x80;
      i++;
    }
    if (high && !utf8(quote, start, keyDepth)) return false;
    out.append(s + start, i - start);
    while (i < n) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (c == '"') {
        i++;
        return true;
      }
      if (c < 0x20) return fail("control character in string");
      if (c != '\\') {
        // A run of plain bytes, checked for UTF-8 as a whole.
        const size_t from = i;
        bool runHigh = false;
        while (i < n && s[i] != '"' && s[i] != '\\' && static_cast<unsigned char>(s[i]) >= 0x20) {
          runHigh |= static_cast<unsigned char>(s[i]) >= 0x80;
          i++;
        }
        if (runHigh && !utf8(quote, from, keyDepth)) return false;
        out.append(s + from, i - from);
        continue;
      }
      const size_t escape = i;
      if (++i >= n) break;
      char e = s[i++];
      switch (e) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          uint32_t cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo;
            if (n - i < 6 || s[i] != '\\' || s[i + 1] != 'u')
              return badString("unpaired surrogate escape (not valid Unicode)", quote, escape,
                               keyDepth);
            i += 2;
            if (!hex4(lo)) return false;
            if (lo < 0xDC00 || lo > 0xDFFF)
              return badString("unpaired surrogate escape (not valid Unicode)", quote, escape,
                               keyDepth);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return badString("unpaired surrogate escape (not valid Unicode)", quote, escape,
                             keyDepth);
          }
          appendUtf8(out, cp);
          break;
        }
        default:
          return fail("bad escape");
      }
    }
    return fail("unterminated string");
  }
  bool number(Value& v) {
    size_t start = i;
    if (i < n && s[i] == '-') i++;
    if (i >= n) return fail("bad number");
    if (s[i] == '0')
      i++;
    else if (s[i] >= '1' && s[i] <= '9')
      while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    else
      return fail("unexpected character");
    bool integral = true;
    if (i < n && s[i] == '.') {
      integral = false;
      i++;
      if (i >= n || !(s[i] >= '0' && s[i] <= '9')) return fail("bad number");
      while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
      integral = false;
      i++;
      if (i < n && (s[i] == '+' || s[i] == '-')) i++;
      if (i >= n || !(s[i] >= '0' && s[i] <= '9')) return fail("bad number");
      while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    }
    v.kind = Value::Number;
    if (integral) {
      int64_t x;
      auto r = std::from_chars(s + start, s + i, x);
      if (r.ec == std::errc() && r.ptr == s + i) {
        v.isInt = true;
        v.integer = x;
        v.number = double(x);
        return true;
      }
    }
    double d = 0;
    auto r = std::from_chars(s + start, s + i, d);
    if (r.ec == std::errc::result_out_of_range) {
      d = overflows(s + start, s + i) ? HUGE_VAL : 0.0;  // else it underflows to zero
      if (s[start] == '-') d = -d;
    } else if (r.ec != std::errc()) {
      return fail("bad number");
    }
    v.number = d;
    return true;
  }
  bool value(Value& v, int depth) {
    if (++values > limits.maxValues) {
      fail("more than " + std::to_string(limits.maxValues) + " values");
      error.tooLarge = true;
      return false;
    }
    ws();
    if (i >= n) return fail("unexpected end of input");
    char c = s[i];
    if (c == '{' || c == '[') {
      if (depth >= limits.maxDepth) return fail("nesting too deep");
      i++;
      bool obj = c == '{';
      v.kind = obj ? Value::Object : Value::Array;
      ws();
      if (i < n && s[i] == (obj ? '}' : ']')) {
        i++;
        return true;
      }
      for (;;) {
        if (obj) {
          ws();
          if (i >= n || s[i] != '"') return fail("expected a string key");
          std::string key;
          if (!str(key, depth + 1)) return false;
          ws();
          if (i >= n || s[i] != ':') return fail("expected ':'");
          i++;
          if (depth == 0) {
            member = key;
            inMember = true;
          }
          v.members.emplace_back(std::move(key), Value());
          if (!value(v.members.back().second, depth + 1)) return false;
          inMember = false;
        } else {
          v.items.emplace_back();
          if (!value(v.items.back(), depth + 1)) return false;
        }
        ws();
        if (i >= n) return fail("unexpected end of input");
        if (s[i] == ',') {
          i++;
          continue;
        }
        if (s[i] == (obj ? '}' : ']')) {
          i++;
          return true;
        }
        return fail(obj ? "expected ',' or '}'" : "expected ',' or ']'");
      }
    }
    if (c == '"') {
      v.kind = Value::String;
      return str(v.string, 0);
    }
    if (c == 't') {
      v.kind = Value::Bool;
      v.boolean = true;
      return literal("true");
    }
    if (c == 'f') {
      v.kind = Value::Bool;
      v.boolean = false;
      return literal("false");
    }
    if (c == 'n') {
      v.kind = Value::Null;
      return literal("null");
    }
    return number(v);
  }
};

}  // namespace

bool parse(const char* text, size_t length, Value& out, ParseError& error,
           const ParseLimits& limits) {
  Parser p{text, length, 0, limits, 0, {}, false, {}, false};
  out = Value();
  if (!p.value(out, 0)) {
    error = std::move(p.error);
    out = Value();
    return false;
  }
  p.ws();
  if (p.i != length) {
    p.fail("unexpected data after the JSON value");
    error = std::move(p.error);
    out = Value();
    return false;
  }
  return true;
}

bool parse(const char* text, size_t length, Value& out, std::string& error, int maxDepth) {
  ParseError e;
  ParseLimits limits;
  limits.maxDepth = maxDepth;
  if (parse(text, length, out, e, limits)) return true;
  error = e.message;
  return false;
}

void appendString(std::string& out, const std::string& s) {
  static const char* hex = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 15]);
        } else {
          out.push_back(char(c));
        }
    }
  }
  out.push_back('"');
}

void appendNumber(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  char buf[40];
  if (d == std::floor(d) && std::fabs(d) < 9007199254740992.0) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(d));
  } else {
    auto r = std::to_chars(buf, buf + sizeof buf, d);
    *r.ptr = 0;
  }
  out += buf;
}

static void write(std::string& out, const Value& v) {
  switch (v.kind) {
    case Value::Null:
      out += "null";
      break;
    case Value::Bool:
      out += v.boolean ? "true" : "false";
      break;
    case Value::Number:
      if (v.isInt)
        out += std::to_string(v.integer);
      else
        appendNumber(out, v.number);
      break;
    case Value::String:
      appendString(out, v.string);
      break;
    case Value::Array: {
      out.push_back('[');
      bool first = true;
      for (const auto& x : v.items) {
        if (!first) out.push_back(',');
        first = false;
        write(out, x);
      }
      out.push_back(']');
      break;
    }
    case Value::Object: {
      out.push_back('{');
      bool first = true;
      for (const auto& m : v.members) {
        if (!first) out.push_back(',');
        first = false;
        appendString(out, m.first);
        out.push_back(':');
        write(out, m.second);
      }
      out.push_back('}');
      break;
    }
  }
}

std::string stringify(const Value& v) {
  std::string out;
  write(out, v);
  return out;
}

}  // namespace json
}  // namespace bitsmith
