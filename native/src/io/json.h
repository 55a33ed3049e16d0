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

/** Parses `text`; on failure returns false with a message naming the byte position. */
bool parse(const char* text, size_t length, Value& out, std::string& error, int maxDepth = 64);

/** Compact JSON. Non-finite numbers are written as null. */
std::string stringify(const Value& v);
void appendString(std::string& out, const std::string& s);
void appendNumber(std::string& out, double d);

/** True when `s` is well-formed UTF-8 (no overlongs, no surrogates). */
bool validUtf8(const char* s, size_t n);

}  // namespace json
}  // namespace bitsmith
