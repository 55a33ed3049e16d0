// Errors of the model readers, the writer and the runner: a stable code (the same codes
// as core/src/models/types.ts ModelErrorCode, plus run/* codes), a message that names the
// file and, when there is one, the tensor. N-API turns these into Error objects with
// `code` (and `tensor`) properties.
#pragma once
#include <stdexcept>
#include <string>

namespace bitsmith {

class ModelError : public std::runtime_error {
 public:
  ModelError(std::string code, const std::string& message, std::string tensor = std::string())
      : std::runtime_error(message), code_(std::move(code)), tensor_(std::move(tensor)) {}
  const std::string& code() const { return code_; }
  const std::string& tensor() const { return tensor_; }

 private:
  std::string code_;
  std::string tensor_;
};

}  // namespace bitsmith
