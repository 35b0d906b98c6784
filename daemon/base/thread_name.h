// Names the calling thread, so that `top -H`, `ps -L`, perf, gdb and
// /proc/<pid>/task/<tid>/comm tell the daemon's threads apart (without it
// every thread is "keywarden"). Linux keeps at most 15 bytes of a name; a
// longer one is cut there. Naming is best effort: a failure changes nothing
// else.
#pragma once

#include <string>
#include <string_view>

namespace keywarden {

void name_this_thread(std::string_view name);

// The calling thread's name, as the kernel keeps it ("" if it cannot be read).
std::string this_thread_name();

}  // namespace keywarden
