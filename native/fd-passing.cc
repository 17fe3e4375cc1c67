// Passing file descriptors between processes over AF_UNIX stream sockets (SCM_RIGHTS). Node's `net` cannot send
// arbitrary fds, so this is native. Every call is synchronous; the timeouts bound how long it blocks.
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "args.h"
#include "deadline.h"
#include "errors.h"
#include "exports.h"
#include "ownership.h"

namespace shmring {
namespace {

// Waits until fd is readable; false once the deadline passed. EINTR and slices retry with the time left.
bool WaitReadable(Napi::Env env, int fd, const Deadline& deadline) {
  for (;;) {
    struct pollfd pfd = {fd, POLLIN, 0};
    int rc = poll(&pfd, 1, deadline.leftPollMs());
    if (rc > 0) return true;  // readable, or POLLHUP/POLLERR: the next call reports it
    if (rc < 0 && errno != EINTR) ThrowErrno(env, errno, "poll");
    if (deadline.passed()) return false;
  }
}

// Fills a sockaddr_un; a path that does not fit is ENAMETOOLONG, as the kernel would say.
socklen_t UnixAddress(Napi::Env env, const std::string& path, const char* syscall, struct sockaddr_un* addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr->sun_path)) ThrowErrno(env, ENAMETOOLONG, syscall, path);
  std::memcpy(addr->sun_path, path.c_str(), path.size() + 1);
  return static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + path.size() + 1);
}

Napi::Value UnixListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0);
  int backlog = info[1].As<Napi::Number>().Int32Value();
  struct sockaddr_un addr;
  socklen_t addrLength = UnixAddress(env, path, "bind", &addr);
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) ThrowErrno(env, errno, "socket");
  if (bind(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), addrLength) != 0) ThrowErrno(env, errno, "bind", path);
  if (listen(fd.get(), backlog) != 0) ThrowErrno(env, errno, "listen", path);
  return Napi::Number::New(env, fd.release());
}

Napi::Value UnixAccept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int listenFd = FdArg(info, 0);
  if (!WaitReadable(env, listenFd, Deadline(DoubleArg(info, 1)))) ThrowErrno(env, ETIMEDOUT, "accept");
  int fd;
  do fd = accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) ThrowErrno(env, errno, "accept");
  return Napi::Number::New(env, fd);
}

// A blocking AF_UNIX connect only waits when the listener's backlog is full, and that wait honours SO_SNDTIMEO
// (it then fails with EAGAIN), so the timeout is a socket option rather than a non-blocking dance.
Napi::Value UnixConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0);
  Deadline deadline(DoubleArg(info, 1));
  struct sockaddr_un addr;
  socklen_t addrLength = UnixAddress(env, path, "connect", &addr);
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) ThrowErrno(env, errno, "socket");
  struct timeval tv = {0, 0};
  if (deadline.bounded()) {
    int64_t leftUs = deadline.leftNs() / 1000;
    tv.tv_sec = static_cast<time_t>(leftUs / 1000000);
    tv.tv_usec = static_cast<suseconds_t>(leftUs % 1000000);
    if (leftUs == 0) tv.tv_usec = 1;  // {0,0} would mean "forever"
  }
  if (setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) ThrowErrno(env, errno, "setsockopt");
  int rc;
  do rc = connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), addrLength);
  while (rc != 0 && errno == EINTR);
  if (rc != 0) ThrowErrno(env, errno == EAGAIN && deadline.bounded() ? ETIMEDOUT : errno, "connect", path);
  struct timeval forever = {0, 0};  // later sends block without a limit, as on any blocking socket
  if (setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &forever, sizeof(forever)) != 0) {
    ThrowErrno(env, errno, "setsockopt");
  }
  return Napi::Number::New(env, fd.release());
}

// sendFds(sock, data, fds): the fds travel with the first byte; the rest of data follows if the kernel split it.
void SendFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = FdArg(info, 0);
  Napi::Buffer<char> data = info[1].As<Napi::Buffer<char>>();
  Napi::Array fdArray = info[2].As<Napi::Array>();
  std::vector<int> fds(fdArray.Length());
  for (uint32_t i = 0; i < fds.size(); i++) fds[i] = fdArray.Get(i).As<Napi::Number>().Int32Value();

  // With no data byte to ride on, a stream socket would drop the fds silently.
  if (data.Length() == 0) ThrowRangeError(env, "data must not be empty: the fds travel with its first byte");
  std::vector<char> control(fds.empty() ? 0 : CMSG_SPACE(sizeof(int) * fds.size()), 0);
  const char* bytes = data.Data();
  size_t left = data.Length();
  bool first = true;
  while (first || left > 0) {
    struct iovec iov = {const_cast<char*>(bytes), left};
    struct msghdr msg;
    std::memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (first && !fds.empty()) {
      msg.msg_control = control.data();
      msg.msg_controllen = control.size();
      struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
    }
    ssize_t sent = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;  // nothing was sent: the fds go with the retry
      ThrowErrno(env, errno, "sendmsg");
    }
    first = false;
    bytes += sent;
    left -= static_cast<size_t>(sent);
  }
}

// recvFds(sock, maxData, maxFds, timeoutMs) -> { data, fds }. Received fds are close-on-exec. If the sender sent more
// fds than maxFds the kernel drops the extra ones (MSG_CTRUNC): close the ones that did arrive and throw, so a
// short control buffer can never leak descriptors.
Napi::Value RecvFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = FdArg(info, 0);
  size_t maxData = static_cast<size_t>(Int64Arg(info, 1));
  size_t maxFds = static_cast<size_t>(Int64Arg(info, 2));
  if (!WaitReadable(env, sock, Deadline(DoubleArg(info, 3)))) ThrowErrno(env, ETIMEDOUT, "recvmsg");

  std::vector<char> buffer(maxData > 0 ? maxData : 1);
  std::vector<char> control(maxFds > 0 ? CMSG_SPACE(sizeof(int) * maxFds) : 0);
  struct iovec iov = {buffer.data(), maxData};
  struct msghdr msg;
  std::memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.empty() ? nullptr : control.data();
  // CMSG_LEN, not CMSG_SPACE: the padding of CMSG_SPACE would let one more fd in than maxFds.
  msg.msg_controllen = maxFds > 0 ? CMSG_LEN(sizeof(int) * maxFds) : 0;
  ssize_t received;
  do received = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (received < 0 && errno == EINTR);
  if (received < 0) ThrowErrno(env, errno, "recvmsg");

  // Owned until the result holds them: any throw below (truncation, a failed allocation) closes every one.
  std::vector<UniqueFd> fds;
  for (struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
      fds.emplace_back(fd);
    }
  }
  if ((msg.msg_flags & MSG_CTRUNC) || fds.size() > maxFds) {
    ThrowCode(env, "ERR_SHMRING_FDS_TRUNCATED",
              "received more file descriptors than maxFds=" + std::to_string(maxFds) + " (MSG_CTRUNC); closed the " +
                  std::to_string(fds.size()) + " that arrived, the kernel dropped the rest");
  }

  Napi::Object out = Napi::Object::New(env);
  out.Set("data", Napi::Buffer<char>::Copy(env, buffer.data(), static_cast<size_t>(received)));
  Napi::Array fdArray = Napi::Array::New(env, fds.size());
  for (uint32_t i = 0; i < fds.size(); i++) fdArray.Set(i, Napi::Number::New(env, fds[i].get()));
  out.Set("fds", fdArray);
  for (UniqueFd& fd : fds) fd.release();  // the caller owns them now
  return out;
}

}  // namespace

void InitFdPassing(Napi::Env env, Napi::Object exports) {
  exports.Set("unixListen", Napi::Function::New(env, UnixListen, "unixListen"));
  exports.Set("unixAccept", Napi::Function::New(env, UnixAccept, "unixAccept"));
  exports.Set("unixConnect", Napi::Function::New(env, UnixConnect, "unixConnect"));
  exports.Set("sendFds", Napi::Function::New(env, SendFds, "sendFds"));
  exports.Set("recvFds", Napi::Function::New(env, RecvFds, "recvFds"));
}

}  // namespace shmring
