// kubectl-schemaop: `kubectl schemaop ...` (kubectl runs an executable of
// that name found on PATH). Built from the same code as `schemaop`.
#include <csignal>

#include "cmd/kubectl_plugin.h"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  return schemaop::cmd::RunKubectlPlugin(argc, argv);
}
