#pragma once
// One exception type for the whole project. Errors gain context as they travel up:
//   throw Error("RepetitionTime must be > 0, got -2").context("sub-01_task-mid_bold.json");
// what() reads outermost context first: "sub-01_task-mid_bold.json: RepetitionTime must be ...".
#include <string>
#include <utility>
#include <vector>
#include <exception>

namespace rewardpath {

class Error : public std::exception {
public:
  explicit Error(std::string message);

  // Adds an outer layer of context (a file, a subject, a stage) and returns *this for rethrow.
  Error& context(std::string outer) &;
  Error&& context(std::string outer) &&;

  const char* what() const noexcept override { return full_.c_str(); }
  // The innermost message, without context.
  const std::string& message() const { return layers_.front(); }
  // Context layers, innermost first (layers()[0] is the message itself).
  const std::vector<std::string>& layers() const { return layers_; }

private:
  void rebuild();
  std::vector<std::string> layers_;
  std::string full_;
};

// Runs f(); any Error (or std::exception) leaving it gains `outer` as context.
template <class F> decltype(auto) with_context(const std::string& outer, F&& f) {
  try {
    return std::forward<F>(f)();
  } catch (Error& e) {
    e.context(outer);
    throw;
  } catch (const std::bad_alloc&) {
    throw Error("out of memory").context(outer);
  } catch (const std::exception& e) {
    throw Error(e.what()).context(outer);
  }
}

} // namespace rewardpath
