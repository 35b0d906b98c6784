// The state directory and the database files are private to the daemon's
// user: keywarden.db holds every identity, group and journaled action.
// Outside systemd (which creates STATE_DIR itself, StateDirectoryMode=0700)
// nothing else would make them so: mkdir and SQLite both follow the umask,
// 0755 and 0644 under the usual 022.
#pragma once

#include <filesystem>

namespace keywarden {

// Creates `dir` with mode 0700 whatever the umask, and its missing parents
// as mkdir -p would. A `dir` that already exists is left as it is (it may be
// a folder an operator chose and set up); one that is not a directory is an
// error. Throws StoreError.
void create_state_dir(const std::filesystem::path& dir);

// Creates `db_file` with mode 0600 when it does not exist, and takes the
// group and other bits off it and off its -wal, -shm and -journal files when
// they exist and are ours. SQLite then creates -wal and -shm with the
// database's own mode, so they are 0600 too. Store::open calls it before
// SQLite opens the file. Throws StoreError when the file cannot be created.
void make_database_files_private(const std::filesystem::path& db_file);

}  // namespace keywarden
