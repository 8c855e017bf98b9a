// The real FileSystem: POSIX calls, with every error mapped to a Status naming the path.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "chorus/base/file_system.h"

namespace chorus {
namespace {

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { ::close(fd_); }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  Result<size_t> read_at(uint64_t offset, std::span<std::byte> out) const override {
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n =
          ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, "pread " + path_);
      }
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    return done;
  }

  Status write_at(uint64_t offset, ByteSpan data) override {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n =
          ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, "pwrite " + path_);
      }
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  Status sync() override {
    // Never retried: after a failed fdatasync the kernel may have dropped the dirty pages, so a
    // retry could "succeed" without the data (the PostgreSQL fsyncgate lesson). Callers stop.
    if (::fdatasync(fd_) != 0) return Status::FromErrno(errno, "fdatasync " + path_);
    return Status::Ok();
  }

  Status truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return Status::FromErrno(errno, "ftruncate " + path_);
    }
    return Status::Ok();
  }

  Result<uint64_t> size() const override {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return Status::FromErrno(errno, "fstat " + path_);
    return static_cast<uint64_t>(st.st_size);
  }

  Status preallocate(uint64_t size) override {
    CHORUS_ASSIGN_OR_RETURN(uint64_t have, this->size());
    if (have >= size) return Status::Ok();
    // Reserve the blocks first so ENOSPC shows up here, not in the middle of an append.
    int rc = ::posix_fallocate(fd_, static_cast<off_t>(have), static_cast<off_t>(size - have));
    if (rc != 0) return Status::FromErrno(rc, "fallocate " + path_);
    // Then write real zeros: fallocate leaves "unwritten" extents whose conversion on first
    // write turns every later fdatasync into a metadata flush.
    static const std::vector<std::byte> kZeros(1 << 20);
    for (uint64_t at = have; at < size;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(kZeros.size(), size - at));
      CHORUS_TRY(write_at(at, ByteSpan(kZeros.data(), n)));
      at += n;
    }
    return Status::Ok();
  }

  const std::string& path() const override { return path_; }

 private:
  int fd_;
  std::string path_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
  PosixFileLock(const PosixFileLock&) = delete;
  PosixFileLock& operator=(const PosixFileLock&) = delete;

 private:
  int fd_;
};

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override {
    int flags = O_CLOEXEC;
    switch (mode) {
      case OpenMode::kReadOnly:
        flags |= O_RDONLY;
        break;
      case OpenMode::kReadWrite:
        flags |= O_RDWR;
        break;
      case OpenMode::kCreate:
        flags |= O_RDWR | O_CREAT;
        break;
      case OpenMode::kCreateNew:
        flags |= O_RDWR | O_CREAT | O_EXCL;
        break;
    }
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return Status::FromErrno(errno, "open " + path);
    return std::unique_ptr<File>(std::make_unique<PosixFile>(fd, path));
  }

  Result<bool> exists(const std::string& path) override {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT) return false;
    return Status::FromErrno(errno, "stat " + path);
  }

  Result<std::vector<std::string>> list_dir(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return Status::FromErrno(errno, "opendir " + dir);
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    int err = errno;
    ::closedir(d);
    if (err != 0) return Status::FromErrno(err, "readdir " + dir);
    std::sort(names.begin(), names.end());
    return names;
  }

  Status create_dir(const std::string& dir) override {
    if (::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST) return Status::Ok();
    return Status::FromErrno(errno, "mkdir " + dir);
  }

  Status remove_file(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Status::FromErrno(errno, "unlink " + path);
    return Status::Ok();
  }

  Status remove_dir(const std::string& dir) override {
    if (::rmdir(dir.c_str()) != 0) return Status::FromErrno(errno, "rmdir " + dir);
    return Status::Ok();
  }

  Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return Status::FromErrno(errno, "rename " + from + " -> " + to);
    }
    return Status::Ok();
  }

  Status sync_dir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "open dir " + dir);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return Status::FromErrno(err, "fsync dir " + dir);
    return Status::Ok();
  }

  Result<std::unique_ptr<FileLock>> lock_file(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno(errno, "open lock " + path);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) return Status::Busy("lock " + path + " is held by another writer");
      return Status::FromErrno(err, "flock " + path);
    }
    return std::unique_ptr<FileLock>(std::make_unique<PosixFileLock>(fd));
  }
};

}  // namespace

FileSystem& FileSystem::posix() {
  static PosixFileSystem fs;
  return fs;
}

std::string join_path(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (!out.empty() && out.back() != '/') out.push_back('/');
  out.append(name);
  return out;
}

std::string parent_dir(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

Status write_file_atomically(FileSystem& fs, const std::string& path, ByteSpan data) {
  std::string tmp = path + ".tmp";
  {
    CHORUS_ASSIGN_OR_RETURN(auto f, fs.open(tmp, OpenMode::kCreate));
    CHORUS_TRY(f->truncate(0));
    CHORUS_TRY(f->write_at(0, data));
    CHORUS_TRY(f->sync());
  }
  CHORUS_TRY(fs.rename(tmp, path));
  return fs.sync_dir(parent_dir(path));
}

Result<Bytes> read_whole_file(FileSystem& fs, const std::string& path) {
  CHORUS_ASSIGN_OR_RETURN(auto f, fs.open(path, OpenMode::kReadOnly));
  CHORUS_ASSIGN_OR_RETURN(uint64_t size, f->size());
  Bytes out(size);
  CHORUS_ASSIGN_OR_RETURN(size_t got, f->read_at(0, out));
  if (got != size) return Status::IoError(path + ": short read");
  return out;
}

Status create_dirs(FileSystem& fs, const std::string& dir) {
  CHORUS_ASSIGN_OR_RETURN(bool present, fs.exists(dir));
  if (present) return Status::Ok();
  std::string parent = parent_dir(dir);
  if (parent != dir) CHORUS_TRY(create_dirs(fs, parent));
  CHORUS_TRY(fs.create_dir(dir));
  return fs.sync_dir(parent);
}

}  // namespace chorus
