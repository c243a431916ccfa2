// digestgate: the client CLI of digestgated.
#include "cli/commands.hpp"

#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  return dg::cli::run(args, std::cin, std::cout, std::cerr);
}
