// A small JSON value, parser and writer for the model headers (safetensors, sharded
// index, config.json), the output header and the runner's events. The parser is written
// for hostile input: bounded nesting, strict grammar, UTF-8 checked, no recursion on
// unbounded depth, positions in error messages.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace bitsmith {
namespace json {

struct Value {
  enum Kind { Null, Bool, Number, String, Array, Object };
  Kind kind = Null;
  bool boolean = false;
  double number = 0;
  // For numbers written as an integer literal that fits int64: isInt and integer are set.
  bool isInt = false;
  int64_t integer = 0;
  std::string string;
  std::vector<Value> items;                            // Array
  std::vector<std::pair<std::string, Value>> members;  // Object, in document order

  Value() = default;
  static Value null() { return Value(); }
  static Value of(bool b) {
    Value v;
    v.kind = Bool;
    v.boolean = b;
    return v;
  }
  static Value of(double d) {
    Value v;
    v.kind = Number;
    v.number = d;
    return v;
  }
  static Value of(int64_t i) {
    Value v;
    v.kind = Number;
    v.number = double(i);
    v.isInt = true;
    v.integer = i;
    return v;
  }
  static Value of(int i) { return of(int64_t(i)); }
  static Value of(const std::string& s) {
    Value v;
    v.kind = String;
    v.string = s;
    return v;
  }
  static Value of(const char* s) { return of(std::string(s)); }
  static Value array() {
    Value v;
    v.kind = Array;
    return v;
  }
  static Value object() {
    Value v;
    v.kind = Object;
    return v;
  }

  bool isObject() const { return kind == Object; }
  bool isArray() const { return kind == Array; }
  bool isString() const { return kind == String; }
  bool isNumber() const { return kind == Number; }
  /** First member with this key, or nullptr. */
  const Value* get(const std::string& key) const;
  /** Appends (objects keep insertion order; set() does not check for duplicates). */
  Value& set(const std::string& key, Value v) {
    members.emplace_back(key, std::move(v));
    return *this;
  }
  Value& push(Value v) {
    items.push_back(std::move(v));
    return *this;
  }
};

struct ParseLimits {
  int maxDepth = 64;
  // Values (of any kind) in the document. A Value takes ~110 bytes (150 as an object
  // member), so a 100 MB header of `[0,0,...]` would otherwise need ~6 GB. 2M values is
  // the header of ~300k tensors (each is 7 values); the largest models have ~100k.
  size_t maxValues = size_t(1) << 21;
};

struct ParseError {
  std::string message;    // what went wrong and the byte position
  size_t offset = 0;      // the byte where parsing stopped
  bool tooLarge = false;  // maxValues was reached
  // Set when the failure is a string that is not valid Unicode (invalid UTF-8, or a \u
  // escape of an unpaired surrogate): where it starts (the opening quote), and, when it is
  // an object key, the nesting level of that object (1: the top-level object).
  bool badString = false;
  size_t stringStart = 0;
  int keyDepth = 0;
  // When the top-level value is an object and the failure is inside one of its members'
  // values: that member's key (a safetensors tensor name, say).
  bool inMember = false;
  std::string member;
};

/** Parses `text`; on failure returns false with the error (never throws on bad input). */
bool parse(const char* text, size_t length, Value& out, ParseError& error,
           const ParseLimits& limits = ParseLimits());
/** As above, with only the message (naming the byte position). */
bool parse(const char* text, size_t length, Value& out, std::string& error, int maxDepth = 64);

/** The JSON string starting at text[quote] (its opening quote) as written, for messages:
 *  at most `limit` bytes, invalid UTF-8 bytes shown as \xNN, escapes left as they are. */
std::string quotedForMessage(const char* text, size_t length, size_t quote, size_t limit = 120);

/** Compact JSON. Non-finite numbers are written as null. */
std::string stringify(const Value& v);
void appendString(std::string& out, const std::string& s);
void appendNumber(std::string& out, double d);

/** True when `s` is well-formed UTF-8 (no overlongs, no surrogates). */
bool validUtf8(const char* s, size_t n);
/** The length of the longest well-formed UTF-8 prefix of s[0, n) (n when all of it is). */
size_t validUtf8Prefix(const char* s, size_t n);

}  // namespace json
}  // namespace bitsmith
