// The sandbox, in a forked child per case: every forbidden capability is stopped before the kernel runs it and
// reported on stderr with exit code 2, while what a scan needs (reading, threads, writing the report into a file
// opened before) still works.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "picklewall/output_file.hpp"
#include "picklewall/sandbox.hpp"

namespace picklewall {
namespace {

struct ChildOutcome {
  int exit_code = -1;  // -1: killed by a signal
  std::string stderr_text;
};

// Runs `body` in a child that first enters the sandbox and then exits 0 if `body` returned; the parent collects
// the exit code and what the child wrote to stderr.
ChildOutcome run_sandboxed(const std::function<void()>& body) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return {};
  std::fflush(nullptr);
  const pid_t child = ::fork();
  if (child == 0) {
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::close(pipe_fds[0]);
    if (!enter_sandbox()) ::_exit(99);
    body();
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  ChildOutcome outcome;
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) outcome.stderr_text.append(buffer, n);
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
  return outcome;
}

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = std::filesystem::temp_directory_path() /
              ("picklewall-sandbox-" + std::to_string(::getpid()) + "-" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(folder_);
    input_ = folder_ / "input.bin";
    std::ofstream(input_) << "model bytes";
  }
  void TearDown() override { std::filesystem::remove_all(folder_); }

  void expect_stopped(const ChildOutcome& outcome, const std::string& call) {
    EXPECT_EQ(outcome.exit_code, 2) << outcome.stderr_text;
    EXPECT_NE(outcome.stderr_text.find("sandbox: stopped a forbidden system call (" + call + ")"), std::string::npos)
        << outcome.stderr_text;
  }

  std::filesystem::path folder_;
  std::filesystem::path input_;
};

TEST_F(SandboxTest, StartingAProgramIsStopped) {
  const std::string marker = (folder_ / "ran").string();
  const auto outcome = run_sandboxed([&] {
    const std::string command = "touch " + marker;
    const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
    ::execv("/bin/sh", const_cast<char**>(argv));
  });
  expect_stopped(outcome, "execve");
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST_F(SandboxTest, OpeningASocketIsStopped) {
  expect_stopped(run_sandboxed([] { (void)::socket(AF_INET, SOCK_STREAM, 0); }), "socket");
  expect_stopped(run_sandboxed([] { (void)::socket(AF_UNIX, SOCK_STREAM, 0); }), "socket");
}

TEST_F(SandboxTest, OpeningAFileToWriteIsStopped) {
  const std::string created = (folder_ / "created").string();
  expect_stopped(run_sandboxed([&] { (void)::open(created.c_str(), O_WRONLY | O_CREAT, 0644); }), "openat");
  EXPECT_FALSE(std::filesystem::exists(created));
  const std::string input = input_.string();
  expect_stopped(run_sandboxed([&] { (void)::open(input.c_str(), O_RDWR); }), "openat");
  expect_stopped(run_sandboxed([&] { (void)::open(input.c_str(), O_RDONLY | O_TRUNC); }), "openat");
  expect_stopped(run_sandboxed([&] { (void)::open(input.c_str(), O_WRONLY | O_APPEND); }), "openat");
  std::ifstream in(input_);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "model bytes");
}

TEST_F(SandboxTest, ChangingTheFileSystemIsStopped) {
  const std::string input = input_.string();
  const std::string moved = (folder_ / "moved").string();
  expect_stopped(run_sandboxed([&] { (void)::unlink(input.c_str()); }), "unlink");
  expect_stopped(run_sandboxed([&] { (void)::rename(input.c_str(), moved.c_str()); }), "rename");
  expect_stopped(run_sandboxed([&] { (void)::chmod(input.c_str(), 0777); }), "chmod");
  expect_stopped(run_sandboxed([&] { (void)::truncate(input.c_str(), 0); }), "truncate");
  expect_stopped(run_sandboxed([&] { (void)::mkdir(moved.c_str(), 0755); }), "mkdir");
  expect_stopped(run_sandboxed([&] { (void)::symlink(input.c_str(), moved.c_str()); }), "symlink");
  EXPECT_TRUE(std::filesystem::exists(input_));
  EXPECT_FALSE(std::filesystem::exists(moved));
}

TEST_F(SandboxTest, RenamingAndRemovingRelativeToADirectoryAreStopped) {
  // Even from a directory opened before: an absolute path would ignore the directory, and seccomp cannot see it.
  const int directory = ::open(folder_.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(directory, 0);
  const std::string input = input_.string();
  expect_stopped(run_sandboxed([&] { (void)::renameat(directory, input.c_str(), directory, "stolen"); }), "renameat");
  expect_stopped(run_sandboxed([&] { (void)::unlinkat(directory, "input.bin", 0); }), "unlinkat");
  expect_stopped(run_sandboxed([&] { (void)::openat(directory, "new", O_WRONLY | O_CREAT, 0644); }), "openat");
  EXPECT_TRUE(std::filesystem::exists(input_));
  EXPECT_FALSE(std::filesystem::exists(folder_ / "stolen"));
  ::close(directory);
}

TEST_F(SandboxTest, NewProcessesAreStopped) {
  // Sanitizer builds keep clone and ptrace for the leak checker (see seccomp_sandbox.cpp); fork is its own call.
  const auto outcome = run_sandboxed([] { (void)::syscall(SYS_fork); });
  expect_stopped(outcome, "fork");
}

TEST_F(SandboxTest, SignallingOtherProcessesIsStopped) {
  const pid_t parent = ::getpid();  // the test runner, outside the child
  expect_stopped(run_sandboxed([&] { (void)::kill(parent, 0); }), "kill");
  // Signals to itself still arrive: raise() uses tgkill on its own process.
  const auto outcome = run_sandboxed([] { (void)::raise(SIGUSR1); });
  EXPECT_EQ(outcome.exit_code, -1) << outcome.stderr_text;  // died of SIGUSR1, not of the sandbox
  EXPECT_EQ(outcome.stderr_text.find("sandbox"), std::string::npos) << outcome.stderr_text;
}

TEST_F(SandboxTest, WhatAScanNeedsStillWorks) {
  // As the command does for --output: the report file is created first, written by the sandboxed child, and
  // renamed into place by the unsandboxed parent.
  std::filesystem::create_directories(folder_ / "reports");
  auto output = OutputFile::create((folder_ / "reports" / "report.json").string());
  ASSERT_TRUE(output.ok()) << output.error().message;
  const std::string input = input_.string();
  const auto outcome = run_sandboxed([&] {
    const int fd = ::open(input.c_str(), O_RDONLY | O_CLOEXEC);  // reading inputs
    char buffer[16];
    if (fd < 0 || ::read(fd, buffer, sizeof buffer) != 11) ::_exit(10);
    ::close(fd);
    int counted = 0;
    std::thread worker([&] { counted = 1; });  // worker threads
    worker.join();
    if (counted != 1) ::_exit(11);
    if (!output.value().write("{\"files\": []}")) ::_exit(12);  // the report, into the file opened before
    if (std::fprintf(stdout, "report written\n") < 0) ::_exit(13);
    std::fflush(stdout);
  });
  EXPECT_EQ(outcome.exit_code, 0) << outcome.stderr_text;
  ASSERT_TRUE(output.value().commit().ok());
  std::ifstream written(folder_ / "reports" / "report.json");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(written), {}), "{\"files\": []}");
}

}  // namespace
}  // namespace picklewall
