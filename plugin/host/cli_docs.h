// Documentation generated from the `kam` command line itself, so it never drifts from the verbs
// and options: the man page kam(1) in roff and a bash completion script. The Debian package
// installs both; `kam man` and `kam completion bash` print them.
#ifndef KAM_HOST_CLI_DOCS_H_
#define KAM_HOST_CLI_DOCS_H_

#include <string>

namespace CLI {
class App;
}

namespace kam::host {

// kam(1) in man(7) roff: synopsis, every verb (nested) with its options and footer (e.g. the
// exit status of `kam doctor`), global options, exit
// status, environment and files. `date` is the page's date (YYYY-MM-DD).
std::string ManPage(const CLI::App& app, const std::string& version, const std::string& date);

// A bash completion script defining `_kam` and registering it for `kam`: verbs by position,
// then the options of the verb being typed and the global options; file names for values.
std::string BashCompletion(const CLI::App& app);

}  // namespace kam::host

#endif  // KAM_HOST_CLI_DOCS_H_
