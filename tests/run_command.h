// Runs a tool binary (verify, bench) as a user would and captures what it prints.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace qb::test {

struct Command {
  int status = -1;
  std::string output;  // stdout and stderr
};

inline Command run_command(const std::string& cmd) {
  Command c;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return c;
  char buf[4096];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) c.output.append(buf, n);
  const int st = pclose(p);
  c.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return c;
}

}  // namespace qb::test
