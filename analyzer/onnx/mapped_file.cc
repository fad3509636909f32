#include "analyzer/onnx/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace joulecast {

MappedFile::~MappedFile() {
  if (data_ != nullptr) munmap(data_, size_);
}

Status MappedFile::Open(const std::string& path) {
  if (data_ != nullptr) return Status::Error(path + ": already mapped");
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Error(path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    Status s = Status::Error(path + ": cannot stat: " + std::strerror(errno));
    close(fd);
    return s;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return Status::Error(path + ": not a regular file");
  }
  if (st.st_size == 0) {
    close(fd);
    return Status::Error(path + ": empty file, not an ONNX model");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  close(fd);
  if (p == MAP_FAILED) return Status::Error(path + ": cannot map: " + std::strerror(map_errno));
  data_ = p;
  size_ = size;
  // Weights are skipped, not read: no read-ahead, only the pages touched are faulted in.
  madvise(data_, size_, MADV_RANDOM);
  return Status();
}

}  // namespace joulecast
