// kubectl-schemaop, the kubectl plugin (controller/cmd/kubectl_plugin.cpp).
#pragma once

namespace schemaop::cmd {

// Parses the plugin's arguments and runs one command; the exit code.
int RunKubectlPlugin(int argc, char** argv);

}  // namespace schemaop::cmd
