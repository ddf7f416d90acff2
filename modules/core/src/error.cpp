#include "rewardpath/core/error.hpp"

namespace rewardpath {

Error::Error(std::string message) : layers_{std::move(message)} { rebuild(); }

Error& Error::context(std::string outer) & {
  layers_.push_back(std::move(outer));
  rebuild();
  return *this;
}

Error&& Error::context(std::string outer) && {
  layers_.push_back(std::move(outer));
  rebuild();
  return std::move(*this);
}

void Error::rebuild() {
  full_.clear();
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
    if (!full_.empty()) full_ += ": ";
    full_ += *it;
  }
}

} // namespace rewardpath
