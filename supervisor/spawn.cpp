#include "supervisor/spawn.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <boost/process/args.hpp>
#include <boost/process/env.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>

namespace sluice::supervisor {

boost::process::child spawn_child(const std::string& exe, const std::vector<std::string>& args,
                                  const boost::process::environment& env) {
  namespace bp = boost::process;
  const pid_t parent = getpid();
  return bp::child(bp::exe = exe, bp::args = args, bp::env = env, bp::extend::on_exec_setup([parent](auto&) {
                     // Only async-signal-safe calls here: we are between fork and exec.
                     sigset_t none;
                     sigemptyset(&none);
                     sigprocmask(SIG_SETMASK, &none, nullptr);
                     prctl(PR_SET_PDEATHSIG, SIGKILL);
                     if (getppid() != parent) _exit(70);
                   }));
}

}  // namespace sluice::supervisor
