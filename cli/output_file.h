// Writing a command's output file (`compile -o`, `synth -o`, `profile -o`) without ever clobbering
// something else:
// - a regular file (or a missing one) is replaced atomically: the bytes go to a new file created
//   exclusively (O_CREAT|O_EXCL|O_NOFOLLOW, a unique name in the target's directory, so a symlink
//   planted at a predictable name is never followed), are fsync'ed, then renamed over the target (which
//   keeps its permission bits). A failed write leaves the old file as it was;
// - a symlink is resolved and its final target replaced as above (the link stays a link);
// - a character device or FIFO (-o /dev/null, /dev/stdout, a pipe) is written in place, never replaced:
//   replacing /dev/null with a regular file is what the old OUT.tmp + rename did, and writing through
//   is what a user naming a device means; its write errors (/dev/full) are reported;
// - anything else (a directory, a block device, a socket) is an error.
// Errors are fx::Error: "cannot write 'OUT': <reason>".
#pragma once

#include <cstddef>
#include <string>

namespace fx::cli {

void write_output_file(const std::string& path, const void* data, size_t size);

}  // namespace fx::cli
