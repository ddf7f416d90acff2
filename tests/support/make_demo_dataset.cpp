// Writes the small demo BIDS dataset (see demo_dataset.hpp): make_demo_dataset OUT_DIR [SUBJECTS]
#include <cstdlib>
#include <iostream>

#include "demo_dataset.hpp"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: make_demo_dataset OUT_DIR [SUBJECTS]\n";
    return 2;
  }
  try {
    rewardpath::testdata::DemoOptions o;
    if (argc == 3) o.subjects = std::atoi(argv[2]);
    rewardpath::testdata::write_demo_dataset(argv[1], o);
  } catch (const std::exception& e) {
    std::cerr << "make_demo_dataset: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
