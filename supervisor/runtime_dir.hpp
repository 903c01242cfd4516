// The runtime directory (lock, admin address, admin token) and the files in it, made
// and read so that another local user cannot plant or redirect them: the directory
// must belong to us and be writable by nobody else, and no file in it is followed
// through a symlink.
#pragma once

#include <optional>
#include <string>

namespace sluice::supervisor {

// Daemon side: creates `dir` (0700) if missing and checks it is a real directory owned
// by this user and not writable by group or others. Throws with what to do otherwise.
void prepare_runtime_dir(const std::string& dir);

// Client side (`sluice status`, `reload`): whether `dir` can be trusted to hold the
// daemon's files: not writable by group or others, owned by us or root (any owner when
// we are root: only root can make entries in /run). Empty when it can, else why not.
std::string untrusted_runtime_dir(const std::string& dir);

// Writes `content` to dir/name with `mode`, replacing a previous file but never
// following a symlink there. Throws with a message.
void write_runtime_file(const std::string& dir, const std::string& name, const std::string& content, unsigned mode);

// Reads a regular file without following a symlink; nullopt when absent or unreadable
// (why in `error`, if given).
std::optional<std::string> read_file_nofollow(const std::string& path, std::string* error = nullptr);

}  // namespace sluice::supervisor
